"""Storage items of the metric store.

metrics table, one item per (run, metric, batch):   pk = RUN#<run_id>#M#<metric>   sk = SEG#<segment id>
  or, for the metrics of a batch with few points each, one shared item:
                                                    pk = RUN#<run_id>#SHARED       sk = SEG#<segment id>
tracking table, the run item (owned by tracking):   pk = RUN#<run_id>              sk = RUN
    metric_summaries: map metric -> Summary JSON;   metrics_version: optimistic lock for the summaries
"""
from __future__ import annotations

from pynamodb.attributes import BinaryAttribute, MapAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.models import Model

from skytune.storage import table_model


@table_model("metrics_table")
class MetricSegmentItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    count = NumberAttribute()
    min_step = NumberAttribute()
    max_step = NumberAttribute()
    points = BinaryAttribute(legacy_encoding=False)
    metrics = UnicodeSetAttribute(null=True)  # shared segments: the metrics inside

    @staticmethod
    def partition(run_id: str, metric: str) -> str:
        return f"RUN#{run_id}#M#{metric}"

    @staticmethod
    def shared_partition(run_id: str) -> str:
        return f"RUN#{run_id}#SHARED"


@table_model("tracking_table")
class RunMetricsItem(Model):
    """The metric-summary part of the run item; other attributes of the item are never touched here."""

    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    metric_summaries = MapAttribute(default=dict)
    metrics_version = NumberAttribute(default=0)

    @staticmethod
    def key(run_id: str) -> tuple[str, str]:
        return f"RUN#{run_id}", "RUN"
