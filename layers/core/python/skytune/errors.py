"""Domain errors. Each maps to one HTTP status in the API; `field` names what the caller must fix.

Every error the API answers has the one shape `{"error": {"code", "message", "field", "details"}}`
and one of the codes of `ERROR_CODES` (the OpenAPI document lists them as an enum, and a test
checks that every code the code base can raise is there). Finer kinds go in `details.code` (the
search language's FilterSyntaxError, FilterValidationError, InvalidCursor).
"""
from __future__ import annotations

from typing import Any


class SkytuneError(Exception):
    status = 400
    code = "ValidationError"

    def __init__(self, message: str, *, field: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class InvalidInput(SkytuneError):
    status = 400
    code = "ValidationError"


class NotFound(SkytuneError):
    status = 404
    code = "NotFound"


class Conflict(SkytuneError):
    status = 409
    code = "Conflict"


class PayloadTooLarge(SkytuneError):
    status = 413
    code = "PayloadTooLarge"


class MethodNotAllowed(SkytuneError):
    status = 405
    code = "MethodNotAllowed"


class UnsupportedMediaType(SkytuneError):
    status = 415
    code = "UnsupportedMediaType"


#: code -> (HTTP status, when). The complete list: docs/search.md and the OpenAPI document show it.
ERROR_CODES: dict[str, tuple[int, str]] = {
    "ValidationError": (400, "the request breaks a rule; `field` names what to fix (search problems: `details.code`)"),
    "NotFound": (404, "no such route, or the named object does not exist"),
    "MethodNotAllowed": (405, "the path exists but not with this method; `details.allowed` lists the methods"),
    "Conflict": (409, "the request conflicts with the stored state (a taken name, a changed param, a concurrent edit)"),
    "PayloadTooLarge": (413, "the request or an item it would create is too large; `details` names the limit"),
    "UnsupportedMediaType": (415, "the body is not application/json; `field` is content-type"),
}
