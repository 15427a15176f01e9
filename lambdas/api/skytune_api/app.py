"""The HTTP API resolver: routes, request validation and the JSON error contract.

Built without side effects so tests and the OpenAPI generator can import it; `handler.py` binds the
tables and adds observability.
"""
from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from skytune import __version__
from skytune.errors import SkytuneError
from skytune_api.routes import experiments, health, sources
from skytune_api.routes import lineage, runs, search, trials
from skytune_api.routes import tuning

logger = Logger(child=True)


class UnsupportedMediaType(SkytuneError):
    status = 415
    code = "UnsupportedMediaType"


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
    """("body", "tags", "x") -> "tags.x", the field as the caller wrote it; ("body", 8) (a JSON
    syntax error at character 8) -> "body"; ("query", "limit") -> "limit"."""
    parts = [str(part) for part in location[1:] if not isinstance(part, int) or len(location) > 2]
    if len(location) == 2 and isinstance(location[1], int):
        return location[0]
    return ".".join(parts) or (str(location[0]) if location else "request")


@app.not_found
def _not_found(_: NotFoundError) -> Response:
    path, method = app.current_event.path, app.current_event.http_method.upper()
    allowed = _allowed_methods(path)
    if allowed and method not in allowed:
        response = error_response(405, "MethodNotAllowed", f"{method} is not allowed on {path}", allowed=allowed)
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
