"""Bearer tokens for stacks deployed with `-c auth=jwt` (API Gateway's JWT authoriser).

Where the token comes from, first match wins:
- the `bearer=` argument of `Client`/`Run`: a token string, or a callable returning one (called again
  when the API refuses a token, e.g. your own refresh logic);
- `SKYTUNE_JWT`: a token string (e.g. a user pool ID or access token you fetched);
- OAuth 2.0 client credentials, the flow for machines (training jobs, CI): `SKYTUNE_OAUTH_TOKEN_URL`
  (a Cognito domain's `https://<domain>/oauth2/token`), `SKYTUNE_OAUTH_CLIENT_ID`,
  `SKYTUNE_OAUTH_CLIENT_SECRET` and `SKYTUNE_OAUTH_SCOPES` (e.g. `skytune/write skytune/tune`; see
  docs/security.md for the scopes each route needs). Tokens are cached until a minute before they
  expire and fetched anew when the API answers 401.

Written by hand (urllib) because the client-credentials grant is one form POST, and an OAuth library
would be the SDK's only third-party dependency.
"""
from __future__ import annotations

import base64
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

JWT_ENV = "SKYTUNE_JWT"
TOKEN_URL_ENV = "SKYTUNE_OAUTH_TOKEN_URL"
CLIENT_ID_ENV = "SKYTUNE_OAUTH_CLIENT_ID"
CLIENT_SECRET_ENV = "SKYTUNE_OAUTH_CLIENT_SECRET"
SCOPES_ENV = "SKYTUNE_OAUTH_SCOPES"
EXPIRY_MARGIN_SECONDS = 60.0


class TokenUnavailable(RuntimeError):
    """No bearer token could be had: the message says which setting to give."""


class BearerTokens:
    """Hands out the bearer token for each request (thread-safe: the SDK flushes from a thread)."""

    def __init__(self, fetch: Callable[[], tuple[str, float | None]], refreshable: bool) -> None:
        self._fetch = fetch  # -> (token, seconds it stays valid, None when unknown)
        self.refreshable = refreshable
        self._lock = threading.Lock()
        self._token: str | None = None
        self._valid_until = 0.0

    @classmethod
    def static(cls, token: str) -> "BearerTokens":
        token = token.strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        if not token:
            raise TokenUnavailable("the bearer token is empty")
        return cls(lambda: (token, None), refreshable=False)

    @classmethod
    def from_callable(cls, provider: Callable[[], str]) -> "BearerTokens":
        return cls(lambda: (provider(), None), refreshable=True)

    @classmethod
    def client_credentials(cls, token_url: str, client_id: str, client_secret: str, scopes: str = "",
                           timeout: float = 10.0) -> "BearerTokens":
        if urlsplit(token_url).scheme != "https" and (urlsplit(token_url).hostname or "") not in ("127.0.0.1", "localhost"):
            raise TokenUnavailable(f"{TOKEN_URL_ENV} must be an https:// URL (the client secret is sent to it)")

        def fetch() -> tuple[str, float | None]:
            form = {"grant_type": "client_credentials", **({"scope": scopes} if scopes else {})}
            basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
            request = urllib.request.Request(token_url, data=urlencode(form).encode(), method="POST", headers={
                "content-type": "application/x-www-form-urlencoded", "authorization": f"Basic {basic}",
                "accept": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - https checked above
                    answer = json.loads(response.read())
            except urllib.error.HTTPError as error:
                detail = error.read()[:300].decode(errors="replace")
                raise TokenUnavailable(f"the token endpoint {token_url} refused the client credentials "
                                       f"({error.code}: {detail}); check {CLIENT_ID_ENV}, {CLIENT_SECRET_ENV} "
                                       f"and that the app client may use the scopes '{scopes}'") from None
            except (OSError, ValueError) as error:
                raise TokenUnavailable(f"could not get a token from {token_url} ({error}); "
                                       f"is {TOKEN_URL_ENV} right?") from None
            if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
                raise TokenUnavailable(f"the token endpoint {token_url} answered without an access_token")
            expires_in = answer.get("expires_in")
            return answer["access_token"], float(expires_in) if isinstance(expires_in, (int, float)) else None

        return cls(fetch, refreshable=True)

    @classmethod
    def configured(cls, bearer: "str | Callable[[], str] | None" = None) -> "BearerTokens":
        """From the argument, else the environment (module docstring), else TokenUnavailable."""
        if callable(bearer):
            return cls.from_callable(bearer)
        if bearer:
            return cls.static(bearer)
        if os.environ.get(JWT_ENV, "").strip():
            return cls.static(os.environ[JWT_ENV])
        if os.environ.get(TOKEN_URL_ENV):
            missing = [name for name in (CLIENT_ID_ENV, CLIENT_SECRET_ENV) if not os.environ.get(name)]
            if missing:
                raise TokenUnavailable(f"{TOKEN_URL_ENV} is set but {' and '.join(missing)} is not")
            return cls.client_credentials(os.environ[TOKEN_URL_ENV], os.environ[CLIENT_ID_ENV],
                                          os.environ[CLIENT_SECRET_ENV], os.environ.get(SCOPES_ENV, ""))
        raise TokenUnavailable(f"auth='jwt' needs a token: pass bearer=..., set {JWT_ENV}, or set "
                               f"{TOKEN_URL_ENV}, {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} (client credentials)")

    def token(self, refresh: bool = False) -> str:
        with self._lock:
            if refresh or self._token is None or time.monotonic() >= self._valid_until:
                token, lifetime = self._fetch()
                self._token = token
                self._valid_until = (float("inf") if lifetime is None
                                     else time.monotonic() + max(0.0, lifetime - EXPIRY_MARGIN_SECONDS))
            return self._token
