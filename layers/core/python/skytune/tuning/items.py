"""Tuning items in the tracking table (single-table design).

| item   | pk              | sk               | gsi1pk       | gsi1sk  |
|--------|-----------------|------------------|--------------|---------|
| job    | TUNING#<name>   | JOB              | TUNING_JOBS  | <name>  |
| trial  | TUNING#<name>   | TRIAL#<nnnnnn>   |              |         |
| claim  | TUNING#<name>   | CLAIM#<key>      |              |         |
| point  | TUNING#<name>   | POINT#<digest>   |              |         |

A job and its trials share a partition: describe and list read one partition. The claim item is
the idempotency record of one claim step (key = execution + worker + iteration), written in the
same transaction that advances the job's ``started`` counter. A point item (a ClaimItem too) reserves
one configuration for the trial that suggested it first, so parallel workers never run the same one.
"""
from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from skytune.storage import table_model
from skytune.storage.items import ListingIndex

JOB_SK = "JOB"
JOBS_LISTING = "TUNING_JOBS"


def job_pk(name: str) -> str:
    return f"TUNING#{name}"


def trial_sk(number: int) -> str:
    return f"TRIAL#{number:06d}"


@table_model("tracking_table")
class TuningJobItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default=JOB_SK)
    gsi1pk = UnicodeAttribute(default=JOBS_LISTING)
    gsi1sk = UnicodeAttribute()
    name = UnicodeAttribute()
    spec = JSONAttribute()
    fingerprint = UnicodeAttribute()
    status = UnicodeAttribute()
    started = NumberAttribute(default=0)
    in_progress = NumberAttribute(default=0)
    completed = NumberAttribute(default=0)
    failed = NumberAttribute(default=0)
    stopped = NumberAttribute(default=0)
    objective_succeeded = NumberAttribute(default=0)
    objective_failed = NumberAttribute(default=0)
    # trials started by the current execution (reset when the job continues as a new execution)
    generation = NumberAttribute(default=0)
    generation_started = NumberAttribute(default=0)
    best_trial = UnicodeAttribute(null=True)
    best_value = NumberAttribute(null=True)
    completion_reason = UnicodeAttribute(null=True)
    failure_reason = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    ended_at = UTCDateTimeAttribute(null=True)
    # history the optimiser could not use: {"count": n, "observations": [{"source", "reason"}]}
    ignored_history = JSONAttribute(null=True)

    listing = ListingIndex()


@table_model("tracking_table")
class TrialItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    job_name = UnicodeAttribute()
    number = NumberAttribute()
    name = UnicodeAttribute()
    status = UnicodeAttribute()
    hyperparameters = JSONAttribute(null=True)
    objective_value = NumberAttribute(null=True)
    objective_status = UnicodeAttribute()
    # objective curve: step (as a string key) -> value; SET curve.#step = :v is idempotent
    curve = MapAttribute(default=dict)
    # beyond AMT: further objectives' and constrained metrics' points, "<metric>@<step>" -> value
    # (SET is idempotent like the curve's); at the end, each one's final value and feasibility
    metric_points = MapAttribute(default=dict)
    final_metrics = JSONAttribute(null=True)
    feasible = BooleanAttribute(null=True)
    failure_reason = UnicodeAttribute(null=True)
    stop_reason = UnicodeAttribute(null=True)
    stop_requested = BooleanAttribute(default=False)
    worker = NumberAttribute(null=True)
    run_id = UnicodeAttribute(null=True)
    task_token = UnicodeAttribute(null=True)
    runner_ref = UnicodeAttribute(null=True)  # e.g. the SageMaker training job name
    created_at = UTCDateTimeAttribute()
    started_at = UTCDateTimeAttribute(null=True)
    ended_at = UTCDateTimeAttribute(null=True)


@table_model("tracking_table")
class ClaimItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    trial_number = NumberAttribute()
    created_at = UTCDateTimeAttribute()
