"""A local HTTP API: each request becomes an API Gateway HTTP API payload 2.0 event.

Route selection follows API Gateway's rules: the most specific matching route wins (exact paths before
`{param}`, `{param}` before greedy `{proxy+}`, `$default` last); ANY matches every method.

HTTP itself (parsing, keep-alive, body limits, a thread pool, a deep listen backlog) is waitress's, a
maintained production WSGI server; werkzeug's Request reads headers and cookies. Only two things are
written by hand here: the translation of a request into the payload 2.0 event (``build_event``,
``shape_response``) and local mode's front door (``LocalAccess``: Host/Origin, token, media type),
which runs before any handler.
"""
from __future__ import annotations

import base64
import hmac
import importlib
import json
import logging
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit

from skytune.local.functions import LocalFunctions
from skytune.local.template import LOCAL_ACCOUNT, RouteSpec

LOCAL_PREFIX = "/_local/"
# "Presigned" artifact URLs: HMAC-signed and time-limited by skytune.artifacts.local, which checks
# them; like S3's, they need no other credential (so no token).
SIGNED_ARTIFACTS_PREFIX = "/_artifacts/"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_TEXT_TYPES = ("application/json", "text/", "application/xml", "application/x-www-form-urlencoded")
log = logging.getLogger("skytune.local")

# A hook run on every request before its route's function (e.g. the local runner's command policy
# on tuning-job creation): (method, path, body) -> None, or raises a SkytuneError (a 4xx).
RequestCheck = Callable[[str, str, bytes], None]


@dataclass(frozen=True)
class CompiledRoute:
    spec: RouteSpec
    pattern: re.Pattern | None
    specificity: tuple

    @classmethod
    def compile(cls, spec: RouteSpec) -> "CompiledRoute":
        if spec.path == "$default":
            return cls(spec, None, (3, 0))
        regex, greedy, params = "", False, 0
        for segment in spec.path.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("+}"):
                regex += f"/(?P<{segment[1:-2]}>.+)"
                greedy = True
            elif segment.startswith("{"):
                regex += f"/(?P<{segment[1:-1]}>[^/]+)"
                params += 1
            else:
                regex += "/" + re.escape(segment)
        literal_length = len(re.sub(r"\{[^}]+\}", "", spec.path))
        return cls(spec, re.compile(f"^{regex}$"), (2 if greedy else 1 if params else 0, -literal_length))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.spec.method not in ("ANY", method):
            return None
        if self.pattern is None:
            return {}
        found = self.pattern.match(path)
        return found.groupdict() if found else None


class HttpApiEmulator:
    def __init__(self, routes: list[RouteSpec], functions: LocalFunctions, access_log: bool = False,
                 local_services: Callable[[str, str, bytes], tuple[int, dict[str, str], bytes]] | None = None,
                 checks: Iterable[RequestCheck] = ()) -> None:
        # Stand-ins for AWS services a local process would otherwise call (e.g. CloudWatch Logs), under /_local/
        self.local_services = local_services
        self.checks = list(checks)
        self.routes = sorted((CompiledRoute.compile(r) for r in routes), key=lambda r: r.specificity)
        self.functions = functions
        self.access_log = access_log

    def select(self, method: str, path: str) -> tuple[CompiledRoute, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(raw_path)
        if url.path.startswith(SIGNED_ARTIFACTS_PREFIX):  # presigned artifact URLs (skytune.artifacts.local)
            from skytune.artifacts.local import serve_signed

            return serve_signed(method, url.path, url.query, body)
        if url.path.startswith(LOCAL_PREFIX) and self.local_services is not None:
            return self.local_services(method, url.path[len(LOCAL_PREFIX):], body)
        selected = self.select(method, url.path)
        if selected is None:
            return 404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
        route, path_params = selected
        refused = self._check(method, url.path, body)
        if refused is not None:
            return refused
        event = build_event(method, url.path, url.query, headers, body, route.spec.route_key, path_params, source_ip)
        result = self.functions.invoke(route.spec.function, event)
        return shape_response(result)

    def _check(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes] | None:
        from skytune.errors import SkytuneError

        for check in self.checks:
            try:
                check(method, path, body)
            except SkytuneError as error:
                return error.status, {"content-type": "application/json"}, json.dumps(error.to_dict()).encode()
        return None


def build_event(method: str, path: str, query: str, headers: dict[str, str], body: bytes, route_key: str,
                path_params: dict[str, str], source_ip: str) -> dict[str, Any]:
    lowered = {k.lower(): v for k, v in headers.items()}
    now = datetime.now(timezone.utc)
    content_type = lowered.get("content-type", "")
    is_text = not body or any(content_type.startswith(t) for t in _TEXT_TYPES)
    query_params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        # payload 2.0 joins repeated query parameters with commas
        query_params[key] = f"{query_params[key]},{value}" if key in query_params else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT,
            "apiId": "local",
            "authorizer": {"iam": {"accessKey": "LOCAL", "accountId": LOCAL_ACCOUNT, "callerId": "local",
                                    "principalOrgId": None, "userArn": f"arn:aws:iam::{LOCAL_ACCOUNT}:user/local",
                                    "userId": "local"}},
            "domainName": lowered.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": lowered.get("user-agent", "")},
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": bool(body) and not is_text,
    }
    if query_params:
        event["queryStringParameters"] = query_params
    if path_params:
        event["pathParameters"] = path_params
    if "cookie" in lowered:
        event["cookies"] = [c.strip() for c in lowered["cookie"].split(";")]
    if body:
        event["body"] = body.decode("utf-8", errors="replace") if is_text else base64.b64encode(body).decode()
    return event


