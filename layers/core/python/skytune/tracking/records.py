"""Domain records of experiment tracking, and their validation (pydantic, no storage types)."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from skytune import limits

Name = str


def validate_name(value: str) -> str:
    if not limits.NAME_PATTERN.match(value):
        raise ValueError(
            f"must be 1-{limits.NAME_MAX_LENGTH} characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def validate_tags(tags: dict[str, str]) -> dict[str, str]:
    if len(tags) > limits.TAGS_PER_ENTITY:
        raise ValueError(f"at most {limits.TAGS_PER_ENTITY} tags")
    for key, value in tags.items():
        if not 0 < len(key) <= limits.TAG_KEY_MAX_LENGTH:
            raise ValueError(f"tag key {key[:40]!r} must be 1-{limits.TAG_KEY_MAX_LENGTH} characters")
        if len(value) > limits.TAG_VALUE_MAX_LENGTH:
            raise ValueError(f"tag {key!r}: value longer than {limits.TAG_VALUE_MAX_LENGTH} characters")
    return tags


class ExperimentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Unique experiment name", examples=["mnist-cnn"])
    description: str = Field(default="", max_length=limits.DESCRIPTION_MAX_LENGTH)
    tags: dict[str, str] = Field(default_factory=dict)

    _name = field_validator("name")(validate_name)
    _tags = field_validator("tags")(validate_tags)


class Experiment(ExperimentInput):
    model_config = ConfigDict(extra="ignore")

    created_at: datetime
    updated_at: datetime
