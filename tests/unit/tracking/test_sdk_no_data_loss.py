"""The SDK never loses good data: checks at the call, refused entries isolated, resends, resume,
numpy scalars, bounded flushing. (Exit and signal handling run in real subprocesses:
tests/e2e/test_sdk_local.py.)"""
from __future__ import annotations

import json

import numpy as np
import pytest

from skytune.client.http import ApiError, Client, ServerUnreachable
from skytune.client.run import DISPLAY_NAME_TAG, Run, _split
from tests.unit.tracking.test_sdk import FakeApi, client


class RefusingApi(FakeApi):
    """Refuses (400) any batch holding a point of value 13.0 or a param named `taken` (409), as a
    server rule the client does not know would; stores what it accepts."""

    def __init__(self, failures=()) -> None:
        super().__init__(failures)
        self.stored_points: list[dict] = []
        self.stored_params: dict = {}

    def __call__(self, method, url, headers, body, timeout):
        decoded = json.loads(body) if body else None
        if url.endswith("/log-batch"):
            if any(p["value"] == 13.0 for p in decoded["metrics"]):
                self.calls.append((method, url, decoded))
                return 400, {"content-type": "application/json"}, b'{"error": {"code": "InvalidInput", "message": "13 is unlucky", "field": "metrics"}}'
            if "taken" in decoded["params"]:
                self.calls.append((method, url, decoded))
                return 409, {"content-type": "application/json"}, b'{"error": {"code": "Conflict", "message": "param taken differs", "field": "params.taken"}}'
        status, headers_, data = super().__call__(method, url, headers, body, timeout)
        if url.endswith("/log-batch") and status == 200:
            self.stored_points += decoded["metrics"]
            self.stored_params.update(decoded["params"])
        return status, headers_, data


def test_a_refused_point_does_not_take_the_good_ones_with_it():
    api = RefusingApi()
    run = Run("exp", client=client(api), flush_interval=60).start()
    for step in range(40):
        run.log_metric("loss", 13.0 if step == 17 else step + 0.5, step=step)
    run.log_params({"lr": 0.1, "taken": 1})
    with pytest.raises(ApiError) as raised:
        run.flush()
    assert raised.value.status in (400, 409)
    run.finish()
    assert sorted(p["step"] for p in api.stored_points) == [s for s in range(40) if s != 17]
    assert api.stored_params == {"lr": 0.1}
    assert api.calls[-1][2] == {"status": "Completed"}


def test_a_batch_the_server_could_not_take_is_kept_and_resent():
    api = RefusingApi()
    c = Client("http://127.0.0.1:8080", transport=api, sleep=lambda _s: None, seed=1, max_attempts=2)
    run = Run("exp", client=c, flush_interval=60).start()
    api.failures = [503, 503]  # both attempts of the first send fail
    for step in range(10):
        run.log_metric("acc", step / 10, step=step)
    with pytest.raises(ApiError):
        run.flush()
    assert run.pending() == 10  # back in the buffer, not dropped
    run.finish()
    assert sorted(p["step"] for p in api.stored_points) == list(range(10))


@pytest.mark.parametrize("call, message", [
    (lambda run: run.log_metric("val loss!", 1.0), "may hold only"),
    (lambda run: run.log_metric("x" * 251, 1.0), "1-250 characters"),
    (lambda run: run.log_metric("loss", float("inf")), "not finite"),
    (lambda run: run.log_metric("loss", "0.5"), "not a number"),
    (lambda run: run.log_metric("loss", 1.0, step=1.5), "non-negative int"),
    (lambda run: run.log_param("layers", None), "leave it out"),
    (lambda run: run.log_param("sizes", [64, 32]), "one param per element"),
    (lambda run: run.log_param("cfg", {"a": 1}), "json.dumps"),
    (lambda run: run.log_param("lr", 1e200), "magnitude"),
    (lambda run: run.set_tag("note", "x" * 257), "longer than 256"),
    (lambda run: run.set_tag("bad,key", "v"), "may hold only"),
])
def test_bad_values_raise_at_the_call_with_the_rule_and_nothing_is_buffered(call, message):
    api = FakeApi()
    run = Run("exp", client=client(api), flush_interval=60).start()
    run.log_metric("good", 1.0)
    with pytest.raises((ValueError, TypeError), match=message):
        call(run)
    run.finish()
    assert [p["name"] for b in api.batches() for p in b["metrics"]] == ["good"]


def test_params_are_write_once_at_the_call():
    run = Run("exp", client=client(FakeApi()), params={"lr": 0.1}).start()
    run.log_param("lr", 0.1)  # the same value again is fine
    run.log_param("epochs", 3)
    run.log_param("epochs", 3.0)
    with pytest.raises(ValueError, match="write-once"):
        run.log_param("lr", 0.2)
    run.finish()


