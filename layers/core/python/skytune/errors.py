"""Domain errors. Each maps to one HTTP status in the API; `field` names what the caller must fix."""
from __future__ import annotations

from typing import Any


class SkytuneError(Exception):
    status = 400
    code = "BadRequest"

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
