"""Function settings, parsed once from the environment at cold start (a missing variable fails there)."""
from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field


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
