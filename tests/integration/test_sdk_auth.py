"""The SDK's and CLI's authentication over real sockets: the OAuth client-credentials grant against a
token endpoint on loopback (Cognito's /oauth2/token shape), and `skytune tuning` driving a job on the
local stack through the SDK client, with the token sent as a bearer token (as to a JWT stack)."""
from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from skytune import cli
from skytune.client.http import Client
from skytune.client.jwt import BearerTokens, TokenUnavailable
from skytune.local.http_api import serve

from tests.unit.tracking.test_sdk_jwt import URL, Api

LOCAL_TOKEN = "j" * 43


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("SKYTUNE_AUTH", "SKYTUNE_JWT", "SKYTUNE_OAUTH_TOKEN_URL", "SKYTUNE_OAUTH_CLIENT_ID",
                 "SKYTUNE_OAUTH_CLIENT_SECRET", "SKYTUNE_OAUTH_SCOPES", "SKYTUNE_TOKEN", "SKYTUNE_URL",
                 "SKYTUNE_API_URL"):
        monkeypatch.delenv(name, raising=False)


class TokenEndpoint(BaseHTTPRequestHandler):
    """Cognito's /oauth2/token for the client-credentials grant."""

    requests: list[dict] = []
    lifetime = 3600
    secret = "s3cret"

    def do_POST(self):  # noqa: N802 - http.server's naming
        form = parse_qs(self.rfile.read(int(self.headers["content-length"])).decode())
        user, _, password = base64.b64decode(self.headers["authorization"].removeprefix("Basic ")).decode().partition(":")
        TokenEndpoint.requests.append({"form": form, "user": user})
        if password != self.secret:
            body, status = b'{"error":"invalid_client"}', 400
        else:
            token = f"access-{len(TokenEndpoint.requests)}"
            body, status = json.dumps({"access_token": token, "expires_in": self.lifetime, "token_type": "Bearer"}).encode(), 200
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def token_url():
    TokenEndpoint.requests = []
    TokenEndpoint.lifetime = 3600
    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/oauth2/token"
    server.shutdown()


def test_client_credentials_from_the_environment_fetch_once_and_cache(monkeypatch, token_url):
    monkeypatch.setenv("SKYTUNE_AUTH", "jwt")
    monkeypatch.setenv("SKYTUNE_OAUTH_TOKEN_URL", token_url)
    monkeypatch.setenv("SKYTUNE_OAUTH_CLIENT_ID", "machine")
    monkeypatch.setenv("SKYTUNE_OAUTH_CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("SKYTUNE_OAUTH_SCOPES", "skytune/write skytune/tune")
    api = Api({"access-1"})
    client = Client(URL, transport=api)
    for _ in range(3):
        client.request("GET", "/v1/health")
    assert api.seen == ["Bearer access-1"] * 3
    assert TokenEndpoint.requests == [{"form": {"grant_type": ["client_credentials"],
                                                "scope": ["skytune/write skytune/tune"]}, "user": "machine"}]


def test_client_credentials_are_fetched_anew_when_expiring_and_when_refused(token_url):
    TokenEndpoint.lifetime = 30  # inside the one-minute margin: every request fetches a new token
    tokens = BearerTokens.client_credentials(token_url, "machine", "s3cret")
    assert [tokens.token(), tokens.token()] == ["access-1", "access-2"]
    TokenEndpoint.lifetime = 3600
    api = Api({"access-4"})  # access-3 gets refused (revoked): the client fetches access-4 and retries
    assert Client(URL, bearer=tokens, transport=api).request("GET", "/v1/health") == {"ok": True}
    assert api.seen == ["Bearer access-3", "Bearer access-4"]


def test_wrong_client_secret_says_what_to_check(token_url):
    tokens = BearerTokens.client_credentials(token_url, "machine", "wrong", scopes="skytune/read")
    with pytest.raises(TokenUnavailable) as raised:
        tokens.token()
    assert "invalid_client" in str(raised.value) and "SKYTUNE_OAUTH_CLIENT_SECRET" in str(raised.value)


# -- `skytune tuning` on the local stack -----------------------------------------------------------
@pytest.fixture(scope="module")
def local_url(local_stack):
    server = serve(local_stack.http_api(), "127.0.0.1", 0, token=LOCAL_TOKEN)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()


def _job_spec(tmp_path, name: str):
    spec = {
        "name": name, "strategy": "Random",
        "objective": {"metric_name": "acc", "type": "Maximize"},
        "parameter_ranges": {"ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.001", "MaxValue": "0.1"}]},
        "resource_limits": {"max_number_of_training_jobs": 3, "max_parallel_training_jobs": 2},
        "trial": {"runner": "external", "metric_definitions": [{"Name": "acc", "Regex": "acc=([0-9.]+)"}]},
    }
    path = tmp_path / "job.json"
    path.write_text(json.dumps(spec))
    return path


def _printed(capsys) -> str:
    """What the CLI printed, without the in-process handlers' metric lines (powertools EMF on stdout)."""
    return "\n".join(line for line in capsys.readouterr().out.splitlines() if not line.startswith('{"_aws"'))


def test_tuning_cli_creates_describes_lists_and_stops_a_job_with_a_bearer_token(local_url, tmp_path, monkeypatch, capsys):
    # the local stack accepts its token as `Authorization: Bearer`, as a JWT stack accepts a pool token
    monkeypatch.setenv("SKYTUNE_JWT", LOCAL_TOKEN)
    name = f"cli-jwt-{int(time.time() * 1000)}"
    common = ["tuning", "--api", local_url, "--auth", "jwt"]
    assert cli.main([*common, "create", str(_job_spec(tmp_path, name))]) == 0
    assert _printed(capsys).startswith(f"{name}: InProgress")
    assert cli.main([*common, "describe", name]) == 0
    described = json.loads(_printed(capsys))
    assert described["HyperParameterTuningJobName"] == name
    assert described["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 3
    deadline = time.monotonic() + 60
    while True:  # the state machine starts two external trials, which wait for a worker
        assert cli.main([*common, "trials", name, "--status", "InProgress"]) == 0
        rows = _printed(capsys).strip().splitlines()[1:]
        if len(rows) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(rows) == 2 and all(" InProgress " in row for row in rows)
    assert cli.main([*common, "stop", name]) == 0
    assert _printed(capsys).split()[1] in ("Stopping", "Stopped")


def test_tuning_cli_reports_a_refused_token_and_an_unreachable_api(local_url, capsys, monkeypatch):
    monkeypatch.setenv("SKYTUNE_JWT", "not-the-token")
    assert cli.main(["tuning", "--api", local_url, "--auth", "jwt", "describe", "nope"]) == 1
    assert "401" in capsys.readouterr().err
    assert cli.main(["tuning", "--api", "http://127.0.0.1:9", "--auth", "none", "describe", "nope"]) == 1
    err = capsys.readouterr().err
    assert "http://127.0.0.1:9" in err and "skytune local" in err


def test_tuning_cli_without_a_token_source_says_which_to_set(capsys):
    assert cli.main(["tuning", "--api", URL, "--auth", "jwt", "describe", "nope"]) == 1
    assert "SKYTUNE_JWT" in capsys.readouterr().err
