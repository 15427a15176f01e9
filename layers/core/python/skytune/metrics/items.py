"""Storage items of the metric store (all in the metrics table; no item grows with the number of
metrics of a run, so a run holds `METRICS_PER_RUN_MAX` metrics whatever their names).

| item                      | pk                       | sk                            | attributes |
|---------------------------|--------------------------|-------------------------------|------------|
| summary of one metric     | RUN#<run_id>#S           | <metric>                      | run_id, experiment, metric, summary (JSON), version, own |
| metric count of the run   | RUN#<run_id>#N           | COUNT                         | run_id, experiment, metrics |
| shared segment of points  | RUN#<run_id>#P           | B#<bucket>#<segment id>       | run_id, metrics (set), points, ids, count, min_step, max_step |
| own segment of one metric | RUN#<run_id>#M#<metric>  | B#<bucket>#<segment id>       | run_id, points, ids, count, min_step, max_step |
| progress of a log delivery| DELIVERY#<digest>        | PROGRESS                      | run_id, next_event (only when its time budget ran out) |

- `bucket` is the points' timestamp in 10-minute windows (zero-padded): a delivery looks up the point
  identities it may repeat by reading only the segments of its buckets.
- A segment holds one delivery's points of one bucket: the metrics with >= 100 points in it get their
  own segment (a series read then skips the others), the rest share one.
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
    points = BinaryAttribute(legacy_encoding=False)
    ids = BinaryAttribute(legacy_encoding=False, null=True)
    metrics = UnicodeSetAttribute(null=True)  # shared segments: the metrics inside

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
    own = BooleanAttribute(default=False)  # the metric has own segments somewhere

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
