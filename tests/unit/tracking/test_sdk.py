"""The SDK against a fake transport: batching, background sending, retries, idempotent resends."""
from __future__ import annotations

import json
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skytune.client.http import ApiError, Client
from skytune.client.run import MAX_BODY_BYTES, MAX_PARAMS, MAX_POINTS, Run, search, take_batch


class FakeApi:
    """Answers like the API; `failures` is a list of statuses (or exceptions) to answer first."""

    def __init__(self, failures=()) -> None:
        self.failures = list(failures)
        self.calls: list[tuple[str, str, dict | None]] = []
        self.lock = threading.Lock()

    def __call__(self, method, url, headers, body, timeout):
        decoded = json.loads(body) if body else None
        with self.lock:
            self.calls.append((method, url, decoded))
            if self.failures:
                failure = self.failures.pop(0)
                if isinstance(failure, Exception):
                    raise failure
                return failure, {"content-type": "application/json"}, b'{"error": {"code": "Busy", "message": "later"}}'
        path = url.split("8080", 1)[1]
        if method == "POST" and path == "/v1/experiments":
            return 201, {"content-type": "application/json"}, body
        if method == "POST" and path == "/v1/runs":
            return 201, {"content-type": "application/json"}, json.dumps({"run_id": "R1", "name": decoded.get("name") or "R1"}).encode()
        if path.endswith("/log-batch"):
            return 200, {"content-type": "application/json"}, json.dumps({"metrics_written": len(decoded["metrics"])}).encode()
        if method == "PATCH":
            return 200, {"content-type": "application/json"}, json.dumps({"run_id": "R1", **decoded}).encode()
        if path.startswith("/v1/runs/search"):
            offset = int(decoded.get("cursor") or 0)
            rows = [{"run_id": f"r{i}"} for i in range(offset, min(offset + decoded["limit"], 2500))]
            cursor = str(offset + len(rows)) if offset + len(rows) < 2500 else None
            return 200, {"content-type": "application/json"}, json.dumps({"rows": rows, "next_cursor": cursor}).encode()
        return 404, {"content-type": "application/json"}, b'{"error": {"code": "NotFound", "message": "no"}}'

    def batches(self) -> list[dict]:
        return [body for method, url, body in self.calls if url.endswith("/log-batch")]


def client(api: FakeApi, **kw) -> Client:
    return Client("http://127.0.0.1:8080", transport=api, sleep=lambda _s: None, seed=1, **kw)


def test_run_sends_everything_in_batches_and_completes():
    api = FakeApi()
    with Run("exp", "r", client=client(api), flush_interval=0.01) as run:
        run.log_params({"lr": 0.01, "layers": 3, "bn": True, "opt": "sgd"})
        for step in range(2500):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.set_tag("host", "h1")
    batches = api.batches()
    points = [p for b in batches for p in b["metrics"]]
    assert [p["step"] for p in points] == list(range(2500))
    assert all(len(b["metrics"]) <= MAX_POINTS for b in batches) and len(batches) >= 3
    assert {k: v for b in batches for k, v in b["params"].items()} == {"lr": 0.01, "layers": 3, "bn": True, "opt": "sgd"}
    assert api.calls[-1][0] == "PATCH" and api.calls[-1][2] == {"status": "Completed"}
    created = next(body for method, url, body in api.calls if url.endswith("/v1/runs"))
    assert created["name"] == "r" and len(created["client_token"]) == 32


def test_an_exception_marks_the_run_failed_and_is_not_hidden():
    api = FakeApi()
    with pytest.raises(ZeroDivisionError):
        with Run("exp", client=client(api)) as run:
            run.log_metric("x", 1.0)
            1 / 0
    assert api.calls[-1][2] == {"status": "Failed"}
    assert len(api.batches()) == 1


def test_retries_resend_the_identical_batch_after_5xx_429_and_connection_errors():
    api = FakeApi()
    sleeps = []
    c = Client("http://127.0.0.1:8080", transport=api, sleep=sleeps.append, seed=3)
    with Run("exp", client=c, flush_interval=0.01) as run:
        api.failures = [503, 429, ConnectionResetError("reset"), 502]
        run.log_metric("loss", 0.5, step=1)
        run.flush()
    sent = api.batches()
    assert len(sent) == 5 and all(body == sent[0] for body in sent)
    assert len(sleeps) == 4 and all(0 <= s <= 0.2 * 2**i for i, s in enumerate(sleeps))


