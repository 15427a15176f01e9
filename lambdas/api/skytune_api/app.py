"""The HTTP API resolver: routes, request validation and the JSON error contract.

Built without side effects so tests and the OpenAPI generator can import it; `handler.py` binds the
tables and adds observability.
"""
from __future__ import annotations

import json

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from skytune import __version__
from skytune.errors import InvalidInput, SkytuneError, UnsupportedMediaType
from skytune.tracking import limits as tracking_limits
from skytune_api.routes import experiments, health, sources
from skytune_api.routes import lineage, runs, search, trials
from skytune_api.routes import tuning
from skytune_api.routes import artifacts

logger = Logger(child=True)


class JsonBodyValidation(OpenAPIRequestValidationMiddleware):
    """Request validation that reads JSON bodies only, as the OpenAPI document says.

    Powertools would also parse form and multipart bodies into a route's model (an API surface we
    never documented), and lets a multipart type without a boundary escape as a bare ValueError,
    a 500. Any other media type is a 415 naming the header; a body without one is read as JSON."""

    def _get_body(self, app: APIGatewayHttpResolver) -> dict:
        content_type = app.current_event.headers.get("content-type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type not in ("", content_types.APPLICATION_JSON):
            raise UnsupportedMediaType(f"the body must be {content_types.APPLICATION_JSON}, not {media_type!r}",
                                       field="content-type")
        return self._parse_json_data(app)

    def _parse_json_data(self, app: APIGatewayHttpResolver) -> dict:
        body = app.current_event.decoded_body
        return parse_json_body(body if body else "null")


def parse_json_body(text: str):
    """A request body as JSON, refusing what `json.loads` would take silently or crash on:
    duplicate keys in an object (which one would win is up to each parser: RFC 8259 §4) and
    nesting deeper than `JSON_MAX_DEPTH` (past Python's recursion limit the decoder raises
    RecursionError, a 500). Stdlib json with a pairs hook; the depth is measured without recursion."""
    try:
        value = json.loads(text, object_pairs_hook=_object_without_duplicates)
    except RecursionError:
        raise _too_deep() from None
    except json.JSONDecodeError as error:
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body", error.pos), "input": {},
                                       "msg": f"JSON decode error: {error.msg} at character {error.pos}"}]) from None
    _check_depth(value)
    return value


class DuplicateKey(ValueError):
    pass


def _object_without_duplicates(pairs: list[tuple[str, object]]) -> dict:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise InvalidInput(f"the JSON body repeats the key {duplicate[:100]!r} in one object; each key may appear once",
                           field="body", details={"duplicate_key": duplicate[:100]})
    return value


def _too_deep() -> InvalidInput:
    return InvalidInput(f"the JSON body nests objects and arrays deeper than {tracking_limits.JSON_MAX_DEPTH} levels",
                        field="body", details={"limit": "JSON_MAX_DEPTH", "max_depth": tracking_limits.JSON_MAX_DEPTH})


def _check_depth(value: object) -> None:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > tracking_limits.JSON_MAX_DEPTH:
                    raise _too_deep()
                stack.append((child, depth + 1))


app = APIGatewayHttpResolver(enable_validation=True)
# The resolver builds each route's middleware stack from this attribute on first use (pinned
# powertools version; tests/integration/test_api_regressions.py covers it).
app._request_validation_middleware = JsonBodyValidation()
app.include_router(health.router, prefix="/v1")
app.include_router(experiments.router, prefix="/v1")
app.include_router(trials.router, prefix="/v1")
app.include_router(search.router, prefix="/v1")  # before runs: /runs/search is not /runs/<run_id>
app.include_router(runs.router, prefix="/v1")
app.include_router(lineage.router, prefix="/v1")
app.include_router(sources.router, prefix="/v1")
app.include_router(tuning.router, prefix="/v1")
app.include_router(artifacts.router, prefix="/v1")  # presigned artifact uploads (skytune.artifacts)


def error_response(status: int, code: str, message: str, **extra) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"code": code, "message": message, **extra}},
    )


@app.exception_handler(SkytuneError)
def _domain_error(error: SkytuneError) -> Response:
    return Response(status_code=error.status, content_type=content_types.APPLICATION_JSON, body=error.to_dict())


@app.exception_handler(RequestValidationError)
def _invalid_request(error: RequestValidationError) -> Response:
    problems = [{"field": _field_name(item.get("loc", ())), "message": item.get("msg", "invalid")} for item in error.errors()]
    first = problems[0] if problems else {"field": "request", "message": "invalid request"}
    return error_response(400, "ValidationError", f"{first['field']}: {first['message']}", field=first["field"], details=problems)


def _field_name(location: tuple) -> str:
    """The field as the caller wrote it, in one notation for every error of the API (the one the
    core uses too): keys joined by dots, list positions in brackets. ("body", "metrics", 0, "step")
    -> "metrics[0].step"; ("body", 8) (a JSON syntax error at character 8) -> "body";
    ("query", "limit") -> "limit"; ("path", "run_id") -> "run_id"."""
    if len(location) == 2 and isinstance(location[1], int):
        return str(location[0])
    name = ""
    for part in location[1:]:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or (str(location[0]) if location else "request")


@app.not_found
def _not_found(_: NotFoundError) -> Response:
    path, method = app.current_event.path, app.current_event.http_method.upper()
    allowed = _allowed_methods(path)
    if allowed and method not in allowed:
        response = error_response(405, "MethodNotAllowed", f"{method} is not allowed on {path}",
                                  details={"allowed": allowed})
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return error_response(404, "NotFound", f"no route for {method} {path}")


def _allowed_methods(path: str) -> list[str]:
    """Methods registered for `path`. Powertools answers 404 for a known path with the wrong method;
    HTTP says 405 with an Allow header, so we look the path up in the resolver's route table."""
    methods = set()
    for route in app._static_routes + app._dynamic_routes:  # pinned powertools version; tested
        if route.rule.match(path):
            methods.add(route.method.upper())
    return sorted(methods)


__all__ = ["app", "__version__"]
