"""Function settings, parsed once from the environment at cold start (a missing variable fails there)."""
from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    stage: str = Field(alias="STAGE")
    tracking_table: str = Field(alias="TRACKING_TABLE")
    metrics_table: str = Field(alias="METRICS_TABLE")
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE")
    # The experiment index (skytune.index); functions without it search by scanning run items.
    index_table: str | None = Field(default=None, alias="INDEX_TABLE")

    @classmethod
    def from_environment(cls) -> "Settings":
        return cls.model_validate(dict(os.environ))


# -- tuning policy (issue 10): what an API caller may ask a trial to run as -------------------------
# Environment variables set by infra/constructs/tuning.py from the stage config (cdk.json context).
ENV_TRAINING_ROLE_ARNS = "SKYTUNE_TRAINING_ROLE_ARNS"
ENV_TRIAL_INSTANCE_TYPES = "SKYTUNE_TRIAL_INSTANCE_TYPES"
ENV_TRIAL_MAX_INSTANCE_COUNT = "SKYTUNE_TRIAL_MAX_INSTANCE_COUNT"
ENV_TRIAL_MAX_RUNTIME_SECONDS = "SKYTUNE_TRIAL_MAX_RUNTIME_SECONDS"


def _csv(value):
    # Lists travel through Lambda environment variables comma-separated (no JSON quoting to get wrong).
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class TuningPolicySettings(BaseModel):
    """Allow-lists and caps for SageMaker trials. An unset variable means "no restriction"; the
    deployed stack always sets the role allow-list (docs/security.md)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    training_role_arns: list[str] | None = Field(default=None, alias=ENV_TRAINING_ROLE_ARNS)
    trial_instance_types: list[str] | None = Field(default=None, alias=ENV_TRIAL_INSTANCE_TYPES)
    trial_max_instance_count: int | None = Field(default=None, ge=1, alias=ENV_TRIAL_MAX_INSTANCE_COUNT)
    trial_max_runtime_seconds: int | None = Field(default=None, ge=1, alias=ENV_TRIAL_MAX_RUNTIME_SECONDS)

    _lists = field_validator("training_role_arns", "trial_instance_types", mode="before")(_csv)

    @classmethod
    def from_environment(cls) -> "TuningPolicySettings":
        # Empty variables count as unset (CloudFormation cannot omit a variable conditionally with ease).
        return cls.model_validate({k: v for k, v in os.environ.items() if v != ""})
