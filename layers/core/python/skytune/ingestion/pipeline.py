"""Ingestion use cases: decoded AWS payloads in, metric points written exactly once."""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field

from skytune.ingestion.cloudwatch_logs import LogBatch, sagemaker_training_job_from_stream
from skytune.ingestion.metric_definitions import ExtractionStats, extract_points
from skytune.ingestion.metric_stream import StreamDatapoint, sagemaker_training_job_from_dimensions
from skytune.ingestion.sources import TuningTrial, log_source_for, run_for_dimensions, sagemaker_run_id
from skytune.metrics import MetricPoint, MetricStore, WriteResult

log = logging.getLogger(__name__)

# Besides the average (the point value), a metric-stream datapoint's other statistics are kept as
# sibling series, so nothing CloudWatch sent is lost: `CPUUtilization`, `CPUUtilization:max`, ...
STREAM_STATISTICS = ("max", "min", "sum", "count")


class RunNotReady(Exception):
    """Data for a SageMaker job whose run the state-change event has not created yet: retry later."""


class DeliveryIncomplete(Exception):
    """The delivery's time budget ran out: what was matched is stored, the rest must be retried
    (its retry starts at the first event not processed)."""


@dataclass
class LogIngestResult:
    run_id: str | None
    points: int = 0
    duplicates: int = 0
    stats: ExtractionStats = field(default_factory=ExtractionStats)
    tuning: TuningTrial | None = None
    new_points: list[MetricPoint] = field(default_factory=list)  # written by this delivery (not duplicates)
    unprocessed: int = 0  # events left for the retry (time budget ran out)


def delivery_key(batch: LogBatch) -> str:
    """Identifies a delivery (its stream and events), so its retry can resume where it stopped."""
    ids = [event.id for event in batch.events]
    return hashlib.sha256(json.dumps([batch.log_group, batch.log_stream, ids]).encode()).hexdigest()[:40]


def ingest_log_batch(batch: LogBatch, store: MetricStore, deadline: float | None = None,
                     clock=time.monotonic) -> LogIngestResult:
    """`deadline` (a `clock()` value): the time budget for matching. Past it, the points found so far
    are stored, the delivery's progress is recorded, and `result.unprocessed` > 0: the caller fails
    the invocation so the delivery is retried, and the retry starts at the first event not reached."""
    source = log_source_for(batch.log_group, batch.log_stream)
    if source is None:
        job = sagemaker_training_job_from_stream(batch.log_group, batch.log_stream)
        if job is not None:
            raise RunNotReady(f"no run registered yet for training job {job}")
        return LogIngestResult(run_id=None)  # a stream nobody registered: nothing to scrape
    result = LogIngestResult(run_id=source.run_id, tuning=source.tuning)
    key = delivery_key(batch) if deadline is not None else None
    start = store.delivery_progress(key) if key is not None else 0
    parsed = extract_points(source.compiled(), batch.events[start:], stats=result.stats, deadline=deadline, clock=clock)
    result.unprocessed = result.stats.unprocessed
    # Step-less points are numbered by occurrence: give them to the store in log order.
    parsed.sort(key=lambda p: p.order_key)
    # A point's identity is its log event and its definition (the metric) plus which match in the
    # event it is: the store drops it if any earlier delivery, however batched, brought it.
    points = [MetricPoint(p.metric, p.value, p.step, p.timestamp_ms, source_id=f"{p.event_id}#{p.ordinal}") for p in parsed]
    if points:
        written = store.write(source.run_id, points)
        result.points, result.duplicates = written.written, written.duplicates
        result.new_points = written.stored
    if result.unprocessed:
        store.save_delivery_progress(key, source.run_id, len(batch.events) - result.unprocessed)
    return result


def stream_points(datapoint: StreamDatapoint) -> list[MetricPoint]:
    """Metric points of one datapoint: its average, and max/min/sum/count as sibling series.
    The step is the period start in epoch seconds, so re-sent records land on the same step."""
    step = datapoint.timestamp_ms // 1000
    # Identity: namespace, dimensions and timestamp (the metric and statistic are the series name),
    # so a datapoint re-sent in another record or invocation is stored once.
    source_id = json.dumps([datapoint.namespace, sorted(datapoint.dimensions.items()), datapoint.timestamp_ms],
                           separators=(",", ":"))
    points = []
    if datapoint.average is not None:
        points.append(MetricPoint(datapoint.metric_name, datapoint.average, step, datapoint.timestamp_ms, source_id))
    for statistic in STREAM_STATISTICS:
        value = getattr(datapoint, statistic)
        if value is not None:
            points.append(MetricPoint(f"{datapoint.metric_name}:{statistic}", float(value), step, datapoint.timestamp_ms,
                                      source_id))
    return points


def run_for_datapoint(datapoint: StreamDatapoint) -> str | None:
    job = sagemaker_training_job_from_dimensions(datapoint.dimensions)
    if job is not None:
        return sagemaker_run_id(job)
    return run_for_dimensions(datapoint.namespace, datapoint.dimensions)


def ingest_stream_records(records: dict[str, list[StreamDatapoint]], store: MetricStore) -> dict[str, str]:
    """Write the datapoints of all records of one Firehose invocation, one metric-store write per run
    (so a run's series get one segment per invocation, not one per record). Returns each record's
    outcome: "Ok" (stored), "Dropped" (nothing in it belongs to a run) or "ProcessingFailed" (a write
    it contributed to failed; a replay is harmless, the store skips what it already has)."""
    by_run: dict[str, list[MetricPoint]] = {}
    contributors: dict[str, set[str]] = {}
    for record_id, datapoints in records.items():
        for datapoint in datapoints:
            run_id = run_for_datapoint(datapoint)
            if run_id is not None:
                by_run.setdefault(run_id, []).extend(stream_points(datapoint))
                contributors.setdefault(run_id, set()).add(record_id)
    failed: set[str] = set()
    for run_id, points in by_run.items():
        try:
            store.write(run_id, points)
        except Exception:  # noqa: BLE001 - reported per record; the caller logs it
            log.exception("metric-stream write for run %s failed", run_id)
            failed |= contributors[run_id]
    stored = set().union(*contributors.values()) if contributors else set()
    return {rid: "ProcessingFailed" if rid in failed else "Ok" if rid in stored else "Dropped" for rid in records}
