"""A local HTTP API: each request becomes an API Gateway HTTP API payload 2.0 event.

Route selection follows API Gateway's rules: the most specific matching route wins (exact paths before
`{param}`, `{param}` before greedy `{proxy+}`, `$default` last); ANY matches every method.
"""
from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from skytune.local.functions import LocalFunctions
from skytune.local.template import LOCAL_ACCOUNT, RouteSpec

LOCAL_PREFIX = "/_local/"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_TEXT_TYPES = ("application/json", "text/", "application/xml", "application/x-www-form-urlencoded")


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
                 local_services: Callable[[str, str, bytes], tuple[int, dict[str, str], bytes]] | None = None) -> None:
        # Stand-ins for AWS services a local process would otherwise call (e.g. CloudWatch Logs), under /_local/
        self.local_services = local_services
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
        if url.path.startswith(LOCAL_PREFIX) and self.local_services is not None:
            return self.local_services(method, url.path[len(LOCAL_PREFIX):], body)
        selected = self.select(method, url.path)
        # -- dashboard: non-API GETs are the static single-page app (skytune.local.static_files) --
        if selected is None and method in ("GET", "HEAD"):
            from skytune.local.static_files import static_response

            static = static_response(raw_path)
            if static is not None:
                return static
        # -- end dashboard --
        if selected is None:
            return 404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
        route, path_params = selected
        event = build_event(method, url.path, url.query, headers, body, route.spec.route_key, path_params, source_ip)
        result = self.functions.invoke(route.spec.function, event)
        return shape_response(result)


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


def serve(emulator: HttpApiEmulator, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                self._send(413, {"content-type": "application/json"}, b'{"message":"Request Entity Too Large"}')
                return
            body = self.rfile.read(length) if length else b""
            try:
                status, headers, payload = emulator.handle(self.command, self.path, dict(self.headers), body, self.client_address[0])
            except Exception:  # noqa: BLE001 - a crashed handler is a 500 from API Gateway too
                logging.getLogger("skytune.local").exception("handler failed: %s %s", self.command, self.path)
                status, headers, payload = 500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}'
            self._send(status, headers, payload)

        def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_TRACE = do_QUERY = _handle

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's name
            if emulator.access_log:
                super().log_message(format, *args)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
