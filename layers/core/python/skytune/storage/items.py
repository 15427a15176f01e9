"""Item types of the tracking table (single-table design).

Key layout (pk / sk; gsi1 lists children of a parent; gsi2 looks items up by artifact URI):

| item              | pk             | sk                     | gsi1pk                   | gsi1sk   | gsi2pk      | gsi2sk                     |
|-------------------|----------------|------------------------|--------------------------|----------|-------------|----------------------------|
| experiment        | EXP#<name>     | EXP                    | EXPERIMENTS              | <name>   |             |                            |
| trial             | EXP#<exp>      | TRIAL#<name>           |                          |          |             |                            |
| run name claim    | EXP#<exp>      | RUNNAME#<name>         |                          |          |             |                            |
| run               | RUN#<run_id>   | RUN                    | RUNS#<exp>               | <run_id> |             |                            |
| trial membership  | RUN#<run_id>   | TRIAL#<trial>          | TRIALRUNS#<exp>#<trial>  | <run_id> |             |                            |
| child link        | RUN#<parent>   | CHILD#<child run_id>   |                          |          |             |                            |
| artifact link     | RUN#<run_id>   | ART#<direction>#<name> |                          |          | ART#<uri>   | <direction>#<run_id>#<name> |

Why this shape:
- Everything an experiment owns by name sits in its partition (`EXP#<exp>`), so "does it have
  trials or runs" and a cascading delete are one Query; the name claim makes (experiment, run
  name) unique inside the transaction that creates the run.
- Everything a run owns sits in its partition (`RUN#<run_id>`), so deleting a run is one Query
  plus deletes, the run item last (a retried delete finishes the job).
- Search reads one item per run (gsi1 `RUNS#<exp>`, projection ALL): params, tags and trial names
  are on the run item; metric summaries are the metric store's (`skytune.metrics`, one item per
  metric in the metrics table, read through `MetricStore.read_summaries`), so the run item does not
  grow with the number of metrics.
"""
from __future__ import annotations

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from skytune.storage import table_model

RUN_SK = "RUN"
EXPERIMENT_SK = "EXP"


class ListingIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class ArtifactIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


def experiment_pk(name: str) -> str:
    return f"EXP#{name}"


def run_pk(run_id: str) -> str:
    return f"RUN#{run_id}"


@table_model("tracking_table")
class ExperimentItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=EXPERIMENT_SK)
    gsi1pk = UnicodeAttribute(default="EXPERIMENTS")
    gsi1sk = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    tags = MapAttribute(default=dict)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()

    listing = ListingIndex()

    @staticmethod
    def key(name: str) -> tuple[str, str]:
        return experiment_pk(name), EXPERIMENT_SK


@table_model("tracking_table")
class TrialItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    experiment = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    tags = MapAttribute(default=dict)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()

    @staticmethod
    def key(experiment: str, name: str) -> tuple[str, str]:
        return experiment_pk(experiment), f"TRIAL#{name}"


@table_model("tracking_table")
class RunNameItem(Model):
    """Claims (experiment, run name) for one run: written with the run in one transaction."""

    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    run_id = UnicodeAttribute()

    @staticmethod
    def key(experiment: str, name: str) -> tuple[str, str]:
        return experiment_pk(experiment), f"RUNNAME#{name}"


@table_model("tracking_table")
class RunItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=RUN_SK)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    run_id = UnicodeAttribute()
    experiment = UnicodeAttribute()
    name = UnicodeAttribute()
    trials = UnicodeSetAttribute(null=True)  # DynamoDB has no empty set: absent means none
    parent = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    start_time = UTCDateTimeAttribute(null=True)
    end_time = UTCDateTimeAttribute(null=True)
    source = UnicodeAttribute(null=True)
    client_token = UnicodeAttribute(null=True)
    params = MapAttribute(default=dict)  # typed values: N, S or BOOL
    tags = MapAttribute(default=dict)
    inputs = ListAttribute(default=list)  # of artifact maps
    outputs = ListAttribute(default=list)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()

    listing = ListingIndex()

    @staticmethod
    def key(run_id: str) -> tuple[str, str]:
        return run_pk(run_id), RUN_SK

    @staticmethod
    def listing_key(experiment: str) -> str:
        return f"RUNS#{experiment}"


@table_model("tracking_table")
class TrialMembershipItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    run_id = UnicodeAttribute()
    experiment = UnicodeAttribute()
    trial = UnicodeAttribute()

    listing = ListingIndex()

    @staticmethod
    def key(run_id: str, trial: str) -> tuple[str, str]:
        return run_pk(run_id), f"TRIAL#{trial}"

    @staticmethod
    def listing_key(experiment: str, trial: str) -> str:
        return f"TRIALRUNS#{experiment}#{trial}"


@table_model("tracking_table")
class ChildLinkItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    child_id = UnicodeAttribute()

    @staticmethod
    def key(parent_id: str, child_id: str) -> tuple[str, str]:
        return run_pk(parent_id), f"CHILD#{child_id}"


@table_model("tracking_table")
class ArtifactLinkItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    run_id = UnicodeAttribute()
    experiment = UnicodeAttribute()
    direction = UnicodeAttribute()  # "input" | "output"
    name = UnicodeAttribute()
    uri = UnicodeAttribute()
    media_type = UnicodeAttribute(null=True)
    digest = UnicodeAttribute(null=True)
    size = NumberAttribute(null=True)

    by_uri = ArtifactIndex()

    @staticmethod
    def key(run_id: str, direction: str, name: str) -> tuple[str, str]:
        return run_pk(run_id), f"ART#{direction}#{name}"

    @staticmethod
    def uri_key(uri: str) -> str:
        return f"ART#{uri}"
