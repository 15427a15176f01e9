"""Validation shared by the use cases: turn a failed rule into the API's 4xx naming the field."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from skytune.errors import InvalidInput
from skytune.tracking.records import validate_tags

T = TypeVar("T")


def checked(rule: Callable[[T], T], field: str) -> Callable[[T], T]:
    """`rule` with its ValueError reported as InvalidInput(field=field)."""

    def check(value: T) -> T:
        try:
            return rule(value)
        except ValueError as error:
            raise InvalidInput(f"{field}: {error}", field=field) from None

    return check


checked_tags = checked(validate_tags, "tags")
