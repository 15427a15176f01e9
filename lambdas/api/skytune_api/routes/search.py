"""Run search and analytics (the language: docs/search.md)."""
from __future__ import annotations

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from skytune.tracking import query, run_search
from skytune.tracking.records import (ColumnsRequest, ColumnsResult, GroupByRequest, GroupByResult, SearchPage,
                                      SearchRequest, TableRequest)
from pydantic import BaseModel, Field

from skytune.errors import NotFound
from skytune_api.context import index, repository
from skytune_api.routes._common import errors, metric_store

router = APIGatewayHttpRouter()


class TablePage(SearchPage):
    columns: list[str]


@router.post("/runs/search",
             summary="Search runs of one, several or all experiments: filter, sort, project, cursor pagination",
             description="Parse errors answer 400 with `error.details.position` and `error.details.expected`. "
                         "Runs without a sort key's value (e.g. an unknown metric) sort last.",
             tags=["search"], responses=errors(400, 404, 415))
def search_runs(body: SearchRequest) -> SearchPage:
    rows, _runs, next_cursor = run_search.search(repository(), metric_store(), body, index())
    return SearchPage(rows=rows, next_cursor=next_cursor)


@router.post("/analytics/table", summary="A table of runs (with trial names) as JSON or CSV, one page per call",
             description="`format: csv` answers text/csv with the next cursor in the `x-next-cursor` header. "
                         "`column_names: sagemaker` and `datetimes: iso8601` give the frame of SageMaker's "
                         "ExperimentAnalytics.",
             tags=["analytics"],
             responses=errors(400, 404, 415, s200={"description": "The table", "content": {
                 "application/json": {"model": TablePage}, "text/csv": {"schema": {"type": "string"}}}}))
def runs_table(body: TableRequest):  # noqa: ANN201 - no annotation: two media types, documented in `responses`
    rows, columns, next_cursor = run_search.table(repository(), metric_store(), body, index())
    if body.column_names != "skytune" or body.datetimes != "epoch_ms":
        rows, columns = query.analytics.shape_table(rows, columns, naming=body.column_names, datetimes=body.datetimes)
    if body.format == "csv":
        headers = {"x-next-cursor": next_cursor} if next_cursor else {}
        return Response(status_code=200, content_type="text/csv; charset=utf-8", body=query.to_csv(rows, columns),
                        headers=headers)
    page = TablePage(rows=rows, columns=columns, next_cursor=next_cursor)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=page.model_dump_json())


@router.post("/analytics/columns",
             summary="The columns of the experiments' runs (what a search row without `columns` may hold)",
             description="Attributes, then every param, metric statistic and tag any of the runs has, in the "
                         "order of a full search row. Answered from the experiment indexes without reading "
                         "runs, so a client can name the columns of its first search (and have that search "
                         "answered from the index too) instead of asking for full rows to learn them.",
             tags=["analytics"], responses=errors(400, 404, 415))
def run_columns(body: ColumnsRequest) -> ColumnsResult:
    return ColumnsResult(columns=run_search.columns(repository(), metric_store(), body, index()))


@router.post("/analytics/group-by",
             summary="Group runs by fields and aggregate (count, mean, std, median, min, max, sum)",
             tags=["analytics"], responses=errors(400, 404, 415))
def group_by(body: GroupByRequest) -> GroupByResult:
    return GroupByResult(groups=run_search.group_by(repository(), metric_store(), body, index()))




class ReindexRequest(BaseModel):
    experiments: list[str] | None = Field(default=None, max_length=100,
                                          description="Experiments to rebuild; absent: every experiment")


class ReindexedExperiment(BaseModel):
    experiment: str
    runs: int


class ReindexResult(BaseModel):
    rebuilt: list[ReindexedExperiment]


@router.post("/index/rebuild", summary="Rebuild experiment indexes from the tracking table",
             description="Search reads a per-experiment index kept up to date from the tables' streams "
                         "(docs/tracking.md); this rebuilds it from the run items, e.g. after a consumer outage.",
             tags=["search"], responses=errors(400, 404, 415))
def rebuild_index(body: ReindexRequest) -> ReindexResult:
    store, repo = index(), repository()
    names = run_search.experiment_names(repo, body.experiments)
    if store is None:
        raise NotFound("this deployment has no experiment index", field="experiments")
    return ReindexResult(rebuilt=[ReindexedExperiment(experiment=name, runs=store.rebuild(name).upserted)
                                  for name in names])
