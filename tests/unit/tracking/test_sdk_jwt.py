"""The SDK against stacks deployed with `-c auth=jwt`: bearer tokens from an argument, SKYTUNE_JWT or a
callable (the client-credentials grant against a real token endpoint: tests/integration/test_sdk_auth.py)."""
from __future__ import annotations

import pytest

from skytune.client.http import ApiError, Client
from skytune.client.jwt import BearerTokens, TokenUnavailable


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("SKYTUNE_AUTH", "SKYTUNE_JWT", "SKYTUNE_OAUTH_TOKEN_URL", "SKYTUNE_OAUTH_CLIENT_ID",
                 "SKYTUNE_OAUTH_CLIENT_SECRET", "SKYTUNE_OAUTH_SCOPES", "SKYTUNE_TOKEN"):
        monkeypatch.delenv(name, raising=False)


class Api:
    """A transport standing in for API Gateway's JWT authoriser: accepts only the tokens in `valid`."""

    def __init__(self, valid: set[str]) -> None:
        self.valid = valid
        self.seen: list[str | None] = []

    def __call__(self, method, url, headers, body, timeout):
        authorization = headers.get("authorization")
        self.seen.append(authorization)
        if authorization is None or authorization.removeprefix("Bearer ") not in self.valid:
            return 401, {"content-type": "application/json"}, b'{"message":"Unauthorized"}'
        return 200, {"content-type": "application/json"}, b'{"ok": true}'


URL = "https://abc.execute-api.eu-west-1.amazonaws.com"


def test_a_token_argument_is_sent_as_bearer_and_implies_jwt_auth():
    api = Api({"tok-1"})
    client = Client(URL, bearer="Bearer tok-1", transport=api)
    assert client.auth == "jwt"
    assert client.request("GET", "/v1/health") == {"ok": True}
    assert api.seen == ["Bearer tok-1"]


def test_skytune_jwt_is_used_when_auth_is_jwt(monkeypatch):
    monkeypatch.setenv("SKYTUNE_AUTH", "jwt")
    monkeypatch.setenv("SKYTUNE_JWT", "from-env")
    api = Api({"from-env"})
    Client(URL, transport=api).request("GET", "/v1/health")
    assert api.seen == ["Bearer from-env"]


def test_a_refused_static_token_is_a_401_at_once_not_retried():
    api = Api(set())
    with pytest.raises(ApiError) as raised:
        Client(URL, bearer="stale", transport=api, sleep=lambda _s: None).request("GET", "/v1/health")
    assert raised.value.status == 401 and api.seen == ["Bearer stale"]


def test_a_callable_is_asked_again_once_when_the_token_is_refused():
    tokens = iter(["expired", "fresh", "never-asked"])
    api = Api({"fresh"})
    client = Client(URL, bearer=lambda: next(tokens), transport=api)
    assert client.request("GET", "/v1/health") == {"ok": True}
    assert client.request("GET", "/v1/health") == {"ok": True}  # cached: no third token fetched
    assert api.seen == ["Bearer expired", "Bearer fresh", "Bearer fresh"]


def test_jwt_without_any_token_source_names_the_settings():
    with pytest.raises(TokenUnavailable) as raised:
        Client(URL, auth="jwt")
    assert "SKYTUNE_JWT" in str(raised.value) and "SKYTUNE_OAUTH_TOKEN_URL" in str(raised.value)


def test_client_credentials_need_https():
    with pytest.raises(TokenUnavailable, match="https"):
        BearerTokens.client_credentials("http://idp.example.com/oauth2/token", "id", "secret")