def shape_response(result: Any) -> tuple[int, dict[str, str], bytes]:
    """Turn a handler's return value into HTTP, as API Gateway does for payload format 2.0."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # 2.0 lets a function return just a body: API Gateway then answers 200 with it as JSON.
        return 200, {"content-type": "application/json"}, json.dumps(result).encode()
    headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ", ".join(values)
    body = result.get("body") or ""
    payload = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    if result.get("cookies"):
        headers["set-cookie"] = "; ".join(result["cookies"])
    return int(result["statusCode"]), headers, payload


# ---------------------------------------------------------------------------------------------
# Local mode's front door: checked on every request before any handler (docs/security.md)
# ---------------------------------------------------------------------------------------------
TOKEN_HEADER = "x-skytune-token"
TOKEN_COOKIE = "skytune_token"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# Paths whose GETs go to the API's functions; any other GET may be a static file (the dashboard).
API_PREFIXES = ("/v1", "/api", "/ajax-api", "/_artifacts", LOCAL_PREFIX.rstrip("/"))
# Paths whose state-changing requests may carry a non-JSON body (artifact uploads). The artifact
# store, where another part adds one, serves them under this prefix; everything else needs JSON.
# MLflow's artifact proxy (lambdas/mlflow) takes the file as the body of a PUT; the token still applies.
BODY_TYPE_EXEMPT_PREFIXES: tuple[str, ...] = ("/_artifacts/", "/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
Response = tuple[int, dict[str, str], bytes]


def _error(status: int, code: str, message: str, field: str | None = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return status, {"content-type": "application/json"}, json.dumps({"error": error}).encode()


def is_loopback(host: str) -> bool:
    return host.strip("[]") in LOOPBACK_NAMES or host.startswith("127.")


@dataclass
class LocalAccess:
    """Who may talk to `skytune local`: the Host a request names must be the bound address (or a
    loopback name), its Origin (if any) this server's own, it must carry the token (unless the
    server runs with --no-token), and a body on a state-changing request must be JSON."""

    port: int
    token: str | None
    host: str = "127.0.0.1"
    extra_hosts: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        names = set(LOOPBACK_NAMES) | {h.lower().strip("[]") for h in self.extra_hosts}
        if self.host not in ("0.0.0.0", "::", ""):
            names.add(self.host.lower().strip("[]"))
        self.host_names = frozenset(names)

    def _host_ok(self, host_header: str) -> bool:
        if not host_header:
            return False
        try:
            parsed = urlsplit(f"//{host_header}")
            port = parsed.port
        except ValueError:  # e.g. an unbalanced "[" or a port out of range
            return False
        if parsed.path or parsed.query or parsed.fragment or parsed.username is not None:
            return False
        name = (parsed.hostname or "").lower()
        return name in self.host_names and port in (None, self.port)

    def _origin_ok(self, origin: str) -> bool:
        try:
            parsed = urlsplit(origin)
        except ValueError:
            return False
        return parsed.scheme == "http" and self._host_ok(parsed.netloc) and not parsed.path.strip("/")

    def presented_token(self, headers, cookies) -> str | None:
        if headers.get(TOKEN_HEADER):
            return headers.get(TOKEN_HEADER)
        scheme, _, credential = (headers.get("authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            return credential.strip()
        return cookies.get(TOKEN_COOKIE)

    def _token_ok(self, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(presented.encode(), self.token.encode())

    def check(self, method: str, path: str, query: str, headers, cookies, has_body: bool) -> Response | None:
        """None: let the request through; else the answer that refuses it."""
        if not self._host_ok(headers.get("host", "")):
            return _error(403, "ForbiddenHost", "the Host header does not name this server (local mode serves "
                          "loopback names only unless started with --host)", field="host")
        origin = headers.get("origin")
        if origin is not None and not self._origin_ok(origin):
            return _error(403, "ForbiddenOrigin", f"requests from origin {origin[:100]!r} are not allowed",
                          field="origin")
        if self.token is not None and not path.startswith(SIGNED_ARTIFACTS_PREFIX):
            query_token = dict(parse_qsl(query, keep_blank_values=True)).get("token")
            if method == "GET" and query_token is not None:
                if not self._token_ok(query_token):
                    return _error(401, "Unauthorized", "the token in the URL is wrong", field="token")
                return self._cookie_redirect(path, query)
            if not self._token_ok(self.presented_token(headers, cookies)):
                return _error(401, "Unauthorized", "a token is required: header X-Skytune-Token, "
                              "Authorization: Bearer <token>, or open the URL `skytune local` printed",
                              field="token")
        if method in STATE_CHANGING and has_body and not path.startswith(BODY_TYPE_EXEMPT_PREFIXES):
            media_type = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
            if media_type != "application/json":
                return _error(415, "UnsupportedMediaType",
                              f"the body must be application/json, not {media_type or 'untyped'!r}",
                              field="content-type")
        return None

    def _cookie_redirect(self, path: str, query: str) -> Response:
        """?token=... (the URL `skytune local` prints): keep it as a cookie and drop it from the URL."""
        rest = urlencode([(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "token"])
        cookie = f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        return 303, {"location": path + (f"?{rest}" if rest else ""), "set-cookie": cookie,
                     "cache-control": "no-store", "content-type": "text/plain"}, b"see the location\n"


def _static_response(path: str) -> Response | None:
    """The dashboard's files, if the package ships the module that serves them."""
    try:
        module = importlib.import_module("skytune.local.static_files")
    except ImportError:
        return None
    return module.static_response(path)


