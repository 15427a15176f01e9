"""What the tracking routers share: the error responses they document, and the metric store."""
from __future__ import annotations

from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, Field

from skytune.errors import ERROR_CODES

# Imported before the tables are bound (at cold start) so the metric store's item types get their
# table names with everyone else's.
from skytune.metrics import MetricStore
from skytune_api.context import settings

_DESCRIPTIONS = {
    400: "Invalid input; `error.field` names what to fix",
    404: "Not found",
    409: "Conflict with the stored state",
    413: "Request too large; `error.details` names the limit",
    415: "The body is not JSON (`error.field` is `content-type`)",
}


ErrorCode = Literal[tuple(ERROR_CODES)]  # type: ignore[valid-type]


class ErrorDetail(BaseModel):
    code: ErrorCode = Field(description="; ".join(f"`{code}` ({status}): {when}"
                                                  for code, (status, when) in ERROR_CODES.items()))
    message: str
    field: str | None = Field(default=None, description="The offending field as the caller wrote it: keys joined "
                              "by dots, list positions in brackets (`metrics[0].step`); a path or query parameter "
                              "by its name; `body` for the body as a whole")
    details: Any = None


class ErrorEnvelope(BaseModel):
    error: ErrorDetail


def errors(*statuses: int, **success: dict) -> dict:
    """The `responses=` of a route: the given error statuses with the error envelope schema, plus
    the success responses passed as {status: {...}} through `success` ("s201" -> 201); without
    any, 200. Powertools documents only the responses given once `responses=` is set, and fills a
    success response without "content" from the route's return annotation."""
    responses: dict[int, dict] = {
        status: {"description": _DESCRIPTIONS[status], "content": {"application/json": {"model": ErrorEnvelope}}}
        for status in statuses
    }
    for key, value in (success or {"s200": {"description": "Successful Response"}}).items():
        responses[int(key.lstrip("s"))] = value
    return responses


@cache
def metric_store() -> MetricStore:
    settings()  # binds the tables
    return MetricStore()
