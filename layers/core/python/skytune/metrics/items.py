"""Storage items of the metric store (all in the metrics table; no item grows with the number of
metrics of a run, so a run holds `METRICS_PER_RUN_MAX` metrics whatever their names).

| item                       | pk                       | sk                         | attributes |
|----------------------------|--------------------------|----------------------------|------------|
| commit: one delivery's points in one bucket | RUN#<run_id>#P | B#<bucket>#<seq>      | run_id, cid, points, ids, count, min_step, max_step |
| close marker of a bucket   | RUN#<run_id>#P           | B#<bucket>#<seq>           | run_id, marker |
| summary of one metric (base) | RUN#<run_id>#S         | <metric>                   | run_id, experiment, metric, summary (JSON), folded (JSON), fold, version |
| registry of the run        | RUN#<run_id>#N           | COUNT                      | run_id, experiment, metrics (count), open (JSON), version, fold |
| own segment (round 2, read only) | RUN#<run_id>#M#<metric> | B#<bucket>#<segment id> | run_id, points, ids, ... |
| progress of a log delivery | DELIVERY#<digest>        | PROGRESS                   | run_id, next_event (only when its time budget ran out) |

- `bucket` is the points' timestamp in 10-minute windows (zero-padded): a delivery looks up the point
  identities it may repeat by reading only the commits of its buckets.
- `seq` numbers a bucket's commits 1, 2, 3... in arrival order, without gaps: a writer puts at the
  bucket's last seq + 1 on the condition that it does not exist, so two writers of one bucket are
  serialised (the loser re-reads, and drops the points the winner stored).
- A summary item is a *base*: the metric's summary over the commits `folded` lists (bucket -> last
  seq folded); the commits after it in the run's open buckets are the metric's unfolded deltas, added
  on every read (see store.py: "Folding").
- `ids`: 8-byte identity digests of the points whose identity is not (metric, step, timestamp)
  (log event ids, metric-stream dimensions); the others' are computed from the points on reading.
- Every item carries `run_id` (and summary items `experiment`) so a DynamoDB Streams consumer sees
  which run changed.
"""
from __future__ import annotations

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.models import Model

from skytune.storage import table_model

BUCKET_MS = 600_000


def bucket_key(timestamp_ms: int) -> str:
    return f"B#{timestamp_ms // BUCKET_MS:012d}"


@table_model("metrics_table")
class MetricSegmentItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    run_id = UnicodeAttribute(null=True)
    count = NumberAttribute()
    min_step = NumberAttribute()
    max_step = NumberAttribute()
    points = BinaryAttribute(legacy_encoding=False, null=True)
    ids = BinaryAttribute(legacy_encoding=False, null=True)
    metrics = UnicodeSetAttribute(null=True)  # round-2 shared segments: the metrics inside
    cid = UnicodeAttribute(null=True)  # commits: content address of the points as delivered
    marker = BooleanAttribute(null=True)  # a bucket's close marker (no points)

    @staticmethod
    def partition(run_id: str, metric: str) -> str:
        return f"RUN#{run_id}#M#{metric}"

    @staticmethod
    def shared_partition(run_id: str) -> str:
        return f"RUN#{run_id}#P"


@table_model("metrics_table")
class MetricSummaryItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # the metric name
    run_id = UnicodeAttribute()
    experiment = UnicodeAttribute()
    metric = UnicodeAttribute()
    summary = UnicodeAttribute()  # Summary.to_json(): exact over the whole float range
    version = NumberAttribute()
    own = BooleanAttribute(default=False)  # round 2: the metric has own segments somewhere
    folded = UnicodeAttribute(null=True)  # JSON {bucket: last seq folded into `summary`}
    fold = NumberAttribute(null=True)  # the number of the fold that wrote the item last

    @staticmethod
    def partition(run_id: str) -> str:
        return f"RUN#{run_id}#S"


@table_model("metrics_table")
class MetricCountItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    run_id = UnicodeAttribute()
    experiment = UnicodeAttribute()
    metrics = NumberAttribute(default=0)
    open = UnicodeAttribute(null=True)  # JSON {bucket: seq through which every summary item is folded}
    version = NumberAttribute(null=True)  # moves on every registry change (new metrics, reopened bucket, fold)
    fold = NumberAttribute(null=True)  # folds started on the run

    @staticmethod
    def key(run_id: str) -> tuple[str, str]:
        return f"RUN#{run_id}#N", "COUNT"


@table_model("metrics_table")
class DeliveryProgressItem(Model):
    """How far a log delivery got when its time budget ran out: its retry starts there."""

    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    run_id = UnicodeAttribute()
    next_event = NumberAttribute()

    @staticmethod
    def key(delivery: str) -> tuple[str, str]:
        return f"DELIVERY#{delivery}", "PROGRESS"