def test_numpy_scalars_are_numbers():
    api = FakeApi()
    with Run("exp", client=client(api), params={"seed": np.int64(7)}) as run:
        run.log_metric("acc", np.float32(0.5), step=np.int64(3))
        run.log_metric("n", np.int32(4))
        run.log_metrics({"f1": np.float64(0.25), "auc": np.array(0.75)})
        run.log_params({"lr": np.float32(0.125), "bn": np.bool_(True), "depth": np.uint8(4)})
        run.set_tag("seed", np.int64(7))
        with pytest.raises(TypeError, match="shape"):
            run.log_metric("vec", np.array([1.0, 2.0]))
    created = next(body for method, url, body in api.calls if url.endswith("/v1/runs"))
    assert created["params"] == {"seed": 7}
    points = {p["name"]: p for b in api.batches() for p in b["metrics"]}
    assert points["acc"]["value"] == 0.5 and points["acc"]["step"] == 3 and points["n"]["value"] == 4.0
    assert points["f1"]["value"] == 0.25 and points["auc"]["value"] == 0.75
    params = {k: v for b in api.batches() for k, v in b["params"].items()}
    assert params == {"lr": 0.125, "bn": True, "depth": 4}
    assert type(params["depth"]) is int and type(params["bn"]) is bool
    assert {k: v for b in api.batches() for k, v in b["tags"].items()} == {"seed": "7"}


class StoredRuns(FakeApi):
    """FakeApi plus a run R1 that already exists (named `first`, Completed)."""

    def __call__(self, method, url, headers, body, timeout):
        decoded = json.loads(body) if body else None
        path = url.split("8080", 1)[1]
        existing = {"run_id": "R1", "experiment": "exp", "name": "first", "status": "Completed",
                    "params": {"lr": 0.1}, "tags": {}}
        if method == "GET" and path == "/v1/runs/R1":
            self.calls.append((method, url, decoded))
            return 200, {"content-type": "application/json"}, json.dumps(existing).encode()
        if method == "POST" and path == "/v1/runs" and decoded.get("name") == "first":
            self.calls.append((method, url, decoded))
            return 409, {"content-type": "application/json"}, json.dumps(
                {"error": {"code": "Conflict", "message": "taken", "field": "name", "details": {"run_id": "R1"}}}).encode()
        if method == "PATCH" and path == "/v1/runs/R1" and decoded.get("status") == "InProgress":
            self.calls.append((method, url, decoded))
            return 200, {"content-type": "application/json"}, json.dumps({**existing, **decoded}).encode()
        return super().__call__(method, url, headers, body, timeout)


@pytest.mark.parametrize("how", [{"run_id": "R1"}, {"experiment": "exp", "name": "first", "resume": True}])
def test_resume_continues_the_existing_run(how):
    api = StoredRuns()
    with Run(client=client(api), **how) as run:
        assert run.run_id == "R1" and run.name == "first" and run.experiment == "exp"
        run.log_metric("loss", 0.5, step=10)
        with pytest.raises(ValueError, match="write-once"):
            run.log_param("lr", 0.2)  # the stored param is known
    reopened = [body for method, url, body in api.calls if method == "PATCH"]
    assert reopened[0] == {"status": "InProgress", "end_time": None} and reopened[-1] == {"status": "Completed"}
    assert api.batches()[0]["metrics"][0]["step"] == 10


def test_without_resume_a_taken_name_is_an_error():
    with pytest.raises(ApiError) as raised:
        Run("exp", "first", client=client(StoredRuns())).start()
    assert raised.value.status == 409
    with pytest.raises(ValueError, match="belongs to experiment"):
        Run("other", run_id="R1", client=client(StoredRuns())).start()
    with pytest.raises(TypeError):
        Run()


def test_display_name_is_a_tag_and_the_name_stays_unique():
    api = FakeApi()
    with Run("exp", display_name="Training", client=client(api)) as run:
        assert run.display_name == "Training"
    created = next(body for method, url, body in api.calls if url.endswith("/v1/runs"))
    assert "name" not in created and created["tags"] == {DISPLAY_NAME_TAG: "Training"}


def test_finish_is_bounded_and_still_ends_the_run():
    api = FakeApi()

    class Stuck(Client):
        def log_batch(self, *a, **kw):
            import time
            time.sleep(5)
            raise AssertionError("not reached in time")

    run = Run("exp", client=Stuck("http://127.0.0.1:8080", transport=api, sleep=lambda _s: None), flush_interval=0.01).start()
    run.log_metric("loss", 1.0)
    import time
    began = time.monotonic()
    with pytest.raises(TimeoutError, match="1 metric points"):
        run.finish("Stopped", timeout=0.5)
    assert time.monotonic() - began < 2
    assert api.calls[-1][2] == {"status": "Stopped"}


def test_an_unreachable_server_names_the_url_and_the_fix():
    def refused(method, url, headers, body, timeout):
        raise ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(ServerUnreachable) as raised:
        Client("http://127.0.0.1:8080", transport=refused, sleep=lambda _s: None, connect_retry_seconds=0).request("GET", "/v1/health")
    assert "http://127.0.0.1:8080/v1/health" in str(raised.value) and "skytune local" in str(raised.value)


def test_plain_http_hosts_default_to_no_signing(monkeypatch):
    monkeypatch.delenv("SKYTUNE_AUTH", raising=False)
    assert Client("http://skytune.internal:8080").auth == "none"
    assert Client("https://api.example.com").auth == "iam"


def test_split_isolates_every_entry():
    batch = {"metrics": [{"v": i} for i in range(5)], "params": {"a": 1, "b": 2}, "tags": {"t": "x"}}
    leaves, pending = [], [batch]
    while pending:
        part = pending.pop()
        halves = _split(part)
        if halves:
            pending += halves
        else:
            leaves.append(part)
    assert len(leaves) == 8
    assert sorted(p["v"] for leaf in leaves for p in leaf["metrics"]) == list(range(5))
