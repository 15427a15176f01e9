"""HTTP client of the skytune API: JSON over urllib, retries with backoff, SigV4 when deployed.

- URL: the `url` argument, else `SKYTUNE_URL`, else http://127.0.0.1:8080 (`skytune local`).
- Auth: `auth="iam"` signs every request with the caller's AWS credentials (botocore's chain:
  env, profile, instance/container role) for API Gateway's IAM authoriser; `auth="jwt"` sends
  `Authorization: Bearer <token>` for stacks deployed with `-c auth=jwt` (see `skytune.client.jwt`
  for where the token comes from); `auth="none"` sends plain requests. Default: `SKYTUNE_AUTH` if
  set, else "none" for localhost and plain `http://` URLs (API Gateway only speaks HTTPS) and
  "iam" elsewhere.
- Token (local mode): `skytune local` requires its token on every request. It is sent as
  `X-Skytune-Token` from the `token` argument, else `SKYTUNE_TOKEN`, else (for a loopback URL only)
  the token file of the data directory: `$SKYTUNE_DATA_DIR/token`, default `.skytune/token`.
- Retries: 429 and 5xx are retried up to `max_attempts` times with capped exponential backoff and
  full jitter (sleep ~ U(0, min(cap, base * 2**attempt))), honouring `Retry-After`. Connection
  errors (refused, DNS, reset) are retried for at most `connect_retry_seconds` (default 3 s), then
  raise `ServerUnreachable` naming the URL tried and what to check. Only idempotent requests should
  be retried, and every write the SDK makes is (client tokens on creates; log-batch is idempotent
  by content). `request(..., deadline=)` bounds the whole call (used when flushing at exit).
"""
from __future__ import annotations

import json
import os
import random
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from skytune.client.jwt import BearerTokens

DEFAULT_URL = "http://127.0.0.1:8080"
TOKEN_ENV = "SKYTUNE_TOKEN"
DATA_DIR_ENV = "SKYTUNE_DATA_DIR"
DEFAULT_DATA_DIR = ".skytune"
TOKEN_HEADER = "x-skytune-token"
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}

# (method, url, headers, body, timeout) -> (status, headers, body)
Transport = Callable[[str, str, dict[str, str], bytes | None, float], tuple[int, dict[str, str], bytes]]


class ApiError(Exception):
    """An answer the caller must act on (4xx, or 5xx after the last retry)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.field, self.details = status, code, message, field, details


class ServerUnreachable(ConnectionError):
    """The API could not be reached: the message names the URL tried and what to check."""

    def __init__(self, url: str, cause: BaseException, local: bool) -> None:
        reason = getattr(cause, "reason", None) or cause
        hint = ("is `skytune local` running (and on this port)? Start it, or point the SDK elsewhere with "
                "SKYTUNE_URL / url=" if local else "is SKYTUNE_URL (or url=) right, and is the network up?")
        super().__init__(f"could not reach the skytune API at {url} ({reason}); {hint}")
        self.url = url


def urllib_transport(method: str, url: str, headers: dict[str, str], body: bytes | None,
                     timeout: float) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) URLs only
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in (error.headers or {}).items()}, error.read()


def local_token(url: str) -> str | None:
    """The `skytune local` token for ``url``: $SKYTUNE_TOKEN, else the data directory's token file
    when ``url`` is a loopback one (the file's token is never sent elsewhere)."""
    explicit = os.environ.get(TOKEN_ENV, "").strip()
    if explicit:
        return explicit
    if (urlsplit(url).hostname or "") not in _LOCAL_HOSTS:
        return None
    from pathlib import Path

    try:
        return (Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR) / "token").read_text().strip() or None
    except OSError:
        return None


def _default_auth(url: str) -> str:
    configured = os.environ.get("SKYTUNE_AUTH")
    if configured:
        return configured.lower()
    parts = urlsplit(url)
    return "none" if (parts.hostname or "") in _LOCAL_HOSTS or parts.scheme == "http" else "iam"


