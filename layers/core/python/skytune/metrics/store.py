"""The metric store: each delivery is one *commit* item per time bucket, and per-metric summary items
are folded from the commits later, so a small delivery costs about its points' bytes.

Exactly once, by the identity of a point: every point may carry an identity (its source's: a log
event id and the metric definition, a metric-stream datapoint's metric, dimensions, timestamp and
statistic; a log-batch point's metric, step and timestamp when the client asks for it). Before
writing, a delivery reads the commits of the 10-minute buckets its points fall in and drops the
points the store holds, whatever delivery brought them. What is left becomes one commit per bucket,
put at the bucket's next sequence number on the condition that it does not exist: two deliveries
that repeat a point repeat its bucket, so the second one's put fails and it retries on fresh state.
A byte-identical redelivery of points without identity is recognised by its content address (cid).

Folding. A metric's summary is its summary item (the base, which lists in `folded` the last commit
of each bucket it includes) merged with the summaries of the commits after that, computed from
their points on every read; so summaries are exact at every moment, before, during and after a
fold. The run's registry item lists the *open* buckets (the only ones readers look at, each from the
seq through which every summary item is folded). `fold` (run by a writer once the unfolded commits
are worth it) closes the older open buckets (a marker item at their next seq, which a racing writer
collides with), writes each touched summary item (conditional on no later fold having written it:
each item is self-consistent whichever fold wrote it), and then moves the registry on (conditional on
its version). A crash anywhere leaves a state every reader reads exactly; the next fold finishes the
work. A delivery into a closed bucket, or one naming new metrics, updates the registry in the same
transaction as its commit (reopening the bucket, counting the new metrics against the limit).
Commits are never deleted while the run exists, so no writer can land in a slot that a fold already
read and released.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Sequence

from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from skytune.errors import InvalidInput, NotFound
from skytune.metrics.downsample import m4_indices
from skytune.metrics.encoding import pack_many, unpack, unpack_all_arrays, unpack_arrays, unpack_many, unpack_many_arrays
from skytune.metrics.items import BUCKET_MS, DeliveryProgressItem, MetricCountItem, MetricSegmentItem, MetricSummaryItem
from skytune.metrics.series_cache import SERIES_CACHE
from skytune.metrics.summary import MAX_ABS_VALUE, Summary
from skytune.storage.items import RunItem
from skytune.tracking import limits as tracking_limits

log = logging.getLogger(__name__)

# A transaction holds at most 100 items and 4 MB; an item at most 400 KB.
_ITEMS_PER_TRANSACTION = 100
POINTS_PER_SEGMENT = 10_000
_COMMIT_MAX_BYTES = 300_000  # estimated; DynamoDB's item limit is 400 KB
# A fold writes one summary item (~1 WCU) per metric it touches: it runs once the unfolded commits
# hold FOLD_POINTS_PER_METRIC points per metric touched (so it costs at most ~1/40 WCU per point),
# or when reading them would cost more than a few RCU (bytes, commits) or queries (open buckets).
FOLD_POINTS_PER_METRIC = 40
FOLD_MIN_COMMITS = 8
FOLD_MAX_BYTES = 256_000
FOLD_MAX_COMMITS = 128
FOLD_MAX_OPEN_BUCKETS = 4
_FOLD_THREADS = 8
METRICS_PER_RUN_MAX = tracking_limits.METRICS_PER_RUN
_BATCH_GET_MAX = 100
_DIGEST_BYTES = 8
_RETRYABLE_CODES = {"ThrottlingError", "TransactionConflict", "ProvisionedThroughputExceeded", "RequestLimitExceeded",
                    "ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceededException",
                    "TransactionConflictException"}

# Set while a fold runs (the benchmarks bill its capacity separately from the deliveries').
FOLDING: ContextVar[bool] = ContextVar("skytune_metric_folding", default=False)


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


# -- commits -------------------------------------------------------------------------------------
def _bucket(timestamp_ms: int) -> int:
    return timestamp_ms // BUCKET_MS


def _bucket_prefix(bucket: int) -> str:
    return f"B#{bucket:012d}#"


def commit_sk(bucket: int, seq: int) -> str:
    return f"{_bucket_prefix(bucket)}{seq:08d}"


def _parse_sk(sk: str) -> tuple[int, int]:
    """(bucket, seq); a round-2 segment (content-addressed sk) is seq 0: folded when it was written."""
    _b, bucket, rest = sk.split("#", 2)
    return int(bucket), int(rest) if len(rest) == 8 and rest.isdigit() else 0


@dataclass
class _Stored:
    """A commit (or a close marker, or a round-2 segment) as read."""

    bucket: int
    seq: int
    item: MetricSegmentItem
    _series: dict | None = None

    @property
    def marker(self) -> bool:
        return bool(self.item.marker)

    def series(self) -> dict[str, list[tuple[int, int, float]]]:
        if self._series is None:
            self._series = {} if self.marker or self.item.points is None else unpack_many(bytes(self.item.points))
        return self._series

    @property
    def size(self) -> int:
        return len(bytes(self.item.points or b"")) + len(bytes(self.item.ids or b""))


def _stored(item: MetricSegmentItem) -> _Stored:
    return _Stored(*_parse_sk(item.sk), item)


def _query_commits(run_id: str, bucket: int, after: int = 0) -> list[_Stored]:
    """The commits of one bucket (only those after seq `after`), in seq order, read consistently."""
    prefix = _bucket_prefix(bucket)
    condition = MetricSegmentItem.sk.between(f"{prefix}{after + 1:08d}", f"{prefix}~") if after else \
        MetricSegmentItem.sk.startswith(prefix)
    found = [_stored(item) for item in MetricSegmentItem.query(MetricSegmentItem.shared_partition(run_id), condition,
                                                               consistent_read=True)]
    return sorted((c for c in found if c.seq > after or not after), key=lambda c: c.seq)


def _query_buckets(run_id: str, buckets: list[int]) -> dict[int, list[_Stored]]:
    """Every commit of these buckets: one Query per bucket, or, for many buckets, one over their span."""
    if len(buckets) <= 8:
        return {b: _query_commits(run_id, b) for b in buckets}
    found: dict[int, list[_Stored]] = {b: [] for b in buckets}
    condition = MetricSegmentItem.sk.between(_bucket_prefix(buckets[0]), f"{_bucket_prefix(buckets[-1])}~")
    for item in MetricSegmentItem.query(MetricSegmentItem.shared_partition(run_id), condition, consistent_read=True):
        commit = _stored(item)
        if commit.bucket in found:
            found[commit.bucket].append(commit)
    return {b: sorted(commits, key=lambda c: c.seq) for b, commits in found.items()}


@dataclass
class _Registry:
    exists: bool = False
    version: int | None = None  # None: no item, or a round-2 item without a version
    metrics: int = 0
    open: dict[int, int] = field(default_factory=dict)  # bucket -> seq every summary item is folded through
    fold: int = 0
    experiment: str | None = None

    @classmethod
    def of(cls, item: MetricCountItem | None) -> "_Registry":
        if item is None:
            return cls()
        return cls(True, int(item.version) if item.version is not None else None, int(item.metrics or 0),
                   {int(b): int(s) for b, s in json.loads(item.open or "{}").items()}, int(item.fold or 0), item.experiment)

    def condition(self):
        if not self.exists:
            return MetricCountItem.pk.does_not_exist()
        if self.version is None:
            return MetricCountItem.version.does_not_exist()
        return MetricCountItem.version == self.version

    def next_version(self) -> int:
        return (self.version or 0) + 1


def _open_json(open_: dict[int, int]) -> str:
    return json.dumps({str(b): s for b, s in sorted(open_.items())}, separators=(",", ":"))


def _folded_of(item: MetricSummaryItem | None) -> dict[int, int]:
    if item is None or not item.folded:
        return {}
    return {int(b): int(s) for b, s in json.loads(item.folded).items()}


def _unfolded(commit: _Stored, open_: dict[int, int]) -> bool:
    """Not yet folded into every summary item (a metric's item may be further on: see _current)."""
    return not commit.marker and commit.bucket in open_ and commit.seq > open_[commit.bucket]


def _current(items: dict[str, MetricSummaryItem], open_: dict[int, int], commits: Iterable[_Stored],
             metrics: set[str] | None = None) -> dict[str, Summary]:
    """THE rule for a metric's exact summary: its base item merged with every commit of an open
    bucket after both the registry's and the item's own folded seq of that bucket."""
    out: dict[str, Summary] = {}
    folded: dict[str, dict[int, int]] = {}
    for metric, item in items.items():
        if metrics is None or metric in metrics:
            out[metric] = Summary.from_json(item.summary)
            folded[metric] = _folded_of(item)
    for commit in commits:
        if not _unfolded(commit, open_):
            continue
        for metric, points in commit.series().items():
            if (metrics is not None and metric not in metrics) or commit.seq <= folded.get(metric, {}).get(commit.bucket, 0):
                continue
            summary = out.setdefault(metric, Summary())
            for step, timestamp_ms, value in points:
                summary.add(value, step, timestamp_ms)
    return out


@dataclass
class _Commit:
    """A commit to write: one bucket's points of one delivery (or a slice of them)."""

    bucket: int
    series: "OrderedDict[str, list[tuple[_Pending, int]]]"  # metric -> (point, its step)
    seq: int = 0
    cid: str = ""
    slow: bool = False  # written in a transaction with the registry

    def stored(self) -> dict[str, list[tuple[int, int, float]]]:
        return {m: [(step, p.point.timestamp_ms, p.point.value) for p, step in entries] for m, entries in self.series.items()}

    def ids(self) -> list[bytes]:
        """Digests that are not the points' natural ones (computed from the stored point on reading)."""
        return sorted(p.digest for m, entries in self.series.items() for p, step in entries
                      if p.digest is not None and p.digest != natural_digest(m, step, p.point.timestamp_ms))

    @property
    def size(self) -> int:
        return sum(len(points) for points in self.series.values())

    def pendings(self) -> list[_Pending]:
        return [p for entries in self.series.values() for p, _ in entries]

    def item(self, run_id: str) -> MetricSegmentItem:
        stored = self.stored()
        steps = [p[0] for pts in stored.values() for p in pts]
        return MetricSegmentItem(MetricSegmentItem.shared_partition(run_id), commit_sk(self.bucket, self.seq),
                                 run_id=run_id, cid=self.cid, points=pack_many(stored), ids=b"".join(self.ids()) or None,
                                 count=len(steps), min_step=min(steps), max_step=max(steps))


def _content_id(run_id: str, commit: _Commit) -> str:
    """Content address of the points as delivered (a step-less point by its arrival, not the step it
    is given, so a redelivery finds the same address)."""
    content = json.dumps([run_id, commit.bucket, [[m, [(p.point.step, p.point.timestamp_ms, repr(float(p.point.value)),
                                                        p.digest.hex() if p.digest else None) for p, _ in entries]]
                                                  for m, entries in commit.series.items()]])
    return hashlib.sha256(content.encode()).hexdigest()[:32]


def _split(bucket: int, series: "OrderedDict[str, list[tuple[_Pending, int]]]") -> list[_Commit]:
    """One bucket's points as commits of at most POINTS_PER_SEGMENT points and ~300 KB each."""
    commits, chunk, points, size = [], OrderedDict(), 0, 0
    for metric, entries in series.items():
        for entry in entries:
            cost = 24 + (8 if entry[0].digest is not None else 0) + (0 if metric in chunk else 2 * len(metric.encode()) + 8)
            if chunk and (points >= POINTS_PER_SEGMENT or size + cost > _COMMIT_MAX_BYTES):
                commits.append(_Commit(bucket, chunk))
                chunk, points, size = OrderedDict(), 0, 0
                cost = 24 + (8 if entry[0].digest is not None else 0) + 2 * len(metric.encode()) + 8
            chunk.setdefault(metric, []).append(entry)
            points, size = points + 1, size + cost
    if chunk:
        commits.append(_Commit(bucket, chunk))
    return commits


@dataclass
class FoldResult:
    commits: int = 0  # unfolded commits folded
    items: int = 0  # summary items written
    markers: int = 0  # buckets closed
    aborted: bool = False  # another fold or a writer moved the registry: retried by a later fold


def _failure_code(error: Exception) -> str | None:
    return getattr(error, "cause_response_code", None)


def _in_series_order(parts: list) -> tuple:
    """(steps, timestamps, values) arrays of several decoded segments, joined and ordered by (step,
    timestamp, value): the one order every series read returns."""
    import numpy as np

    steps, stamps, values = (np.concatenate(column) for column in zip(*parts))
    order = np.lexsort((values, stamps, steps))
    return steps[order], stamps[order], values[order]


class MetricStore:
    def __init__(self, max_attempts: int = 15, sleep: Callable[[float], None] = time.sleep, seed: int | None = None,
                 metrics_per_run_max: int | None = None, auto_fold: bool = True) -> None:
        self.max_attempts = max_attempts
        self.sleep = sleep
        self.random = random.Random(seed)
        self._metrics_per_run_max = metrics_per_run_max
        self.auto_fold = auto_fold
        self._transactions: Connection | None = None

    @property
    def metrics_per_run_max(self) -> int:
        return self._metrics_per_run_max or METRICS_PER_RUN_MAX

    def _connection(self) -> Connection:
        if self._transactions is None:
            self._transactions = Connection(region=MetricSummaryItem.Meta.region)
        return self._transactions

    def _backoff(self, attempt: int) -> None:
        self.sleep(min(2.0, 0.01 * 2 ** attempt) * (0.5 + self.random.random()))

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
        fold_due = False
        for attempt in range(self.max_attempts):
            if not pending:
                break
            try:
                written, pending, dropped, fold_due = self._write_once(run_id, experiment, pending)
            except _Retry:
                self._backoff(attempt)
                continue
            result += written
            result.duplicates += dropped
            if pending:  # a commit collided with another writer's (or a fold's): retry on fresh state
                self._backoff(attempt)
        if pending:
            raise RuntimeError(f"metric write for run {run_id} did not settle after {self.max_attempts} attempts")
        if fold_due and self.auto_fold:
            try:
                self.fold(run_id)
            except Exception:  # noqa: BLE001 - the points are stored; a later fold does the work
                log.warning("fold of run %s failed; a later one will do it", run_id, exc_info=True)
        return result

    def _experiment(self, run_id: str) -> str:
        try:  # the run item is tracking's; we only read its experiment
            return RunItem.get(*RunItem.key(run_id), consistent_read=True, attributes_to_get=["experiment"]).experiment
        except RunItem.DoesNotExist:
            raise NotFound(f"run {run_id!r} does not exist", field="run_id") from None

    def _registry(self, run_id: str) -> _Registry:
        try:
            return _Registry.of(MetricCountItem.get(*MetricCountItem.key(run_id), consistent_read=True))
        except MetricCountItem.DoesNotExist:
            return _Registry()

    def _write_once(self, run_id: str, experiment: str,
                    pending: list[_Pending]) -> tuple[WriteResult, list[_Pending], int, bool]:
        """One pass: read state, drop held points, write the rest as commits. Returns (written, the
        points to retry, points dropped as held, whether a fold is due)."""
        registry = self._registry(run_id)  # first: what we read after it is at least as new
        metrics = list(OrderedDict.fromkeys(p.point.metric for p in pending))
        items = self._summary_items(run_id, metrics)
        buckets = sorted({_bucket(p.point.timestamp_ms) for p in pending})
        by_bucket = _query_buckets(run_id, buckets)
        other_open = [c for b, after in sorted(registry.open.items()) if b not in by_bucket
                      for c in _query_commits(run_id, b, after)]
        open_commits = [c for b in buckets if b in registry.open for c in by_bucket[b]] + other_open
        current = _current(items, registry.open, open_commits, set(metrics))
        new_metrics = [m for m in metrics if m not in current]
        if new_metrics and registry.metrics + len(new_metrics) > self.metrics_per_run_max:
            raise InvalidInput(f"a run holds at most {self.metrics_per_run_max} metrics; this one has {registry.metrics} "
                               f"and the request names {len(new_metrics)} new ones", field="metrics",
                               details={"limit": "METRICS_PER_RUN_MAX", "max": self.metrics_per_run_max})
        identified = [p for p in pending if p.digest is not None]
        held = self._held_digests(run_id, identified, by_bucket, items) if identified else set()
        fresh = [p for p in pending if p.digest is None or p.digest not in held]
        dropped = len(pending) - len(fresh)

        # Steps for step-less points, in delivery order, from the exact current summaries.
        next_step = {m: s.next_step for m, s in current.items()}
        per_bucket: dict[int, OrderedDict[str, list[tuple[_Pending, int]]]] = {}
        for p in fresh:
            metric = p.point.metric
            step = p.point.step if p.point.step is not None else next_step.get(metric, 0)
            next_step[metric] = max(next_step.get(metric, 0), step + 1)
            per_bucket.setdefault(_bucket(p.point.timestamp_ms), OrderedDict()).setdefault(metric, []).append((p, step))
        new_set = set(new_metrics)
        commits: list[_Commit] = []
        for bucket, series in sorted(per_bucket.items()):
            stored = by_bucket[bucket]
            held_cids = {c.item.cid for c in stored if c.item.cid}
            last = stored[-1] if stored else None
            closed = bucket not in registry.open or (last is not None and last.marker)
            for commit in _split(bucket, series):
                commit.cid = _content_id(run_id, commit)
                if commit.cid in held_cids:  # a byte-identical redelivery of points without identity
                    dropped += commit.size
                    continue
                commit.slow = closed or any(m in new_set for m in commit.series)
                commits.append(commit)
        # Seqs: the slow commits (written first) then the fast ones, each bucket from its last seq + 1.
        commits.sort(key=lambda c: not c.slow)
        next_seq = {b: max((c.seq for c in by_bucket[b]), default=0) + 1 for b in per_bucket}
        for commit in commits:
            commit.seq, next_seq[commit.bucket] = next_seq[commit.bucket], next_seq[commit.bucket] + 1

        result, landed = WriteResult(), []
        left = list(commits)
        try:
            slow = [c for c in commits if c.slow]
            counted: set[str] = set()
            for start in range(0, len(slow), _ITEMS_PER_TRANSACTION - 1):
                chunk = slow[start:start + _ITEMS_PER_TRANSACTION - 1]
                fresh_names = sorted({m for c in chunk for m in c.series if m in new_set} - counted)
                self._commit_with_registry(run_id, experiment, chunk, registry, fresh_names,
                                           {c.bucket: max((s.seq for s in by_bucket[c.bucket]), default=0) for c in chunk})
                counted.update(fresh_names)
                landed += chunk
                left = left[len(chunk):]
            for commit in [c for c in commits if not c.slow]:
                self._put_commit(run_id, commit)
                landed.append(commit)
                left.remove(commit)
        except _Retry:
            pass
        for commit in landed:
            result.written += commit.size
            result.stored += [replace(p.point, step=step) for entries in commit.series.values() for p, step in entries]
        retry = [p for commit in left for p in commit.pendings()]

        # Is a fold due? What stays unfolded: the open buckets' commits after the registry's seq, and ours.
        unfolded = [c for c in open_commits if _unfolded(c, registry.open)]
        n_commits = len(unfolded) + len(landed)
        n_points = sum(int(c.item.count) for c in unfolded) + sum(c.size for c in landed)
        n_bytes = sum(c.size for c in unfolded) + sum(c.size * 24 for c in landed)
        names = {m for c in unfolded for m in c.series()} | {m for c in landed for m in c.series}
        open_buckets = set(registry.open) | {c.bucket for c in landed}
        due = bool(landed) and (
            (n_commits >= FOLD_MIN_COMMITS and n_points >= FOLD_POINTS_PER_METRIC * (len(names) + 4))
            or n_bytes >= FOLD_MAX_BYTES or n_commits >= FOLD_MAX_COMMITS or len(open_buckets) > FOLD_MAX_OPEN_BUCKETS)
        return result, retry, dropped, due

    def _put_commit(self, run_id: str, commit: _Commit) -> None:
        try:
            commit.item(run_id).save(condition=MetricSegmentItem.pk.does_not_exist())
        except PutError as error:
            if _failure_code(error) in _RETRYABLE_CODES | {"ConditionalCheckFailedException"}:
                raise _Retry() from None
            raise

    def _commit_with_registry(self, run_id: str, experiment: str, commits: list[_Commit], registry: _Registry,
                              new_metrics: list[str], last_seqs: dict[int, int]) -> None:
        """Commits into closed buckets or naming new metrics: one transaction with the registry,
        which reopens their buckets and counts the new metrics (conditional on its version, so
        concurrent writers of new metrics, and folds, are serialised)."""
        open_ = dict(registry.open)
        for commit in commits:
            open_.setdefault(commit.bucket, last_seqs[commit.bucket])  # all before it is folded (it was closed)
        version = registry.next_version()
        actions = [MetricCountItem.version.set(version), MetricCountItem.metrics.set(registry.metrics + len(new_metrics)),
                   MetricCountItem.open.set(_open_json(open_)), MetricCountItem.run_id.set(run_id),
                   MetricCountItem.experiment.set(experiment)]
        condition = registry.condition()
        if new_metrics:
            condition &= MetricCountItem.metrics.does_not_exist() | \
                (MetricCountItem.metrics <= self.metrics_per_run_max - len(new_metrics))
        try:
            with TransactWrite(connection=self._connection()) as transaction:
                for commit in commits:
                    transaction.save(commit.item(run_id), condition=MetricSegmentItem.pk.does_not_exist())
                transaction.update(MetricCountItem(*MetricCountItem.key(run_id)), actions=actions, condition=condition)
        except TransactWriteError as error:
            reasons = [getattr(r, "code", None) for r in (error.cancellation_reasons or [])]
            if reasons or _failure_code(error) in _RETRYABLE_CODES | {"TransactionCanceledException",
                                                                       "TransactionInProgressException"}:
                raise _Retry() from None
            raise
        registry.exists, registry.version, registry.open = True, version, open_
        registry.metrics += len(new_metrics)

    # -- folding -------------------------------------------------------------------------------
    def fold(self, run_id: str, close_all: bool = False) -> FoldResult:
        """Fold the run's unfolded commits into its summary items and close its older open buckets
        (all of them with `close_all`, e.g. when the run has ended). Safe to run at any time, from
        anywhere, concurrently with writers and other folds; summaries read the same before and after."""
        token = FOLDING.set(True)
        try:
            return self._fold(run_id, close_all)
        finally:
            FOLDING.reset(token)

    def _fold(self, run_id: str, close_all: bool) -> FoldResult:
        result = FoldResult()
        registry = self._registry(run_id)
        if not registry.exists or not registry.open:
            return result
        # Claim a fold number: it orders the folds' summary writes, and moving the version makes an
        # earlier fold unable to move the registry after us.
        number, version = registry.fold + 1, registry.next_version()
        try:
            MetricCountItem(*MetricCountItem.key(run_id)).update(
                actions=[MetricCountItem.fold.set(number), MetricCountItem.version.set(version)], condition=registry.condition())
        except Exception as error:  # noqa: BLE001 - a writer or another fold moved it: a later fold does the work
            log.info("fold of run %s not started: %s", run_id, _failure_code(error) or error)
            result.aborted = True
            return result
        registry.version = version
        commits = {b: [c for c in found if c.seq > registry.open[b]]
                   for b, found in _query_buckets(run_id, sorted(registry.open)).items()}
        newest = max(registry.open)
        closing = sorted(b for b in registry.open if close_all or b != newest)
        context = FOLDING.get()

        def close(bucket: int) -> int | None:
            """1: closed now, 0: already closed, None: a writer landed first."""
            FOLDING.set(context)
            last = commits[bucket][-1] if commits[bucket] else None
            if last is not None and last.marker:
                return 0  # closed by a fold that did not finish
            seq = last.seq + 1 if last is not None else registry.open[bucket] + 1
            marker = MetricSegmentItem(MetricSegmentItem.shared_partition(run_id), commit_sk(bucket, seq), run_id=run_id,
                                       marker=True, count=0, min_step=0, max_step=0)
            try:
                marker.save(condition=MetricSegmentItem.pk.does_not_exist())
            except PutError as error:  # a writer landed there first: fold again later
                log.info("fold of run %s: bucket %d moved (%s)", run_id, bucket, _failure_code(error))
                return None
            commits[bucket].append(_Stored(bucket, seq, marker))
            return 1

        with ThreadPoolExecutor(_FOLD_THREADS) as pool:
            closed = list(pool.map(close, closing))
        result.markers = sum(c or 0 for c in closed)
        if None in closed:
            result.aborted = True
            return result
        through = {b: max([registry.open[b]] + [c.seq for c in commits[b]]) for b in registry.open}
        data = [c for b in sorted(commits) for c in commits[b] if _unfolded(c, registry.open)]
        result.commits = len(data)
        touched = sorted({m for c in data for m in c.series()})
        items = self._summary_items(run_id, touched)
        base = _current(items, {}, [], set(touched))  # the bases alone
        merged = _current(items, registry.open, data, set(touched))
        # Each item's folded seqs: ours, or its own where a fold that read more already wrote it.
        folded = {m: {b: max(through[b], _folded_of(items.get(m)).get(b, 0)) for b in through} for m in touched}
        changed = [m for m in touched if m not in base or merged[m].count != base[m].count or _folded_of(items[m]) != folded[m]]

        def write(metric: str) -> bool:
            item = MetricSummaryItem(MetricSummaryItem.partition(run_id), metric, run_id=run_id,
                                     experiment=registry.experiment or (items[metric].experiment if metric in items else ""),
                                     metric=metric, summary=merged[metric].to_json(), folded=_open_json(folded[metric]), fold=number,
                                     version=int(items[metric].version) + 1 if metric in items else 1,
                                     own=bool(items[metric].own) if metric in items else False)
            try:  # never over a later fold's write (each write is self-consistent; this keeps them monotone)
                item.save(condition=MetricSummaryItem.pk.does_not_exist() | MetricSummaryItem.fold.does_not_exist()
                          | (MetricSummaryItem.fold < number))
                return True
            except PutError as error:
                log.info("fold %d of run %s: summary of %r moved (%s)", number, run_id, metric, _failure_code(error))
                return False

        with ThreadPoolExecutor(_FOLD_THREADS) as pool:
            outcomes = list(pool.map(lambda m: (FOLDING.set(context), write(m))[1], changed))
        result.items = sum(outcomes)
        if not all(outcomes):
            result.aborted = True
            return result
        remaining = {b: through[b] for b in registry.open if b not in closing}
        try:
            MetricCountItem(*MetricCountItem.key(run_id)).update(
                actions=[MetricCountItem.open.set(_open_json(remaining)), MetricCountItem.version.set(version + 1)],
                condition=registry.condition())
        except Exception as error:  # noqa: BLE001 - moved by a writer: the summary items are right; a later fold ends it
            log.info("fold %d of run %s: registry moved (%s)", number, run_id, _failure_code(error) or error)
            result.aborted = True
        return result

    # -- state reads -------------------------------------------------------------------------------
    def _summary_items(self, run_id: str, metrics: Sequence[str]) -> dict[str, MetricSummaryItem]:
        found = {}
        for start in range(0, len(metrics), _BATCH_GET_MAX):
            keys = [(MetricSummaryItem.partition(run_id), m) for m in metrics[start:start + _BATCH_GET_MAX]]
            for item in MetricSummaryItem.batch_get(keys, consistent_read=True):
                found[item.sk] = item
        return found

    def _metric_count(self, run_id: str) -> int:
        return self._registry(run_id).metrics

    def _held_digests(self, run_id: str, identified: list[_Pending], by_bucket: dict[int, list[_Stored]],
                      items: dict[str, MetricSummaryItem]) -> set[bytes]:
        """Identity digests of the stored points in the buckets (and metrics) these points fall in."""
        metrics = {p.point.metric for p in identified}
        held: set[bytes] = set()

        def add(segment, series) -> None:
            if segment.ids:
                raw = bytes(segment.ids)
                held.update(raw[i:i + _DIGEST_BYTES] for i in range(0, len(raw), _DIGEST_BYTES))
            for metric, pts in series.items():
                if metric in metrics:
                    held.update(natural_digest(metric, s, t) for s, t, _v in pts)
                    held.update(_digest("t", metric, t) for _s, t, _v in pts)

        for commits in by_bucket.values():
            for commit in commits:
                add(commit.item, commit.series())
        # Round 2 kept a metric's large batches in its own partition.
        own = [m for m in sorted(metrics) if m in items and items[m].own]
        for metric in own:
            for low, high in _ranges([f"B#{b:012d}" for b in sorted(by_bucket)]):
                condition = MetricSegmentItem.sk.between(f"{low}#", f"{high}#~")
                for segment in MetricSegmentItem.query(MetricSegmentItem.partition(run_id, metric), condition, consistent_read=True):
                    add(segment, {metric: unpack(segment.points)})
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
        parts = []
        for segment in MetricSegmentItem.query(MetricSegmentItem.partition(run_id, metric),  # round-2 own segments
                                               filter_condition=window, attributes_to_get=["points"]):
            parts.append(unpack_arrays(bytes(segment.points)))
        for segment in MetricSegmentItem.query(MetricSegmentItem.shared_partition(run_id), filter_condition=window,
                                               attributes_to_get=["points", "count", "marker"]):
            if not segment.marker and segment.points is not None and int(segment.count):
                found = unpack_many_arrays(bytes(segment.points), metric)
                if found is not None:
                    parts.append(found)
        if not parts:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0, dtype=np.float64)
        return _in_series_order(parts)

    def run_series(self, run_id: str, metrics: Iterable[str]) -> dict[str, tuple[list[int], list[float]]]:
        """metric -> (steps, values) of several metrics of a run, each exactly as `series` orders it
        (step, timestamp, value), read with consistent Queries: the run's commits once for all of
        them (one Query, where `series` makes two per metric), plus the round-2 own segments of the
        metrics that have them. For the experiment index's series columns (skytune.index.series),
        which the stream consumer refreshes after each delivery."""
        wanted = set(metrics)
        if not wanted:
            return {}
        parts: dict[str, list] = {metric: [] for metric in wanted}
        own = [item.sk for item in MetricSummaryItem.query(MetricSummaryItem.partition(run_id), consistent_read=True,
                                                           attributes_to_get=["sk", "own"]) if item.own and item.sk in wanted]
        for metric in own:
            for segment in MetricSegmentItem.query(MetricSegmentItem.partition(run_id, metric), consistent_read=True,
                                                   attributes_to_get=["points"]):
                parts[metric].append(unpack_arrays(bytes(segment.points)))
        for segment in MetricSegmentItem.query(MetricSegmentItem.shared_partition(run_id), consistent_read=True,
                                               attributes_to_get=["points", "count", "marker"]):
            if not segment.marker and segment.points is not None and int(segment.count):
                for metric, arrays in unpack_all_arrays(bytes(segment.points)).items():
                    if metric in wanted:
                        parts[metric].append(arrays)
        out = {}
        for metric, found in parts.items():
            if found:
                steps, _, values = _in_series_order(found)
                out[metric] = (steps.tolist(), values.tolist())
        return out

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
        Exact: each metric's summary item merged with the run's unfolded commits (`_current`).
        `metrics`: only these (one BatchGetItem per 100 (run, metric) keys), else every metric of
        each run (one Query per run). A run with open buckets costs one more Query per open bucket
        (a folded run none). Runs without metrics map to {}."""
        encode = (lambda summary: summary.public()) if public else (lambda summary: summary.to_json())
        run_ids = list(dict.fromkeys(run_ids))
        names = sorted(set(metrics)) if metrics is not None else None
        # The registries first (consistently): the items and commits read after them are at least as new.
        registries: dict[str, _Registry] = {run_id: _Registry() for run_id in run_ids}
        keys = [MetricCountItem.key(r) for r in run_ids]
        for start in range(0, len(keys), _BATCH_GET_MAX):
            for item in MetricCountItem.batch_get(keys[start:start + _BATCH_GET_MAX], consistent_read=True):
                registries[item.run_id] = _Registry.of(item)
        items: dict[str, dict[str, MetricSummaryItem]] = {run_id: {} for run_id in run_ids}
        attributes = ["pk", "sk", "run_id", "summary", "folded"]
        if names is not None:
            for consistent in (False, True):  # a run with unfolded commits needs items as new as its registry
                wanted = [(MetricSummaryItem.partition(r), m) for r in run_ids if bool(registries[r].open) == consistent
                          for m in names]
                for start in range(0, len(wanted), _BATCH_GET_MAX):
                    for item in MetricSummaryItem.batch_get(wanted[start:start + _BATCH_GET_MAX], consistent_read=consistent,
                                                            attributes_to_get=attributes):
                        items[item.run_id][item.sk] = item
        else:
            for run_id in run_ids:
                for item in MetricSummaryItem.query(MetricSummaryItem.partition(run_id), attributes_to_get=attributes,
                                                    consistent_read=bool(registries[run_id].open)):
                    items[run_id][item.sk] = item
        out: dict[str, dict] = {}
        for run_id in run_ids:
            open_ = registries[run_id].open
            commits = [c for b, after in sorted(open_.items()) for c in _query_commits(run_id, b, after)]
            current = _current(items[run_id], open_, commits, set(names) if names is not None else None)
            out[run_id] = {metric: encode(summary) for metric, summary in sorted(current.items())}
        return out

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