def test_4xx_is_raised_to_the_caller_without_retry():
    api = FakeApi()
    run = Run("exp", client=client(api), flush_interval=0.01).start()
    api.failures = [400]
    run.log_metric("loss", 0.5)
    with pytest.raises(ApiError) as raised:
        run.flush()
    assert raised.value.status == 400 and len(api.batches()) == 1
    run.finish()


def test_gives_up_after_max_attempts():
    api = FakeApi(failures=[500] * 3)
    with pytest.raises(ApiError) as raised:
        client(api, max_attempts=3).request("GET", "/v1/health")
    assert raised.value.status == 500 and len(api.calls) == 3


def test_bad_values_are_refused_at_the_call():
    run = Run("exp", client=client(FakeApi())).start()
    with pytest.raises(ValueError):
        run.log_metric("loss", float("nan"))
    with pytest.raises(ValueError):
        run.log_metric("loss", 1.0, step=-1)
    with pytest.raises(TypeError):
        run.log_params({"obj": [1, 2]})
    run.finish()
    with pytest.raises(RuntimeError):
        Run("exp", client=client(FakeApi())).log_metric("x", 1.0)


def test_search_follows_cursors_and_honours_limit():
    api = FakeApi()
    rows = search(filter="params.lr < 0.1", experiments=["e"], client=client(api))
    assert [r["run_id"] for r in rows] == [f"r{i}" for i in range(2500)]
    assert len(search(client=client(api), limit=1500)) == 1500
    first = [body for method, url, body in api.calls if url.endswith("/search")][0]
    assert first == {"filter": "params.lr < 0.1", "experiments": ["e"], "limit": 1000}


def test_default_url_and_auth(monkeypatch):
    monkeypatch.delenv("SKYTUNE_URL", raising=False)
    monkeypatch.delenv("SKYTUNE_AUTH", raising=False)
    assert Client().url == "http://127.0.0.1:8080" and Client().auth == "none"
    assert Client("https://abc.execute-api.eu-west-1.amazonaws.com").auth == "iam"
    monkeypatch.setenv("SKYTUNE_URL", "http://localhost:9000/")
    assert Client().url == "http://localhost:9000"
    monkeypatch.setenv("SKYTUNE_AUTH", "iam")
    assert Client().auth == "iam"


def test_iam_requests_are_sigv4_signed(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    seen = {}

    def transport(method, url, headers, body, timeout):
        seen.update(headers)
        return 200, {"content-type": "application/json"}, b"{}"

    Client("https://abc.execute-api.eu-west-1.amazonaws.com", transport=transport).request("GET", "/v1/health")
    assert seen["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in seen["Authorization"]


entries = st.text(alphabet="abcdefghij/_.", min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(
    points=st.lists(st.tuples(entries, st.floats(allow_nan=False, allow_infinity=False)), max_size=2500),
    params=st.dictionaries(entries, st.one_of(st.integers(), st.text(max_size=6000)), max_size=250),
    tags=st.dictionaries(entries, st.text(max_size=256), max_size=150),
)
def test_take_batch_delivers_everything_once_in_order_within_limits(points, params, tags):
    pending_points = [{"name": n, "value": v, "timestamp": 1} for n, v in points]
    pending_params, pending_tags = dict(params), dict(tags)
    sent_points, sent_params, sent_tags = [], {}, {}
    while pending_points or pending_params or pending_tags:
        batch = take_batch(pending_points, pending_params, pending_tags)
        assert batch["metrics"] or batch["params"] or batch["tags"], "progress on every call"
        assert len(batch["metrics"]) <= MAX_POINTS and len(batch["params"]) <= MAX_PARAMS and len(batch["tags"]) <= 100
        assert len(json.dumps(batch)) <= MAX_BODY_BYTES
        sent_points += batch["metrics"]
        assert not set(batch["params"]) & set(sent_params)
        sent_params.update(batch["params"])
        sent_tags.update(batch["tags"])
    assert sent_points == [{"name": n, "value": v, "timestamp": 1} for n, v in points]
    assert sent_params == params and sent_tags == tags
