"""Run use cases: create, get, list, update, delete, batch logging, series reads.

- Run ids are ULIDs chosen by the server; (experiment, name) is unique: a taken name is 409,
  unless the create carries the `client_token` the existing run was created with (a client
  retry), which answers that run.
- Nested runs: `parent` is a run of the same experiment.
- Cascade rule: deleting a run that has child runs is a 409 unless `cascade=True`, which deletes
  the children (recursively) first. A deleted run takes its metric series, trial memberships,
  artifact links and name with it.
- Params are typed (number, string, bool) and write-once: logging the same value again is a no-op,
  a different value is a 409 naming the param.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from skytune.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from skytune import limits as general_limits
from skytune.tracking import limits
from skytune.tracking._checks import checked
from skytune.tracking.experiments import get_experiment
from skytune.tracking.ids import new_ulid
from skytune.tracking.records import (LogBatch, LogBatchResult, Run, RunInput, RunStatus, RunUpdate, SeriesBatch,
                                      SeriesBatchRequest, validate_keyed_tags)

_checked_run_tags = checked(validate_keyed_tags, "tags")
_TERMINAL = {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.STOPPED}


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def create_run(repo, request: RunInput, now: datetime | None = None, new_id: Callable[[], str] = new_ulid) -> Run:
    now = _now(now)
    run_id = new_id()
    if request.parent is not None:
        parent = repo.get_run(request.parent, consistent=True)
        if parent is None:
            raise NotFound(f"parent run {request.parent!r} does not exist", field="parent")
        if parent.experiment != request.experiment:
            raise InvalidInput(f"parent run {request.parent!r} belongs to experiment {parent.experiment!r}; "
                               "a child run lives in its parent's experiment", field="parent")
    start_time = request.start_time or (now if request.status is RunStatus.IN_PROGRESS else None)
    run = Run(
        **request.model_dump(exclude={"name", "start_time", "trials"}),
        run_id=run_id, name=request.name or run_id, trials=sorted(request.trials), start_time=start_time,
        created_at=now, updated_at=now,
    )
    holder = repo.insert_run(run)
    if holder is None:
        return run
    existing = repo.get_run(holder, consistent=True)
    if existing is not None and request.client_token is not None and existing.client_token == request.client_token:
        return existing
    raise Conflict(f"experiment {request.experiment!r} already has a run named {run.name!r}", field="name",
                   details={"run_id": holder})


def get_run(repo, run_id: str) -> Run:
    run = repo.get_run(run_id)
    if run is None:
        raise NotFound(f"run {run_id!r} does not exist", field="run_id")
    return run


def list_runs(repo, experiment: str, limit: int, cursor: str | None) -> tuple[list[Run], str | None]:
    get_experiment(repo, experiment)
    return repo.list_runs(experiment, limit, cursor)


def list_children(repo, run_id: str) -> list[Run]:
    get_run(repo, run_id)
    return repo.get_runs(repo.child_run_ids(run_id))


def update_run(repo, run_id: str, update: RunUpdate, now: datetime | None = None) -> Run:
    now = _now(now)
    changes = {field: getattr(update, field) for field in update.model_fields_set if field != "tags"}
    for required in ("name", "status", "inputs", "outputs"):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"{required} cannot be null", field=required)
    if changes.get("status") in _TERMINAL and "end_time" not in changes:
        current = get_run(repo, run_id)
        if current.end_time is None:
            changes["end_time"] = now  # finishing a run stamps its end unless the caller says when
    return repo.update_run(run_id, changes, update.tags, now, _checked_run_tags)


def delete_run(repo, run_id: str, cascade: bool = False, missing_ok: bool = False) -> int:
    """Returns how many runs were deleted (the run and its descendants)."""
    run = repo.get_run(run_id, consistent=True)
    if run is None:
        if missing_ok:
            return 0
        raise NotFound(f"run {run_id!r} does not exist", field="run_id")
    children = repo.child_run_ids(run_id)
    if children and not cascade:
        raise Conflict(f"run {run_id!r} has {len(children)} child run(s); delete them first or pass cascade=true",
                       field="cascade", details={"children": children[:100]})
    deleted = 0
    for child in children:
        deleted += delete_run(repo, child, cascade=True, missing_ok=True)
    repo.delete_metric_series(run_id, list(run.metrics))
    if repo.delete_run_items(run_id):
        deleted += 1
    return deleted


# -- batch logging ----------------------------------------------------------------------------
def check_body_size(raw_body: str | bytes | None) -> None:
    """The log-batch size limit applies to the raw request body, before any parsing."""
    size = len(raw_body.encode() if isinstance(raw_body, str) else raw_body or b"")
    if size > limits.BATCH_BODY_MAX_BYTES:
        raise PayloadTooLarge(
            f"the request body is {size} bytes; a log-batch request carries at most {limits.BATCH_BODY_MAX_BYTES} bytes",
            field="body", details={"limit": "BATCH_BODY_MAX_BYTES", "max_bytes": limits.BATCH_BODY_MAX_BYTES},
        )


def log_batch(repo, store, run_id: str, batch: LogBatch, now: datetime | None = None,
              identify: bool = False) -> LogBatchResult:
    """Params and tags first (their conflicts are found before anything is written), then the
    metric points (the metric store writes them in transactions of up to 90 metrics). Everything was validated before
    this point (pydantic), so a 4xx never leaves part of a batch behind; a retried batch is
    idempotent: same params/tags are no-ops and the store recognises points it already holds."""
    from skytune.metrics import MetricPoint

    now = _now(now)
    repo.log_params_and_tags(run_id, batch.params, batch.tags, now, general_limits.TAGS_PER_ENTITY)
    now_ms = int(now.timestamp() * 1000)
    points = [MetricPoint(p.name, p.value, p.step, p.timestamp if p.timestamp is not None else now_ms) for p in batch.metrics]
    written = store.write(run_id, points, identify=identify) if points else None
    return LogBatchResult(
        metrics_written=written.written if written else 0,
        metrics_duplicates=written.duplicates if written else 0,
        params_written=len(batch.params), tags_written=len(batch.tags),
    )


def read_series(repo, store, run_id: str, metric: str, min_step: int | None, max_step: int | None,
                max_points: int | None) -> list[dict]:
    run = get_run(repo, run_id)
    if metric not in run.metrics:
        raise NotFound(f"run {run_id!r} has no metric {metric!r}", field="metric")
    if min_step is not None and max_step is not None and min_step > max_step:
        raise InvalidInput("min_step must not exceed max_step", field="min_step")
    return store.series(run_id, metric, min_step=min_step, max_step=max_step, max_points=max_points)


SERIES_READ_THREADS = 8  # concurrent series reads of one batch read (DynamoDB queries in flight)


def read_series_batch(store, request: SeriesBatchRequest) -> SeriesBatch:
    """Every (run, metric) series of `request` in one call: which pairs exist from one batched read of
    the summaries (a run has a summary per logged metric; a deleted run has none), then the series
    read concurrently (each is one or two DynamoDB queries: I/O the threads overlap), or cut from the
    container's decoded copy when the summary's point count says it is current (metrics.series_cache)."""
    from skytune.threads import on_threads
    from skytune.tracking.records import SeriesColumns, SeriesRef

    pairs = [(run_id, metric) for run_id in request.runs for metric in request.metrics]
    if len(pairs) > limits.SERIES_BATCH_MAX:
        raise InvalidInput(f"{len(request.runs)} runs x {len(request.metrics)} metrics is {len(pairs)} series; "
                           f"one read takes at most {limits.SERIES_BATCH_MAX}", field="runs",
                           details={"limit": "SERIES_BATCH_MAX", "max": limits.SERIES_BATCH_MAX})
    if len(pairs) * request.max_points > limits.SERIES_BATCH_POINTS_MAX:
        raise InvalidInput(f"{len(pairs)} series x max_points {request.max_points} exceeds "
                           f"{limits.SERIES_BATCH_POINTS_MAX} points in one read", field="max_points",
                           details={"limit": "SERIES_BATCH_POINTS_MAX", "max": limits.SERIES_BATCH_POINTS_MAX})
    if request.min_step is not None and request.max_step is not None and request.min_step > request.max_step:
        raise InvalidInput("min_step must not exceed max_step", field="min_step")
    held = store.read_summaries(request.runs, request.metrics)
    present = [(r, m) for r, m in pairs if m in held.get(r, {})]

    def read(pair: tuple[str, str]) -> SeriesColumns:
        # the summary's point count lets the store keep the decoded series for the next look (a zoom)
        steps, stamps, values = store.series_columns(pair[0], pair[1], min_step=request.min_step, max_step=request.max_step,
                                                     max_points=request.max_points, count=held[pair[0]][pair[1]].get("count"))
        return SeriesColumns(run_id=pair[0], metric=pair[1], steps=steps, timestamps_ms=stamps, values=values)

    series = on_threads(read, present, threads=SERIES_READ_THREADS)
    absent = set(pairs) - set(present)
    return SeriesBatch(series=series, missing=[SeriesRef(run_id=r, metric=m) for r, m in pairs if (r, m) in absent])
