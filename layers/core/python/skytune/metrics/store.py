"""The metric store: points in compact segments, summaries on the run item, both written atomically.

Exactly once: a batch's points for one metric become one *segment* whose id is a hash of its content.
The segment and the run's updated summaries are written in one DynamoDB transaction, the segment on
the condition that it does not exist yet and the summaries on the condition that nobody changed them
since we read them. So a redelivered batch is recognised (its segment exists) and changes nothing,
a crash leaves either everything or nothing, and concurrent writers retry on fresh summaries.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Iterable

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from skytune.errors import InvalidInput, NotFound
from skytune.metrics.downsample import downsample
from skytune.metrics.encoding import pack, pack_many, unpack, unpack_many
from skytune.metrics.items import MetricSegmentItem, RunMetricsItem
from skytune.metrics.summary import MAX_ABS_VALUE, Summary

log = logging.getLogger(__name__)

# One transaction holds at most 100 items (99 segments + the run item) and 4 MB; a segment item at most 400 KB.
_SEGMENTS_PER_TRANSACTION = 99
POINTS_PER_SEGMENT = 10_000
OWN_SEGMENT_MIN_POINTS = 100
_RETRYABLE_CODES = {"ThrottlingError", "TransactionConflict", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}


@dataclass(frozen=True)
class MetricPoint:
    metric: str
    value: float
    step: int | None
    timestamp_ms: int


@dataclass
class WriteResult:
    written: int = 0
    duplicates: int = 0
    stored: list[MetricPoint] = field(default_factory=list)  # the points written now, with their steps

    def __iadd__(self, other: "WriteResult") -> "WriteResult":
        self.written += other.written
        self.duplicates += other.duplicates
        self.stored += other.stored
        return self


@dataclass
class _Segment:
    """The points one item stores: one metric's, or (shared) several metrics' with few points each."""

    segment_id: str
    series: dict[str, list[MetricPoint]]
    shared: bool = False

    @property
    def size(self) -> int:
        return sum(len(points) for points in self.series.values())


METRIC_NAME_MAX_LENGTH = 255


def validate_points(points: list[MetricPoint], field: str = "points") -> None:
    """Reject the whole batch, naming the first bad field, before anything is written."""
    for i, point in enumerate(points):
        where = f"{field}[{i}]"
        if not isinstance(point.metric, str) or not 0 < len(point.metric) <= METRIC_NAME_MAX_LENGTH:
            raise InvalidInput(f"metric name must be 1-{METRIC_NAME_MAX_LENGTH} characters", field=f"{where}.metric")
        if isinstance(point.value, bool) or not isinstance(point.value, (int, float)):
            raise InvalidInput("value must be a number", field=f"{where}.value")
        if not math.isfinite(point.value) or abs(point.value) > MAX_ABS_VALUE:
            raise InvalidInput(f"value must be finite and at most {MAX_ABS_VALUE:g} in magnitude (NaN and infinity are rejected)", field=f"{where}.value")
        if point.step is not None and (isinstance(point.step, bool) or not isinstance(point.step, int) or point.step < 0):
            raise InvalidInput("step must be a non-negative integer", field=f"{where}.step")
        if isinstance(point.timestamp_ms, bool) or not isinstance(point.timestamp_ms, int) or point.timestamp_ms < 0:
            raise InvalidInput("timestamp must be non-negative epoch milliseconds", field=f"{where}.timestamp_ms")


def segment_id(run_id: str, series: dict[str, list[MetricPoint]]) -> str:
    """Content address of a batch's points (in the order given: that order assigns the steps of
    points that have none)."""
    content = json.dumps([run_id, [[metric, [(p.step, p.timestamp_ms, repr(float(p.value))) for p in points]]
                                   for metric, points in series.items()]])
    return hashlib.sha256(content.encode()).hexdigest()[:32]


def _segments(run_id: str, points: Iterable[MetricPoint]) -> list[_Segment]:
    """One item per metric with many points in the batch; the metrics with few points share one item,
    because every item costs at least one write unit however small it is."""
    by_metric: OrderedDict[str, list[MetricPoint]] = OrderedDict()
    for point in points:
        by_metric.setdefault(point.metric, []).append(point)
    segments, shared = [], OrderedDict()
    for metric, metric_points in by_metric.items():
        if len(metric_points) < OWN_SEGMENT_MIN_POINTS:
            shared[metric] = metric_points
            continue
        for start in range(0, len(metric_points), POINTS_PER_SEGMENT):
            series = {metric: metric_points[start:start + POINTS_PER_SEGMENT]}
            segments.append(_Segment(segment_id(run_id, series), series))
    chunk: OrderedDict[str, list[MetricPoint]] = OrderedDict()
    for metric, metric_points in shared.items():
        if sum(map(len, chunk.values())) + len(metric_points) > POINTS_PER_SEGMENT:
            segments.append(_Segment(segment_id(run_id, chunk), chunk, shared=True))
            chunk = OrderedDict()
        chunk[metric] = metric_points
    if chunk:
        segments.append(_Segment(segment_id(run_id, chunk), chunk, shared=True))
    return segments


class MetricStore:
    def __init__(self, max_attempts: int = 15, sleep: Callable[[float], None] = time.sleep, seed: int | None = None) -> None:
        self.max_attempts = max_attempts
        self.sleep = sleep
        self.random = random.Random(seed)
        self._transactions: Connection | None = None

    def _connection(self) -> Connection:
        if self._transactions is None:
            self._transactions = Connection(region=RunMetricsItem.Meta.region)
        return self._transactions

    # -- writes ------------------------------------------------------------------------------
    def write(self, run_id: str, points: Iterable[MetricPoint]) -> WriteResult:
        points = list(points)
        validate_points(points)
        segments = _segments(run_id, points)
        result = WriteResult()
        for start in range(0, len(segments), _SEGMENTS_PER_TRANSACTION):
            result += self._write_transaction(run_id, segments[start:start + _SEGMENTS_PER_TRANSACTION])
        return result

    def _write_transaction(self, run_id: str, segments: list[_Segment]) -> WriteResult:
        duplicates: set[str] = set()
        for attempt in range(self.max_attempts):
            pending = [s for s in segments if s.segment_id not in duplicates]
            if not pending:
                break
            try:
                stored = self._transact(run_id, pending)
                return WriteResult(written=sum(s.size for s in pending),
                                   duplicates=sum(s.size for s in segments if s.segment_id in duplicates), stored=stored)
            except TransactWriteError as error:
                reasons = [getattr(r, "code", None) for r in (error.cancellation_reasons or [])]
                for segment, code in zip(pending, reasons):
                    if code == "ConditionalCheckFailed":
                        duplicates.add(segment.segment_id)  # stored by an earlier delivery
                if not reasons and error.cause_response_code not in _RETRYABLE_CODES | {"TransactionCanceledException", "TransactionInProgressException"}:
                    raise
                # run-item version changed, throttled or conflicting: back off and retry on fresh state
                self.sleep(min(2.0, 0.01 * 2 ** attempt) * (0.5 + self.random.random()))
        else:
            raise RuntimeError(f"metric write for run {run_id} did not settle after {self.max_attempts} attempts")
        return WriteResult(written=0, duplicates=sum(s.size for s in segments))

    def _transact(self, run_id: str, segments: list[_Segment]) -> list[MetricPoint]:
        try:
            run = RunMetricsItem.get(*RunMetricsItem.key(run_id), consistent_read=True)
        except RunMetricsItem.DoesNotExist:
            raise NotFound(f"run {run_id!r} does not exist", field="run_id") from None
        stored = run.metric_summaries.as_dict() if hasattr(run.metric_summaries, "as_dict") else dict(run.metric_summaries or {})
        version = int(run.metrics_version or 0)
        summaries = {m: Summary.from_json(s) for m, s in stored.items()}

        items, touched, stored_points = [], {}, []
        for segment in segments:
            stored_series = {}
            for metric, points in segment.series.items():
                summary = Summary.from_json((touched.get(metric) or summaries.get(metric) or Summary()).to_json())
                stepped = []
                for point in points:
                    step = point.step if point.step is not None else summary.next_step
                    summary.add(point.value, step, point.timestamp_ms)
                    stepped.append((step, point.timestamp_ms, point.value))
                touched[metric] = summary
                stored_series[metric] = stepped
                stored_points.append((metric, stepped))
            steps = [p[0] for stepped in stored_series.values() for p in stepped]
            if segment.shared:
                item = MetricSegmentItem(MetricSegmentItem.shared_partition(run_id), f"SEG#{segment.segment_id}",
                                         metrics=set(stored_series), points=pack_many(stored_series))
            else:
                (metric, stepped), = stored_series.items()
                item = MetricSegmentItem(MetricSegmentItem.partition(run_id, metric), f"SEG#{segment.segment_id}",
                                         points=pack(stepped))
            item.count, item.min_step, item.max_step = len(steps), min(steps), max(steps)
            items.append(item)

        if run.metric_summaries is None or "metric_summaries" not in run.attribute_values:
            actions = [RunMetricsItem.metric_summaries.set({m: s.to_json() for m, s in touched.items()})]
        else:
            actions = [RunMetricsItem.metric_summaries[m].set(s.to_json()) for m, s in touched.items()]
        actions.append(RunMetricsItem.metrics_version.set(version + 1))
        unchanged = RunMetricsItem.metrics_version == version
        if version == 0:
            unchanged = unchanged | RunMetricsItem.metrics_version.does_not_exist()

        with TransactWrite(connection=self._connection()) as transaction:
            for item in items:
                transaction.save(item, condition=MetricSegmentItem.pk.does_not_exist())
            transaction.update(run, actions=actions, condition=unchanged & RunMetricsItem.pk.exists())
        return [MetricPoint(metric, value, step, timestamp) for metric, stepped in stored_points
                for step, timestamp, value in stepped]

    # -- reads -------------------------------------------------------------------------------
    def series(self, run_id: str, metric: str, min_step: int | None = None, max_step: int | None = None,
               max_points: int | None = None) -> list[dict]:
        if min_step is not None and max_step is not None and min_step > max_step:
            raise InvalidInput("min_step must not exceed max_step", field="min_step")
        def in_window(segment) -> bool:
            return not ((min_step is not None and segment.max_step < min_step) or (max_step is not None and segment.min_step > max_step))

        candidates: list[tuple[int, int, float]] = []
        for segment in MetricSegmentItem.query(MetricSegmentItem.partition(run_id, metric)):
            if in_window(segment):
                candidates.extend(unpack(segment.points))
        for segment in MetricSegmentItem.query(MetricSegmentItem.shared_partition(run_id),
                                               filter_condition=MetricSegmentItem.metrics.contains(metric)):
            if in_window(segment):
                candidates.extend(unpack_many(segment.points).get(metric, []))
        points = [p for p in candidates if (min_step is None or p[0] >= min_step) and (max_step is None or p[0] <= max_step)]
        points.sort()
        if max_points is not None:
            points = downsample(points, max_points)
        return [{"step": s, "timestamp_ms": t, "value": v} for s, t, v in points]

    def delete_run(self, run_id: str, metrics) -> None:
        """Delete a run's stored points (its own and its shared segments); the summaries go with the run item."""
        partitions = [MetricSegmentItem.partition(run_id, metric) for metric in metrics]
        partitions.append(MetricSegmentItem.shared_partition(run_id))
        for partition in partitions:
            with MetricSegmentItem.batch_write() as batch:
                for segment in MetricSegmentItem.query(partition, attributes_to_get=["pk", "sk"]):
                    batch.delete(segment)

    def summaries(self, run_id: str) -> dict[str, dict]:
        try:
            run = RunMetricsItem.get(*RunMetricsItem.key(run_id))
        except RunMetricsItem.DoesNotExist:
            raise NotFound(f"run {run_id!r} does not exist", field="run_id") from None
        stored = run.metric_summaries.as_dict() if hasattr(run.metric_summaries, "as_dict") else dict(run.metric_summaries or {})
        return {metric: Summary.from_json(text).public() for metric, text in sorted(stored.items())}