def _is_local(url: str) -> bool:
    return (urlsplit(url).hostname or "") in _LOCAL_HOSTS


def _region(url: str) -> str:
    found = re.search(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com", urlsplit(url).hostname or "")
    return (os.environ.get("SKYTUNE_REGION") or (found.group(1) if found else None)
            or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")


class Client:
    def __init__(self, url: str | None = None, *, auth: str | None = None, timeout: float = 30.0,
                 max_attempts: int = 8, backoff_base: float = 0.2, backoff_cap: float = 20.0,
                 transport: Transport | None = None, sleep: Callable[[float], None] = time.sleep,
                 seed: int | None = None, token: str | None = None, connect_retry_seconds: float = 3.0,
                 bearer: "str | BearerTokens | None" = None) -> None:
        self.url = (url or os.environ.get("SKYTUNE_URL") or DEFAULT_URL).rstrip("/")
        self._token = token
        self.auth = (auth or ("jwt" if bearer is not None else _default_auth(self.url))).lower()
        if self.auth not in ("iam", "jwt", "none"):
            raise ValueError("auth must be 'iam', 'jwt' or 'none'")
        self._bearer: BearerTokens | None = None
        if self.auth == "jwt":
            self._bearer = bearer if isinstance(bearer, BearerTokens) else BearerTokens.configured(bearer)
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.connect_retry_seconds = connect_retry_seconds
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.transport = transport or urllib_transport
        self.sleep = sleep
        self.random = random.Random(seed)
        self._signer = None

    # -- the one request primitive -----------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None,
                deadline: float | None = None, data: bytes | None = None, raw: bool = False) -> Any:
        """JSON in, JSON (or text) out. Raises ApiError for 4xx and for 5xx/429 after the last retry,
        and ServerUnreachable when connecting kept failing. `deadline` (time.monotonic()) stops
        retrying once reached. `data`: send these bytes instead of JSON; `raw`: answer the bytes."""
        url = self.url + path
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        payload = data if data is not None else None if body is None else json.dumps(body, allow_nan=False).encode()
        started = time.monotonic()
        refused = refetch_token = False
        for attempt in range(self.max_attempts):
            headers = {"content-type": "application/octet-stream" if data is not None else "application/json",
                       "accept": "*/*" if raw else "application/json"}
            if self.auth == "iam":
                headers = self._sign(method, url, headers, payload)
            elif self.auth == "jwt":
                headers["authorization"] = f"Bearer {self._bearer.token(refresh=refetch_token)}"
                refetch_token = False
            else:
                token = self._token or local_token(self.url)  # read each time: a restart may create it
                if token:
                    headers[TOKEN_HEADER] = token
            last = attempt == self.max_attempts - 1
            timeout = self.timeout if deadline is None else max(0.1, min(self.timeout, deadline - time.monotonic()))
            try:
                status, response_headers, answer = self.transport(method, url, headers, payload, timeout)
            except (OSError, urllib.error.URLError) as error:  # refused, reset, DNS, timeout
                spent = time.monotonic() - started
                if last or spent >= self.connect_retry_seconds or self._past(deadline):
                    raise ServerUnreachable(url, error, _is_local(self.url)) from error
                self._back_off(attempt, None, error, limit=self.connect_retry_seconds - spent)
                continue
            if (status == 401 and self._bearer is not None and self._bearer.refreshable and not refused
                    and not last):
                refused = refetch_token = True  # expired between fetch and use: fetch anew, once
                continue
            if status in RETRYABLE_STATUSES and not last and not self._past(deadline):
                self._back_off(attempt, response_headers.get("retry-after"), None,
                               limit=None if deadline is None else deadline - time.monotonic())
                continue
            if raw and status < 400:
                return answer
            return self._answer(status, response_headers, answer)
        raise AssertionError("unreachable")

    @staticmethod
    def _past(deadline: float | None) -> bool:
        return deadline is not None and time.monotonic() >= deadline

    def _answer(self, status: int, headers: dict[str, str], data: bytes) -> Any:
        is_json = headers.get("content-type", "application/json").startswith("application/json")
        content = (json.loads(data) if data else None) if is_json else data.decode()
        if status < 400:
            return content
        error = content.get("error") if isinstance(content, dict) else None
        if isinstance(error, dict):
            raise ApiError(status, error.get("code", "Error"), error.get("message", ""), error.get("field"), error.get("details"))
        message = content.get("message") if isinstance(content, dict) else str(content)
        raise ApiError(status, "HttpError", str(message))

    def _back_off(self, attempt: int, retry_after: str | None, _error: Exception | None,
                  limit: float | None = None) -> None:
        delay = self.random.uniform(0, min(self.backoff_cap, self.backoff_base * 2**attempt))
        if retry_after and retry_after.isdigit():
            delay = max(delay, min(float(retry_after), self.backoff_cap))
        if limit is not None:
            delay = max(0.0, min(delay, limit))
        self.sleep(delay)

    def _sign(self, method: str, url: str, headers: dict[str, str], payload: bytes | None) -> dict[str, str]:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.session import get_session

        if self._signer is None:
            credentials = get_session().get_credentials()
            if credentials is None:
                try:  # a mistyped host is the likelier mistake: say so before asking for credentials
                    socket.getaddrinfo(urlsplit(url).hostname or "", None)
                except OSError as error:
                    raise ServerUnreachable(url, error, _is_local(self.url)) from error
                raise ApiError(401, "NoCredentials",
                               f"auth='iam' (signing requests to {self.url} with SigV4) needs AWS credentials "
                               "(env, profile or role); for a local or unauthenticated stack pass auth='none' "
                               "or set SKYTUNE_AUTH=none")
            self._signer = SigV4Auth(credentials, "execute-api", _region(self.url))
        request = AWSRequest(method=method, url=url, data=payload or b"", headers=headers)
        self._signer.add_auth(request)  # a fresh signature (and date) on every attempt
        return dict(request.headers.items())

    # -- conveniences ------------------------------------------------------------------------
    def ensure_experiment(self, name: str) -> dict:
        """Creates the experiment, or returns it when it already exists."""
        try:
            return self.request("POST", "/v1/experiments", {"name": name})
        except ApiError as error:
            if error.status != 409:
                raise
            return self.request("GET", f"/v1/experiments/{quote(name, safe='')}")

    def create_run(self, **fields: Any) -> dict:
        return self.request("POST", "/v1/runs", {k: v for k, v in fields.items() if v is not None})

    def get_run(self, run_id: str) -> dict:
        return self.request("GET", f"/v1/runs/{quote(run_id, safe='')}")

    def update_run(self, run_id: str, **fields: Any) -> dict:
        return self.request("PATCH", f"/v1/runs/{quote(run_id, safe='')}", fields)

    def log_batch(self, run_id: str, metrics: list[dict] | None = None, params: dict | None = None,
                  tags: dict | None = None) -> dict:
        body = {"metrics": metrics or [], "params": params or {}, "tags": tags or {}}
        return self.request("POST", f"/v1/runs/{quote(run_id, safe='')}/log-batch", body)

    def series(self, run_id: str, metric: str, min_step: int | None = None, max_step: int | None = None,
               max_points: int | None = None) -> list[dict]:
        path = f"/v1/runs/{quote(run_id, safe='')}/metrics/{quote(metric, safe='')}"
        answer = self.request("GET", path, query={"min_step": min_step, "max_step": max_step, "max_points": max_points})
        return answer["points"]

    def search_page(self, **body: Any) -> dict:
        return self.request("POST", "/v1/runs/search", {k: v for k, v in body.items() if v is not None})
