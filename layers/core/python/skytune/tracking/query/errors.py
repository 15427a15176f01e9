"""Errors raised by the query language.

Every error carries the 0-based character offset into the text the caller sent, so the HTTP
layer can answer 400 with ``{"position": ..., "expected": ...}`` and the user can see where the
problem is without guessing.
"""

from __future__ import annotations

from typing import Any


class QueryError(ValueError):
    """Base class: a problem the caller can fix by changing the query text."""

    code = "InvalidQuery"

    def __init__(self, message: str, *, position: int | None = None, expected: str | None = None):
        self.position = position
        self.expected = expected
        self.detail = message
        text = message if position is None else f"position {position}: {message}"
        super().__init__(text)

    @property
    def message(self) -> str:
        return str(self)

    def to_dict(self) -> dict[str, Any]:
        """The ``details`` object of the API's error envelope: ``code`` says which kind of query
        problem it is (the envelope's own ``code`` is ValidationError, as for every 400)."""
        return {"code": self.code, "position": self.position, "expected": self.expected, "message": str(self)}


class FilterSyntaxError(QueryError):
    """The text does not follow the grammar.

    ``str(error)`` reads like ``position 17: expected a value after '>' but found end of input``.
    """

    code = "FilterSyntaxError"

    def __init__(self, *, position: int, expected: str, found: str, after: str | None = None):
        self.found = found
        self.after = after
        where = f" after {after}" if after else ""
        super().__init__(f"expected {expected}{where} but found {found}", position=position, expected=expected)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "found": self.found}


class FilterValidationError(QueryError):
    """The text parses but names something that does not exist or cannot be compared
    (an unknown statistic or attribute, a string compared with a metric, ...)."""

    code = "FilterValidationError"

    def __init__(self, message: str, *, position: int | None = None, expected: str | None = None):
        full = f"{message}; expected {expected}" if expected else message
        super().__init__(full, position=position, expected=expected)


class CursorError(QueryError):
    """A pagination cursor that is malformed or was made for a different query."""

    code = "InvalidCursor"