# ---------------------------------------------------------------------------------------------
# WSGI: the request as waitress parsed it -> the emulator (or a static file) -> the response
# ---------------------------------------------------------------------------------------------
def wsgi_app(emulator: HttpApiEmulator, access: LocalAccess | None = None):
    from werkzeug.wrappers import Request

    def app(environ, start_response):
        request = Request(environ)
        method = request.method.upper()
        # The path as sent (still percent-encoded), as API Gateway's rawPath: WSGI's PATH_INFO is decoded.
        target = urlsplit(environ.get("REQUEST_URI") or request.full_path)
        path, query = target.path or "/", target.query
        headers = {k.lower(): v for k, v in request.headers.items()}
        has_body = bool(request.content_length) or "chunked" in headers.get("transfer-encoding", "").lower()
        answer = access.check(method, path, query, headers, request.cookies, has_body) if access else None
        if answer is None:
            try:
                if method in ("GET", "HEAD") and not path.startswith(API_PREFIXES):
                    answer = _static_response(path)
                if answer is None:
                    body = request.get_data(cache=False) if has_body else b""
                    raw_path = path + (f"?{query}" if query else "")
                    answer = emulator.handle(method, raw_path, headers, body, request.remote_addr or "127.0.0.1")
            except Exception:  # noqa: BLE001 - a crashed handler is a 500 from API Gateway too
                log.exception("handler failed: %s %s", method, path)
                answer = 500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}'
        status, response_headers, payload = answer
        if emulator.access_log:  # one line per request on stderr, as http.server wrote them
            stamp = datetime.now().strftime("%d/%b/%Y %H:%M:%S")
            print(f'{request.remote_addr} - - [{stamp}] "{method} {path}" {status} -', file=sys.stderr, flush=True)
        if method == "HEAD":
            payload = b""
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Status"
        start_response(f"{status} {reason}", [
            *((name, value) for name, value in response_headers.items()
              if name not in ("content-length", "connection", "transfer-encoding")),
            ("content-length", str(len(payload)))])
        return [payload]

    return app


class LocalServer:
    """waitress serving the local API; ``serve_forever`` blocks until ``shutdown`` (from any thread)."""

    def __init__(self, app, host: str, port: int, threads: int = 16) -> None:
        from waitress.server import create_server

        self._server = create_server(
            app, host=host, port=port, threads=threads, ident="skytune-local",
            max_request_body_size=MAX_BODY_BYTES, backlog=1024, connection_limit=1000,
            channel_timeout=120, expose_tracebacks=False, clear_untrusted_proxy_headers=True)
        self._map = getattr(self._server, "map", None) or self._server._map
        self.port = int(getattr(self._server, "effective_port", port))  # waitress gives it as text
        self._stopping = threading.Event()
        self._done = threading.Event()
        self._running = False

    def serve_forever(self, poll_interval: float = 0.2) -> None:
        """waitress's own ``run`` loops until interrupted; this loop also ends on ``shutdown``, and
        closes the server from its own thread (asyncore is not thread-safe)."""
        from waitress import wasyncore

        self._running = True
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=poll_interval, map=self._map, use_poll=True, count=1)
        finally:
            self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
            wasyncore.close_all(self._map)
            self._done.set()

    def shutdown(self) -> None:
        self._stopping.set()
        if self._running:
            self._done.wait(timeout=10)
        else:
            self.server_close()

    def server_close(self) -> None:
        if not self._running and not self._done.is_set():
            from waitress import wasyncore

            self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
            wasyncore.close_all(self._map)
            self._done.set()


def serve(emulator: HttpApiEmulator, host: str, port: int, *, token: str | None = None,
          extra_hosts: Iterable[str] = (), threads: int = 16) -> LocalServer:
    """The local API on host:port behind LocalAccess. ``token`` None: no token needed (Host, Origin
    and media-type checks still apply)."""
    access = LocalAccess(port=port, token=token, host=host, extra_hosts=frozenset(extra_hosts))
    server = LocalServer(wsgi_app(emulator, access), host, port, threads)
    access.port = server.port  # port 0: the one the system chose
    return server

