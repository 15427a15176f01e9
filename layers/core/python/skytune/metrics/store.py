"""The metric store: points in compact segments, one summary item per metric, written atomically.

Exactly once, by the identity of a point: every point may carry an identity (its source's: a log
event id and the metric definition, a metric-stream datapoint's metric, dimensions, timestamp and
statistic; a log-batch point's metric, step and timestamp when the client asks for it). Before
writing, a delivery reads the identities already stored in the 10-minute buckets its points fall in
and drops the points the store holds, whatever delivery brought them. What is left is written in
one DynamoDB transaction per group of metrics: the new segments (on the condition that they do not
exist: a byte-identical redelivery of points without identity is recognised by its content address)
and the updated summary items of their metrics (on the condition that their version has not moved
since we read them). Two overlapping deliveries always share the summary item of the metric of a
repeated point, so the second one's transaction fails, and it retries on fresh identities and
summaries. A crash leaves each group either written or not; a redelivery writes what is missing.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Sequence

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from skytune.errors import InvalidInput, NotFound
from skytune.metrics.downsample import m4_indices
from skytune.metrics.encoding import pack, pack_many, unpack, unpack_arrays, unpack_many, unpack_many_arrays
from skytune.metrics.items import DeliveryProgressItem, MetricCountItem, MetricSegmentItem, MetricSummaryItem, bucket_key
from skytune.metrics.series_cache import SERIES_CACHE
from skytune.metrics.summary import MAX_ABS_VALUE, Summary
from skytune.storage.items import RunItem
from skytune.tracking import limits as tracking_limits

log = logging.getLogger(__name__)

# A transaction holds at most 100 items and 4 MB; an item at most 400 KB.
_ITEMS_PER_TRANSACTION = 100
METRICS_PER_TRANSACTION = 90
_MAX_BUCKETS_PER_CHUNK = 40
POINTS_PER_SEGMENT = 10_000
OWN_SEGMENT_MIN_POINTS = 100
METRICS_PER_RUN_MAX = tracking_limits.METRICS_PER_RUN
_BATCH_GET_MAX = 100
_DIGEST_BYTES = 8
_RETRYABLE_CODES = {"ThrottlingError", "TransactionConflict", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}


@dataclass(frozen=True)
class MetricPoint:
    metric: str
    value: float
    step: int | None
    timestamp_ms: int
    # The point's identity at its source beyond (metric, timestamp): a log event id, a metric-stream
    # datapoint's dimensions. None: the point is identified by (metric, step, timestamp) when the
    # writer asks for identities (`write(..., identify=True)`), else only by its delivery's content.
    source_id: str | None = None


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


# -- identities ----------------------------------------------------------------------------------
def _digest(*parts) -> bytes:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=_DIGEST_BYTES).digest()


def natural_digest(metric: str, step: int, timestamp_ms: int) -> bytes:
    return _digest("n", metric, step, timestamp_ms)


def identity_digest(point: MetricPoint, identify: bool) -> bytes | None:
    """The digest a point is recognised by, or None (identified only by its delivery's content)."""
    if point.source_id is not None:
        return _digest("s", point.metric, point.source_id)
    if not identify:
        return None
    if point.step is None:
        return _digest("t", point.metric, point.timestamp_ms)
    return natural_digest(point.metric, point.step, point.timestamp_ms)


@dataclass
class _Pending:
    point: MetricPoint
    digest: bytes | None


@dataclass
class _Segment:
    """The points one item stores: one metric's, or (shared) several metrics' with few points each,
    all in one time bucket."""

    bucket: str
    series: dict[str, list[tuple[_Pending, int]]]  # metric -> (point, its step)
    shared: bool
    segment_id: str = ""

    def stored(self) -> dict[str, list[tuple[int, int, float]]]:
        return {m: [(step, p.point.timestamp_ms, p.point.value) for p, step in entries] for m, entries in self.series.items()}

    def ids(self) -> list[bytes]:
        """Digests that are not the points' natural ones (computed from the stored point on reading)."""
        return sorted(p.digest for m, entries in self.series.items() for p, step in entries
                      if p.digest is not None and p.digest != natural_digest(m, step, p.point.timestamp_ms))

    @property
    def size(self) -> int:
        return sum(len(points) for points in self.series.values())


def _segment_id(run_id: str, segment: _Segment) -> str:
    """Content address of the points as delivered (a step-less point by its arrival, not the step it
    is given, so a redelivery finds the same address)."""
    content = json.dumps([run_id, segment.bucket, [[m, [(p.point.step, p.point.timestamp_ms, repr(float(p.point.value)),
                                                         p.digest.hex() if p.digest else None) for p, _ in entries]]
                                                   for m, entries in segment.series.items()]])
    return hashlib.sha256(content.encode()).hexdigest()[:32]


def _bucket_segments(bucket: str, series: "OrderedDict[str, list[tuple[_Pending, int]]]") -> list[_Segment]:
    """One item per metric with many points in the bucket; the metrics with few points share one,
    because every item costs at least one write unit however small it is."""
    segments, shared = [], OrderedDict()
    for metric, entries in series.items():
        if len(entries) < OWN_SEGMENT_MIN_POINTS:
            shared[metric] = entries
            continue
        for s in range(0, len(entries), POINTS_PER_SEGMENT):
            segments.append(_Segment(bucket, {metric: entries[s:s + POINTS_PER_SEGMENT]}, shared=False))
    chunk: OrderedDict = OrderedDict()
    for metric, entries in shared.items():
        if chunk and sum(map(len, chunk.values())) + len(entries) > POINTS_PER_SEGMENT:
            segments.append(_Segment(bucket, chunk, shared=True))
            chunk = OrderedDict()
        chunk[metric] = entries
    if chunk:
        segments.append(_Segment(bucket, chunk, shared=True))
    return segments


def _segment_count(group: "OrderedDict[str, list[_Pending]]") -> int:
    """An upper bound of the segments a group writes."""
    per_bucket: dict[str, dict[str, int]] = {}
    for metric, chunk in group.items():
        for p in chunk:
            counts = per_bucket.setdefault(bucket_key(p.point.timestamp_ms), {})
            counts[metric] = counts.get(metric, 0) + 1
    total = 0
    for counts in per_bucket.values():
        small = sum(n for n in counts.values() if n < OWN_SEGMENT_MIN_POINTS)
        total += math.ceil(small / POINTS_PER_SEGMENT) + sum(math.ceil(n / POINTS_PER_SEGMENT)
                                                            for n in counts.values() if n >= OWN_SEGMENT_MIN_POINTS)
    return total


def _groups(pending: list[_Pending]) -> list["OrderedDict[str, list[_Pending]]"]:
    """Split a delivery into transactions: each names a metric at most once and holds at most 100
    items (segments + summary items + the metric count). A metric whose points span very many
    buckets is split into consecutive chunks (in delivery order), written one after another."""
    by_metric: OrderedDict[str, list[_Pending]] = OrderedDict()
    for p in pending:
        by_metric.setdefault(p.point.metric, []).append(p)
    chunks: list[tuple[str, list[_Pending]]] = []
    for metric, points in by_metric.items():
        chunk, buckets = [], set()
        for p in points:
            bucket = bucket_key(p.point.timestamp_ms)
            if bucket not in buckets and len(buckets) >= _MAX_BUCKETS_PER_CHUNK:
                chunks.append((metric, chunk))
                chunk, buckets = [], set()
            buckets.add(bucket)
            chunk.append(p)
        chunks.append((metric, chunk))
    groups: list[OrderedDict] = []
    group: OrderedDict = OrderedDict()
    for metric, chunk in chunks:
        if group:
            trial = OrderedDict(group)
            trial[metric] = chunk
            if metric in group or len(trial) > METRICS_PER_TRANSACTION or \
                    len(trial) + _segment_count(trial) + 1 > _ITEMS_PER_TRANSACTION:
                groups.append(group)
                group = OrderedDict()
        group[metric] = chunk
    if group:
        groups.append(group)
    return groups


class MetricStore:
    def __init__(self, max_attempts: int = 15, sleep: Callable[[float], None] = time.sleep, seed: int | None = None,
                 metrics_per_run_max: int | None = None) -> None:
        self.max_attempts = max_attempts
        self.sleep = sleep
        self.random = random.Random(seed)
        self._metrics_per_run_max = metrics_per_run_max
        self._transactions: Connection | None = None

    @property
    def metrics_per_run_max(self) -> int:
        return self._metrics_per_run_max or METRICS_PER_RUN_MAX

    def _connection(self) -> Connection:
        if self._transactions is None:
            self._transactions = Connection(region=MetricSummaryItem.Meta.region)
        return self._transactions

    # -- writes ------------------------------------------------------------------------------
    def write(self, run_id: str, points: Iterable[MetricPoint], identify: bool = False) -> WriteResult:
        """Store the points a run does not hold yet. `identify`: points without a source id are
        identified by (metric, step, timestamp) (a point without a step by (metric, timestamp))."""
        points = list(points)
        validate_points(points)
        experiment = self._experiment(run_id)
        pending, duplicates, seen = [], 0, set()
        for point in points:
            digest = identity_digest(point, identify)
            if digest is not None:
                if digest in seen:
                    duplicates += 1  # repeated inside the delivery
                    continue
                seen.add(digest)
            pending.append(_Pending(point, digest))
        result = WriteResult(duplicates=duplicates)
        for attempt in range(self.max_attempts):
            if not pending:
                return result
            try:
                written, pending, dropped = self._write_once(run_id, experiment, pending)
            except _Retry:
                self.sleep(min(2.0, 0.01 * 2 ** attempt) * (0.5 + self.random.random()))
                continue
            result += written
            result.duplicates += dropped
            if pending:  # some groups conflicted: retry those on fresh state
                self.sleep(min(2.0, 0.01 * 2 ** attempt) * (0.5 + self.random.random()))
        if pending:
            raise RuntimeError(f"metric write for run {run_id} did not settle after {self.max_attempts} attempts")
        return result

    def _experiment(self, run_id: str) -> str:
        try:  # the run item is tracking's; we only read its experiment
            return RunItem.get(*RunItem.key(run_id), consistent_read=True, attributes_to_get=["experiment"]).experiment
        except RunItem.DoesNotExist:
            raise NotFound(f"run {run_id!r} does not exist", field="run_id") from None

    def _write_once(self, run_id: str, experiment: str, pending: list[_Pending]) -> tuple[WriteResult, list[_Pending], int]:
        """One pass: read state, drop held points, write each group of metrics in a transaction.
        Returns (written, the points of groups that must be retried, points dropped as held)."""
        metrics = list(OrderedDict.fromkeys(p.point.metric for p in pending))
        summaries = self._summary_items(run_id, metrics)
        new_metrics = [m for m in metrics if m not in summaries]
        if new_metrics:
            count = self._metric_count(run_id)
            if count + len(new_metrics) > self.metrics_per_run_max:
                raise InvalidInput(f"a run holds at most {self.metrics_per_run_max} metrics; this one has {count} and the "
                                   f"request names {len(new_metrics)} new ones", field="metrics",
                                   details={"limit": "METRICS_PER_RUN_MAX", "max": self.metrics_per_run_max})
        identified = [p for p in pending if p.digest is not None]
        held = self._held_digests(run_id, identified, summaries) if identified else set()
        fresh = [p for p in pending if p.digest is None or p.digest not in held]
        dropped = len(pending) - len(fresh)
        result, retry = WriteResult(), []
        for group in _groups(fresh):
            outcome = self._write_group(run_id, experiment, group, summaries)
            if outcome is None:
                retry.extend(p for chunk in group.values() for p in chunk)
            else:
                result += outcome[0]
                dropped += outcome[1]
        return result, retry, dropped

    def _write_group(self, run_id: str, experiment: str, group: "OrderedDict[str, list[_Pending]]",
                     summaries: dict[str, MetricSummaryItem]) -> tuple[WriteResult, int] | None:
        """One transaction; (written, duplicates), or None when the group must be retried."""
        updated: dict[str, Summary] = {}
        stored_points: list[MetricPoint] = []
        by_bucket: dict[str, OrderedDict[str, list[tuple[_Pending, int]]]] = {}
        for metric, chunk in group.items():
            current = summaries.get(metric)
            summary = Summary.from_json(current.summary) if current is not None else Summary()
            for p in chunk:
                point = p.point
                step = point.step if point.step is not None else summary.next_step
                summary.add(point.value, step, point.timestamp_ms)
                by_bucket.setdefault(bucket_key(point.timestamp_ms), OrderedDict()).setdefault(metric, []).append((p, step))
                stored_points.append(replace(point, step=step))
            updated[metric] = summary
        segments = [segment for bucket, series in sorted(by_bucket.items()) for segment in _bucket_segments(bucket, series)]
        own_metrics = {m for segment in segments if not segment.shared for m in segment.series}
        for segment in segments:
            segment.segment_id = _segment_id(run_id, segment)
        try:
            self._transact(run_id, experiment, segments, updated, summaries, own_metrics)
        except _Duplicates as duplicates:
            # Byte-identical segments already stored (a redelivery of points without identity):
            # their points are duplicates; the rest of the group is retried without them.
            held = {id(p) for segment in duplicates.segments for entries in segment.series.values() for p, _ in entries}
            dropped = 0
            for metric in list(group):
                left = [p for p in group[metric] if id(p) not in held]
                dropped += len(group[metric]) - len(left)
                group[metric] = left
            if not any(group.values()):
                return WriteResult(), dropped
            return None
        except _Retry:
            return None
        for metric, summary in updated.items():
            item = summaries.get(metric)
            if item is None:
                summaries[metric] = item = MetricSummaryItem(MetricSummaryItem.partition(run_id), metric, run_id=run_id,
                                                             experiment=experiment, metric=metric, version=0)
            item.summary, item.version = summary.to_json(), int(item.version) + 1
            item.own = bool(item.own) or metric in own_metrics
        return WriteResult(written=sum(s.size for s in segments), stored=stored_points), 0

    def _transact(self, run_id, experiment, segments, updated, summaries, own_metrics) -> None:
        new_metrics = [m for m in updated if m not in summaries]
        puts, updates = [], []
        for segment in segments:
            stored = segment.stored()
            steps = [p[0] for pts in stored.values() for p in pts]
            if segment.shared:
                item = MetricSegmentItem(MetricSegmentItem.shared_partition(run_id), f"{segment.bucket}#{segment.segment_id}",
                                         metrics=set(stored), points=pack_many(stored))
            else:
                (metric, pts), = stored.items()
                item = MetricSegmentItem(MetricSegmentItem.partition(run_id, metric), f"{segment.bucket}#{segment.segment_id}",
                                         points=pack(pts))
            item.run_id = run_id
            item.ids = b"".join(segment.ids()) or None
            item.count, item.min_step, item.max_step = len(steps), min(steps), max(steps)
            puts.append((segment, item))
        for metric, summary in updated.items():
            current = summaries.get(metric)
            item = MetricSummaryItem(MetricSummaryItem.partition(run_id), metric)
            actions = [MetricSummaryItem.summary.set(summary.to_json()), MetricSummaryItem.run_id.set(run_id),
                       MetricSummaryItem.experiment.set(experiment), MetricSummaryItem.metric.set(metric)]
            if current is None:
                actions.append(MetricSummaryItem.version.set(1))
                condition = MetricSummaryItem.pk.does_not_exist()
            else:
                actions.append(MetricSummaryItem.version.set(int(current.version) + 1))
                condition = MetricSummaryItem.version == int(current.version)
            if metric in own_metrics and not (current is not None and current.own):
                actions.append(MetricSummaryItem.own.set(True))
            updates.append((item, actions, condition))
        count_update = None
        if new_metrics:
            count_item = MetricCountItem(*MetricCountItem.key(run_id))
            count_update = (count_item, [MetricCountItem.metrics.add(len(new_metrics)), MetricCountItem.run_id.set(run_id),
                                         MetricCountItem.experiment.set(experiment)],
                            MetricCountItem.metrics.does_not_exist() | (MetricCountItem.metrics <= self.metrics_per_run_max - len(new_metrics)))
        try:
            # PynamoDB sends puts before updates whatever the call order; reasons come in that order.
            with TransactWrite(connection=self._connection()) as transaction:
                for _segment, item in puts:
                    transaction.save(item, condition=MetricSegmentItem.pk.does_not_exist())
                for item, actions, condition in updates:
                    transaction.update(item, actions=actions, condition=condition)
                if count_update is not None:
                    transaction.update(count_update[0], actions=count_update[1], condition=count_update[2])
        except TransactWriteError as error:
            reasons = [getattr(r, "code", None) for r in (error.cancellation_reasons or [])]
            if not reasons:
                if error.cause_response_code in _RETRYABLE_CODES | {"TransactionCanceledException", "TransactionInProgressException"}:
                    raise _Retry() from None
                raise
            segment_reasons = reasons[:len(puts)]
            update_reasons = reasons[len(puts):len(puts) + len(updates)]
            count_reason = reasons[len(puts) + len(updates)] if count_update is not None and len(reasons) > len(puts) + len(updates) else None
            held = [segment for (segment, _), code in zip(puts, segment_reasons) if code == "ConditionalCheckFailed"]
            if held and not any(code == "ConditionalCheckFailed" for code in update_reasons):
                raise _Duplicates(held) from None
            if count_reason == "ConditionalCheckFailed" and not any(code == "ConditionalCheckFailed" for code in update_reasons):
                raise InvalidInput(f"a run holds at most {self.metrics_per_run_max} metrics", field="metrics",
                                   details={"limit": "METRICS_PER_RUN_MAX", "max": self.metrics_per_run_max}) from None
            raise _Retry() from None

    # -- state reads -------------------------------------------------------------------------------
    def _summary_items(self, run_id: str, metrics: Sequence[str]) -> dict[str, MetricSummaryItem]:
        found = {}
        for start in range(0, len(metrics), _BATCH_GET_MAX):
            keys = [(MetricSummaryItem.partition(run_id), m) for m in metrics[start:start + _BATCH_GET_MAX]]
            for item in MetricSummaryItem.batch_get(keys, consistent_read=True):
                found[item.sk] = item
        return found

    def _metric_count(self, run_id: str) -> int:
        try:
            return int(MetricCountItem.get(*MetricCountItem.key(run_id), consistent_read=True).metrics or 0)
        except MetricCountItem.DoesNotExist:
            return 0

    def _held_digests(self, run_id: str, identified: list[_Pending], summaries: dict[str, MetricSummaryItem]) -> set[bytes]:
        """Identity digests of the stored points in the buckets (and metrics) these points fall in."""
        buckets = sorted({bucket_key(p.point.timestamp_ms) for p in identified})
        metrics = {p.point.metric for p in identified}
        partitions = [MetricSegmentItem.shared_partition(run_id)]
        partitions += [MetricSegmentItem.partition(run_id, m) for m in sorted(metrics)
                       if m in summaries and summaries[m].own]
        held: set[bytes] = set()
        for partition in partitions:
            for low, high in _ranges(buckets):
                condition = MetricSegmentItem.sk.between(f"{low}#", f"{high}#~")
                for segment in MetricSegmentItem.query(partition, condition, consistent_read=True):
                    if segment.ids:
                        raw = bytes(segment.ids)
                        held.update(raw[i:i + _DIGEST_BYTES] for i in range(0, len(raw), _DIGEST_BYTES))
                    series = unpack_many(segment.points) if segment.metrics else {partition.split("#M#", 1)[1]: unpack(segment.points)}
                    for metric, pts in series.items():
                        if metric in metrics:
                            held.update(natural_digest(metric, s, t) for s, t, _v in pts)
                            held.update(_digest("t", metric, t) for _s, t, _v in pts)
        return held

    # -- reads -------------------------------------------------------------------------------
    def series(self, run_id: str, metric: str, min_step: int | None = None, max_step: int | None = None,
               max_points: int | None = None) -> list[dict]:
        steps, stamps, values = self.series_columns(run_id, metric, min_step, max_step, max_points)
        return [{"step": s, "timestamp_ms": t, "value": v} for s, t, v in zip(steps, stamps, values)]

    def series_columns(self, run_id: str, metric: str, min_step: int | None = None, max_step: int | None = None,
                       max_points: int | None = None, count: int | None = None) -> tuple[list[int], list[int], list[float]]:
        """The series as (steps, timestamps_ms, values), ordered by (step, timestamp).

        `count`: the metric summary's point count, when the caller has read it: the series is then
        read whole once and kept decoded in this container (metrics.series_cache), and windows and
        downsampling of it are cut from the arrays with no further reads."""
        if min_step is not None and max_step is not None and min_step > max_step:
            raise InvalidInput("min_step must not exceed max_step", field="min_step")
        if count is not None:
            arrays = SERIES_CACHE.get(run_id, metric, count)
            if arrays is None:
                arrays = self._series_arrays(run_id, metric, None, None)
                SERIES_CACHE.put(run_id, metric, count, arrays)
        else:
            arrays = self._series_arrays(run_id, metric, min_step, max_step)
        steps, stamps, values = arrays
        if min_step is not None or max_step is not None:
            inside = (steps >= (min_step if min_step is not None else 0)) & (steps <= (max_step if max_step is not None else 2**62))
            steps, stamps, values = steps[inside], stamps[inside], values[inside]
        if max_points is not None:
            kept = m4_indices(values, max_points)
            steps, stamps, values = steps[kept], stamps[kept], values[kept]
        return steps.tolist(), stamps.tolist(), values.tolist()

    def _series_arrays(self, run_id: str, metric: str, min_step: int | None, max_step: int | None):
        """(steps, timestamps_ms, values) of the segments that may hold steps in the window, ordered by
        (step, timestamp, value). Decoded into arrays (encoding.unpack_arrays): a 100,000-point series
        costs milliseconds of CPU, not a Python tuple per point. DynamoDB filters the segments by
        their step range and sends only the points (not the identity digests); capacity is the same."""
        import numpy as np

        window = None
        if min_step is not None:
            window = MetricSegmentItem.max_step >= min_step
        if max_step is not None:
            below = MetricSegmentItem.min_step <= max_step
            window = below if window is None else window & below
        shared = MetricSegmentItem.metrics.contains(metric)
        parts = []
        for segment in MetricSegmentItem.query(MetricSegmentItem.partition(run_id, metric), filter_condition=window,
                                               attributes_to_get=["points"]):
            parts.append(unpack_arrays(segment.points))
        for segment in MetricSegmentItem.query(MetricSegmentItem.shared_partition(run_id),
                                               filter_condition=shared if window is None else shared & window,
                                               attributes_to_get=["points"]):
            found = unpack_many_arrays(segment.points, metric)
            if found is not None:
                parts.append(found)
        if not parts:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0, dtype=np.float64)
        steps, stamps, values = (np.concatenate(column) for column in zip(*parts))
        order = np.lexsort((values, stamps, steps))  # by (step, timestamp, value)
        return steps[order], stamps[order], values[order]

    def delete_run(self, run_id: str, metrics=None) -> None:
        """Delete a run's points and summaries (`metrics` is ignored: the summary items list them)."""
        owned = [item.sk for item in MetricSummaryItem.query(MetricSummaryItem.partition(run_id)) if item.own]
        partitions = [MetricSegmentItem.partition(run_id, metric) for metric in owned]
        partitions.append(MetricSegmentItem.shared_partition(run_id))
        for partition in partitions:
            with MetricSegmentItem.batch_write() as batch:
                for segment in MetricSegmentItem.query(partition, attributes_to_get=["pk", "sk"]):
                    batch.delete(segment)
        with MetricSummaryItem.batch_write() as batch:
            for item in MetricSummaryItem.query(MetricSummaryItem.partition(run_id), attributes_to_get=["pk", "sk"]):
                batch.delete(item)
        MetricCountItem(*MetricCountItem.key(run_id)).delete()

    def read_summaries(self, run_ids: Sequence[str], metrics: Iterable[str] | None = None,
                       public: bool = True) -> dict[str, dict[str, dict | str]]:
        """THE read of summaries (the run view, search and the API read through it, whatever the
        layout): run_id -> metric -> public statistics (or, `public=False`, the stored JSON).
        `metrics`: only these (one BatchGetItem per 100 (run, metric) keys), else every metric of
        each run (one Query per run). Runs without metrics map to {}."""
        decode = (lambda text: Summary.from_json(text).public()) if public else (lambda text: text)
        out: dict[str, dict] = {run_id: {} for run_id in run_ids}
        if metrics is not None:
            names = sorted(set(metrics))
            keys = [(MetricSummaryItem.partition(r), m) for r in out for m in names]
            for start in range(0, len(keys), _BATCH_GET_MAX):
                for item in MetricSummaryItem.batch_get(keys[start:start + _BATCH_GET_MAX],
                                                        attributes_to_get=["pk", "sk", "run_id", "summary"]):
                    out[item.run_id][item.sk] = decode(item.summary)
        else:
            for run_id in out:
                for item in MetricSummaryItem.query(MetricSummaryItem.partition(run_id),
                                                    attributes_to_get=["sk", "summary"]):
                    out[run_id][item.sk] = decode(item.summary)
        return {run_id: dict(sorted(summaries.items())) for run_id, summaries in out.items()}

    # -- progress of deliveries whose time budget ran out -------------------------------------------
    def delivery_progress(self, delivery: str) -> int:
        try:
            return int(DeliveryProgressItem.get(*DeliveryProgressItem.key(delivery), consistent_read=True).next_event)
        except DeliveryProgressItem.DoesNotExist:
            return 0

    def save_delivery_progress(self, delivery: str, run_id: str, next_event: int) -> None:
        """Record that the delivery's events before `next_event` are stored (never moves back)."""
        from pynamodb.exceptions import PutError

        item = DeliveryProgressItem(*DeliveryProgressItem.key(delivery), run_id=run_id, next_event=next_event)
        try:
            item.save(condition=DeliveryProgressItem.pk.does_not_exist() | (DeliveryProgressItem.next_event < next_event))
        except PutError as error:
            if getattr(error, "cause_response_code", None) != "ConditionalCheckFailedException":
                raise

    def summaries(self, run_id: str) -> dict[str, dict]:
        """A run's public summaries (metric -> statistics); {} for a run without metrics."""
        return self.read_summaries([run_id])[run_id]


def _ranges(buckets: list[str]) -> list[tuple[str, str]]:
    """Consecutive buckets as (low, high) ranges, so a delivery reads each run of buckets once."""
    ranges: list[tuple[str, str]] = []
    for bucket in buckets:
        number = int(bucket[2:])
        if ranges and int(ranges[-1][1][2:]) + 1 == number:
            ranges[-1] = (ranges[-1][0], bucket)
        else:
            ranges.append((bucket, bucket))
    return ranges


class _Retry(Exception):
    """State changed under us (or throttled): read again and retry."""


class _Duplicates(Exception):
    def __init__(self, segments: list[_Segment]) -> None:
        self.segments = segments
