"""Runs: CRUD, nested runs, batch logging, metric series."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from skytune import limits
from skytune.tracking import limits as tracking_limits
from skytune.tracking import runs
from skytune.tracking.records import (LogBatch, LogBatchResult, Run, RunInput, RunUpdate, Series, SeriesBatch,
                                      SeriesBatchRequest, SeriesPoint)
from skytune_api.context import repository
from skytune_api.routes._common import errors, metric_store
from skytune_api.routes._params import ExperimentName, MetricName, RunId, metric_name

router = APIGatewayHttpRouter()



class RunPage(BaseModel):
    runs: list[Run]
    next_cursor: str | None = None


class RunList(BaseModel):
    runs: list[Run]


class RunDeleted(BaseModel):
    run_id: str
    runs_deleted: int


@router.post("/runs", summary="Create a run (a retry with the same body answers the same run)", tags=["runs"],
             responses=errors(400, 404, 409, 413, 415, s201={"description": "Created"}))
def create_run(body: RunInput) -> tuple[Run, int]:
    return runs.create_run(repository(), body), 201


@router.get("/runs/<run_id>", summary="Get a run with its metric summaries", tags=["runs"], responses=errors(400, 404))
def get_run(run_id: RunId) -> Run:
    return runs.get_run(repository(), run_id)


@router.patch("/runs/<run_id>", summary="Update a run (name, status, times, source, tags merge patch, artifacts)",
              tags=["runs"], responses=errors(400, 404, 409, 413, 415))
def update_run(run_id: RunId, body: RunUpdate) -> Run:
    return runs.update_run(repository(), run_id, body)


@router.delete("/runs/<run_id>", summary="Delete a run (409 while it has child runs, unless cascade=true)",
               tags=["runs"], responses=errors(400, 404, 409))
def delete_run(run_id: RunId, cascade: Annotated[bool, Query()] = False) -> RunDeleted:
    deleted = runs.delete_run(repository(), run_id, cascade=cascade)
    return RunDeleted(run_id=run_id, runs_deleted=deleted)


@router.get("/experiments/<experiment>/runs", summary="List the runs of an experiment (oldest first)", tags=["runs"],
            responses=errors(400, 404))
def list_runs(
    experiment: ExperimentName,
    limit: Annotated[int, Query(ge=1, le=limits.PAGE_SIZE_MAX)] = 100,
    cursor: Annotated[str | None, Query()] = None,
) -> RunPage:
    items, next_cursor = runs.list_runs(repository(), experiment, limit, cursor)
    return RunPage(runs=items, next_cursor=next_cursor)


@router.get("/runs/<run_id>/children", summary="List the child runs of a run", tags=["runs"], responses=errors(400, 404))
def list_children(run_id: RunId) -> RunList:
    return RunList(runs=runs.list_children(repository(), run_id))


@router.post("/runs/<run_id>/log-batch",
             summary=f"Log up to {tracking_limits.BATCH_METRICS_MAX} metric points, {tracking_limits.BATCH_PARAMS_MAX} "
                     f"params and {tracking_limits.BATCH_TAGS_MAX} tags (at most {tracking_limits.BATCH_BODY_MAX_BYTES} bytes)",
             description="Idempotent: a retried batch changes nothing (params are write-once). Without an "
                         "`Idempotency-Key` header a retry is recognised when it repeats the request's points exactly; "
                         "with one, every point is identified by run, metric, step and timestamp, and a point the run "
                         "already holds is skipped whatever request brought it (a point without a step: by metric and "
                         "timestamp). NaN and infinity are refused with 400.",
             tags=["runs"], responses=errors(400, 404, 409, 413, 415))
def log_batch(run_id: RunId, body: LogBatch,
              idempotency_key: Annotated[str | None, Header(alias="idempotency-key", max_length=255)] = None) -> LogBatchResult:
    runs.check_body_size(router.current_event.decoded_body if router.current_event.body else None)
    return runs.log_batch(repository(), metric_store(), run_id, body, identify=idempotency_key is not None)


@router.get("/runs/<run_id>/metrics/<metric>",
            summary="Read a metric series in a step window, optionally downsampled keeping minima and maxima",
            tags=["runs"], responses=errors(400, 404))
def read_series(
    run_id: RunId,
    metric: MetricName,
    min_step: Annotated[int | None, Query(ge=0)] = None,
    max_step: Annotated[int | None, Query(ge=0)] = None,
    max_points: Annotated[int | None, Query(ge=2, le=tracking_limits.SERIES_MAX_POINTS)] = None,
) -> Series:
    metric = metric_name(metric)  # "train%2Floss" is how a client sends the metric "train/loss"
    points = runs.read_series(repository(), metric_store(), run_id, metric, min_step, max_step, max_points)
    return Series(run_id=run_id, metric=metric, points=[SeriesPoint(**point) for point in points])


@router.post("/analytics/series",
             summary=f"Read many metric series in one request (up to {tracking_limits.SERIES_BATCH_MAX} run x metric "
                     f"pairs), each downsampled to max_points",
             description="The batch form of `GET /v1/runs/{run_id}/metrics/{metric}` for charts of many runs: every "
                         "metric of `metrics` for every run of `runs`, in the same step window, each series downsampled "
                         "as that route does (M4: per step bucket the first, minimum, maximum and last point), as "
                         "columns. Pairs the store does not hold (an unknown run, a metric the run has not logged) are "
                         f"listed in `missing`, not an error. At most {tracking_limits.SERIES_BATCH_POINTS_MAX} points "
                         "in one answer (series x max_points): 400 naming `max_points` past it.",
             tags=["analytics"], responses=errors(400, 415))
def read_series_batch(body: SeriesBatchRequest) -> SeriesBatch:
    return runs.read_series_batch(metric_store(), body)
