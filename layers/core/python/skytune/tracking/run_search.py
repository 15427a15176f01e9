"""Search and analytics over stored runs: the query language (`tracking.query`) applied to the
runs of the experiments asked for.

Candidates are every run of those experiments (one Query per experiment on gsi1; the run item
carries params, tags and trial names). The Query is projected to the params and tags the query
names; summaries come from the metric store's one read function (`MetricStore.read_summaries`: the
named metrics of a page of runs in BatchGetItems, or every metric of each run), and are decoded only
for the metrics a run is actually asked about; a page shown with every column is then read again in
full, for its runs only: from the experiment index's row items (`skytune.index.rows`, one
BatchGetItem per 100) where it has them, else from the tables. Series (for `.at(step)` and `.window(a, b)`
predicates) are read only for runs that reach such a predicate.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from skytune.errors import InvalidInput, NotFound
from skytune.tracking import query
from skytune.tracking.query import QueryError, RunView
from skytune.tracking.records import ColumnsRequest, GroupByRequest, SearchRequest, TableRequest


class LazySummaries(Mapping):
    """metric -> public summary, decoded from the stored form on first access."""

    __slots__ = ("_stored", "_decoded")

    def __init__(self, stored: Mapping[str, Any]) -> None:
        self._stored = stored
        self._decoded: dict[str, dict] = {}

    def __getitem__(self, metric: str) -> dict:
        decoded = self._decoded.get(metric)
        if decoded is None:
            from skytune.metrics import public_summary

            decoded = self._decoded[metric] = public_summary(self._stored[metric])
        return decoded

    def __iter__(self) -> Iterator[str]:
        return iter(self._stored)

    def __len__(self) -> int:
        return len(self._stored)


def run_view(record: dict[str, Any], store) -> RunView:
    run_id = record["run_id"]

    def load_series(metric: str) -> list[tuple[int, float]]:
        if metric not in record["metric_summaries"]:
            return []
        return [(point["step"], point["value"]) for point in store.series(run_id, metric)]

    return RunView(
        run_id=run_id,
        attributes={
            "name": record["name"], "experiment": record["experiment"], "status": record["status"],
            "trial": record["trials"], "created": record["created_at"], "started": record["start_time"],
            "ended": record["end_time"], "source": record["source"], "parent": record["parent"],
        },
        params=record["params"], tags=record["tags"], metrics=LazySummaries(record["metric_summaries"]),
        series_source=load_series,
    )


def _projection(repo, needs: query.References | None) -> dict[str, frozenset[str]]:
    if needs is None:
        return {}
    series_metrics = frozenset(read.metric for read in needs.series)
    return {"params": needs.params, "tags": needs.tags, "metrics": needs.summary_metrics | series_metrics}


def experiment_names(repo, experiments: list[str] | None) -> list[str]:
    if experiments is None:
        return repo.experiment_names()
    names = list(dict.fromkeys(experiments))
    for name in names:
        if repo.get_experiment(name) is None:
            raise NotFound(f"experiment {name!r} does not exist", field="experiments")
    return names


def candidates(repo, store, experiments: list[str] | None, needs: query.References | None = None) -> Iterator[RunView]:
    """`needs`: what the query reads (None: everything), so the storage reads only that."""
    names = experiment_names(repo, experiments)
    for name in names:
        for record in repo.iter_run_records(name, **_projection(repo, needs)):
            yield run_view(record, store)


def _parsed(parse, text, field: str):
    try:
        return parse(text)
    except QueryError as error:
        raise InvalidInput(f"{field}: {error}", field=field, details=error.to_dict()) from None


def _context(experiments: list[str] | None) -> str:
    return "*" if experiments is None else ",".join(sorted(set(experiments)))


def search(repo, store, request: SearchRequest, index=None) -> tuple[list[dict], list[RunView], str | None]:
    """(rows, their runs, next cursor). Without `columns` a row holds everything the run has
    (attributes, params, the default metric statistics, tags: the runs-table columns).

    `index`: a `skytune.index.IndexStore` to answer from the experiment indexes (the API's path);
    None scans the run items (the reference the indexed path is tested against)."""
    expr = _parsed(query.parse_filter, request.filter, "filter")
    order = _parsed(query.parse_order_by, request.order_by, "order_by")
    columns = _parsed(query.parse_columns, request.columns, "columns")
    needs = query.referenced(expr, order, columns)
    try:
        if index is not None:
            from skytune.index import search as indexed

            loaded = indexed.snapshots(index, experiment_names(repo, request.experiments), store, needs)
            page_runs, next_cursor = indexed.page(loaded, expr, order, request.cursor, request.limit,
                                                  _context(request.experiments))
            result = query.SearchResult(indexed.project(page_runs, columns or [query.Column(query.Attribute("run_id"), "run_id")]),
                                        page_runs, next_cursor)
            if not columns:
                full = indexed.full_runs(index, loaded, page_runs, indexed.rest(
                    loaded, expr, order, request.cursor, _context(request.experiments)))
                if full is not None:
                    return query.runs_table(full), full, next_cursor
        else:
            result = query.search_runs(
                candidates(repo, store, request.experiments, needs), filter=expr, order_by=order,
                columns=columns or None, cursor=request.cursor, limit=request.limit,
                context=_context(request.experiments),
            )
    except QueryError as error:  # only the cursor is left to fail here
        raise InvalidInput(f"cursor: {error}", field="cursor", details=error.to_dict()) from None
    if columns:
        return result.rows, result.runs, result.next_cursor
    # Every column: the page's runs in full, from the index's rows (skytune.index.rows) where it has
    # them, the others from the tables. A run deleted between the two reads drops out of the page.
    run_ids = [run.run_id for run in result.runs]
    records = {} if index is None else index.records(indexed.run_experiments(loaded, result.runs))
    records.update((record["run_id"], record) for record in page_records(repo, [i for i in run_ids if i not in records]))
    runs = [run_view(records[run_id], store) for run_id in run_ids if run_id in records]
    return query.runs_table(runs), runs, result.next_cursor


#: Runs per thread when a page is read from the tables: a run's summaries are one Query each (the
#: metric store's `read_summaries` without names), so a 100-row page was 100 sequential round trips;
#: in slices on the process's kept threads they overlap (same requests, same capacity).
PAGE_SLICE = 10


def page_records(repo, run_ids: list[str]) -> list[dict[str, Any]]:
    """`repo.run_records(run_ids)`, read in slices on threads when the page is long."""
    from skytune.threads import on_threads

    slices = [run_ids[start:start + PAGE_SLICE] for start in range(0, len(run_ids), PAGE_SLICE)]
    return [record for part in on_threads(repo.run_records, slices) for record in part]


def table(repo, store, request: TableRequest, index=None) -> tuple[list[dict], list[str], str | None]:
    """(rows, column keys, next cursor): one page of the runs table."""
    columns = _parsed(query.parse_columns, request.columns, "columns") or None
    metric_stats = _metric_stats(request.metric_stats)
    _rows, runs, next_cursor = search(repo, store, request.model_copy(update={"columns": None}), index)
    shown = columns if columns is not None else query.table_columns(runs, metric_stats)
    rows = query.runs_table(runs, shown)
    return rows, [column.key for column in shown], next_cursor


def _metric_stats(requested: list[str] | None) -> tuple[str, ...]:
    metric_stats = tuple(requested) if requested else query.DEFAULT_METRIC_STATS
    unknown = [stat for stat in metric_stats if stat not in query.SUMMARY_STATS]
    if unknown:
        raise InvalidInput(f"unknown metric statistics {unknown}; expected some of {list(query.SUMMARY_STATS)}",
                           field="metric_stats")
    return metric_stats


def columns(repo, store, request: ColumnsRequest, index=None) -> list[str]:
    """The keys of every column the experiments' runs have: those of `table` without `columns`
    over all their runs, in the same order. From the experiment indexes, this reads only each
    chunk's id group, which lists the chunk's column groups (`p:<param>`, `t:<tag>`, `m:<metric>`):
    no run is read, so a page can name its columns (and be answered from the index) before it
    has seen a row. Without an index, every run is read in full."""
    metric_stats = _metric_stats(request.metric_stats)
    names = experiment_names(repo, request.experiments)
    if index is None:
        shown = query.table_columns(candidates(repo, store, names), metric_stats)
    else:
        found: dict[str, set[str]] = {"p": set(), "t": set(), "m": set()}
        for name in names:
            for chunk in index.snapshot(name, frozenset({"a"})).chunks:
                for group in chunk.present:
                    kind, _, field = group.partition(":")
                    if kind in found:
                        found[kind].add(field)
        shown = query.columns_of(found["p"], found["m"], found["t"], metric_stats)
    return [column.key for column in shown]


def group_by(repo, store, request: GroupByRequest, index=None) -> list[dict]:
    expr = _parsed(query.parse_filter, request.filter, "filter")
    keys = _parsed(query.parse_columns, request.group_by, "group_by")
    aggregates = _parsed(query.parse_aggregates, request.aggregates, "aggregates")
    matches = expr.compile()
    needs = query.referenced(expr, keys, aggregates)
    if index is not None:
        from skytune.index import search as indexed

        pool = indexed.candidates(indexed.snapshots(index, experiment_names(repo, request.experiments), store, needs))
    else:
        pool = candidates(repo, store, request.experiments, needs)
    runs = (run for run in pool if matches(run))
    try:
        return query.group_by(runs, keys, aggregates)
    except QueryError as error:
        raise InvalidInput(f"group_by: {error}", field="group_by", details=error.to_dict()) from None
