"""Batch logging and series reads through the HTTP API on DynamoDB Local."""
from __future__ import annotations

import json
import uuid

import pytest


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def run_id(api) -> str:
    experiment = unique("exp")
    api.post("/v1/experiments", {"name": experiment})
    return api.post("/v1/runs", {"experiment": experiment}).json()["run_id"]


def points(metric: str, values: list[float], start_step: int = 0) -> list[dict]:
    return [{"name": metric, "value": v, "step": start_step + i, "timestamp": 1_700_000_000_000 + i}
            for i, v in enumerate(values)]


def test_log_batch_writes_points_params_tags_and_summaries(api, run_id):
    body = {"metrics": points("loss", [0.9, 0.5, 0.7]) + points("acc", [0.1, 0.4]),
            "params": {"lr": 0.01, "layers": 4, "use_bn": False, "opt": "sgd"}, "tags": {"host": "h1"}}
    response = api.post(f"/v1/runs/{run_id}/log-batch", body)
    assert response.status == 200, response.json()
    assert response.json() == {"metrics_written": 5, "metrics_duplicates": 0, "params_written": 4, "tags_written": 1}
    run = api.get(f"/v1/runs/{run_id}").json()
    assert run["params"] == {"lr": 0.01, "layers": 4, "use_bn": False, "opt": "sgd"}
    assert run["tags"] == {"host": "h1"}
    loss = run["metrics"]["loss"]
    assert (loss["count"], loss["min"], loss["max"], loss["first"], loss["last"]) == (3, 0.5, 0.9, 0.9, 0.7)
    assert (loss["min_step"], loss["max_step"], loss["last_step"]) == (1, 0, 2)
    assert loss["avg"] == pytest.approx(0.7)

    # The same batch again (a client retry) changes nothing.
    again = api.post(f"/v1/runs/{run_id}/log-batch", body).json()
    assert again["metrics_written"] == 0 and again["metrics_duplicates"] == 5
    assert api.get(f"/v1/runs/{run_id}").json()["metrics"]["loss"]["count"] == 3


def test_params_are_write_once(api, run_id):
    api.post(f"/v1/runs/{run_id}/log-batch", {"params": {"lr": 0.01}})
    same = api.post(f"/v1/runs/{run_id}/log-batch", {"params": {"lr": 0.01}})
    assert same.status == 200
    changed = api.post(f"/v1/runs/{run_id}/log-batch", {"params": {"lr": 0.02}, "metrics": points("m", [1.0])})
    assert changed.status == 409 and changed.json()["error"]["field"] == "params.lr"
    assert api.get(f"/v1/runs/{run_id}").json()["metrics"] == {}, "nothing of a refused batch is written"
    flipped = api.post(f"/v1/runs/{run_id}/log-batch", {"params": {"lr": True}})
    assert flipped.status == 409


def test_bad_batches_are_4xx_naming_the_field_and_write_nothing(api, run_id):
    nan = b'{"metrics": [{"name": "loss", "value": 1.0, "step": 0}, {"name": "loss", "value": NaN, "step": 1}]}'
    response = api.post(f"/v1/runs/{run_id}/log-batch", nan)
    assert response.status == 400 and response.json()["error"]["field"] == "metrics[1].value"
    infinite = api.post(f"/v1/runs/{run_id}/log-batch", b'{"metrics": [{"name": "x", "value": Infinity}]}')
    assert infinite.status == 400
    too_many = api.post(f"/v1/runs/{run_id}/log-batch", {"metrics": points("m", [1.0] * 1001)})
    assert too_many.status == 400 and too_many.json()["error"]["field"] == "metrics"
    odd_name = api.post(f"/v1/runs/{run_id}/log-batch", {"metrics": [{"name": "a\nb", "value": 1}]})
    assert odd_name.status == 400 and odd_name.json()["error"]["field"] == "metrics[0].name"
    too_many_params = api.post(f"/v1/runs/{run_id}/log-batch", {"params": {f"p{i}": i for i in range(101)}})
    assert too_many_params.status == 400 and too_many_params.json()["error"]["field"] == "params"
    big = {"tags": {f"t{i}": "x" * 250 for i in range(40)},
           "params": {f"p{i}": "y" * 6000 for i in range(100)}, "metrics": points("m", [1.0] * 1000)}
    # Valid content, but the raw body (padded with whitespace) is over 1 MB.
    oversized = api.post(f"/v1/runs/{run_id}/log-batch", json.dumps(big, indent=64).encode())
    assert oversized.status == 413
    assert oversized.json()["error"]["details"] == {"limit": "BATCH_BODY_MAX_BYTES", "max_bytes": 1024 * 1024}
    # Under 1 MB, but more than a run item (400 KB) can hold: 413 naming the params.
    item_too_big = api.post(f"/v1/runs/{run_id}/log-batch", json.dumps(big).encode())
    assert item_too_big.status == 413 and item_too_big.json()["error"]["field"] == "params"
    assert api.get(f"/v1/runs/{run_id}").json()["metrics"] == {}
    assert api.get(f"/v1/runs/{run_id}").json()["params"] == {}
    missing = api.post("/v1/runs/01HZZZZZZZZZZZZZZZZZZZZZZZ/log-batch", {"metrics": points("m", [1.0])})
    assert missing.status == 404


def test_a_full_batch_of_1000_points_is_accepted(api, run_id):
    body = {"metrics": points("loss", [1.0 / (i + 1) for i in range(1000)]),
            "params": {f"p{i}": i for i in range(100)}, "tags": {f"t{i}": "v" for i in range(50)}}
    response = api.post(f"/v1/runs/{run_id}/log-batch", body)
    assert response.status == 200 and response.json()["metrics_written"] == 1000
    summary = api.get(f"/v1/runs/{run_id}").json()["metrics"]["loss"]
    assert summary["count"] == 1000 and summary["min"] == 1.0 / 1000 and summary["min_step"] == 999
    too_many_tags = api.post(f"/v1/runs/{run_id}/log-batch", {"tags": {"one-more": "x"}})
    assert too_many_tags.status == 400 and too_many_tags.json()["error"]["field"] == "tags"


def test_series_read_with_step_window_and_downsampling(api, run_id):
    values = [((i * 37) % 101) / 100 for i in range(500)]
    for start in range(0, 500, 250):
        api.post(f"/v1/runs/{run_id}/log-batch", {"metrics": points("train/loss", values[start:start + 250], start)})
    full = api.get(f"/v1/runs/{run_id}/metrics/train%2Floss")
    assert full.status == 200, full.json()
    assert [p["value"] for p in full.json()["points"]] == values
    window = api.get(f"/v1/runs/{run_id}/metrics/train%2Floss?min_step=10&max_step=19").json()["points"]
    assert [p["step"] for p in window] == list(range(10, 20))
    small = api.get(f"/v1/runs/{run_id}/metrics/train%2Floss?max_points=20").json()["points"]
    assert len(small) <= 20
    kept = {p["value"] for p in small}
    assert min(values) in kept and max(values) in kept
    assert api.get(f"/v1/runs/{run_id}/metrics/nope").status == 404
    bad = api.get(f"/v1/runs/{run_id}/metrics/train%2Floss?min_step=5&max_step=1")
    assert bad.status == 400 and bad.json()["error"]["field"] == "min_step"


# -- issue 9: every documented batch limit at once, and point identity across requests -------------
def test_a_log_batch_at_every_documented_limit_is_accepted(api, run_id):
    """1,000 points naming 1,000 distinct metrics, 100 params, 50 tags (today: "Expression size
    has exceeded" past ~250 metrics)."""
    body = {"metrics": [{"name": f"layer{i:04d}/weight_norm", "value": i / 7, "step": 3, "timestamp": 1_700_000_000_000}
                        for i in range(1000)],
            "params": {f"p{i}": i for i in range(100)}, "tags": {f"t{i}": "x" for i in range(50)}}  # a run holds 50 tags
    response = api.post(f"/v1/runs/{run_id}/log-batch", body)
    assert response.status == 200, response.json()
    assert response.json()["metrics_written"] == 1000
    metrics = api.get(f"/v1/runs/{run_id}").json()["metrics"]
    assert len(metrics) == 1000 and metrics["layer0700/weight_norm"]["last"] == 100.0
    again = api.post(f"/v1/runs/{run_id}/log-batch", body).json()
    assert (again["metrics_written"], again["metrics_duplicates"]) == (0, 1000)


def test_with_an_idempotency_key_points_are_identified_across_requests(api, run_id):
    first = {"metrics": points("loss", [0.9, 0.8, 0.7, 0.6])}
    overlapping = {"metrics": points("loss", [0.8, 0.7, 0.6, 0.5, 0.4], start_step=1)[:5]}
    overlapping["metrics"] = [dict(p, timestamp=1_700_000_000_000 + p["step"]) for p in overlapping["metrics"]]
    key = {"Idempotency-Key": "batch-1"}
    assert api.post(f"/v1/runs/{run_id}/log-batch", first, headers=key).json()["metrics_written"] == 4
    response = api.post(f"/v1/runs/{run_id}/log-batch", overlapping, headers={"Idempotency-Key": "batch-2"}).json()
    assert (response["metrics_written"], response["metrics_duplicates"]) == (2, 3)
    loss = api.get(f"/v1/runs/{run_id}").json()["metrics"]["loss"]
    assert (loss["count"], loss["last"], loss["min"]) == (6, 0.4, 0.4)
    # Without the header, a request that is not a byte-identical retry is new points.
    plain = api.post(f"/v1/runs/{run_id}/log-batch", {"metrics": points("loss", [0.9])}).json()
    assert plain["metrics_written"] == 1


def test_a_metric_past_the_run_limit_is_a_400_naming_the_field(api, run_id, monkeypatch):
    from skytune.metrics import store

    monkeypatch.setattr(store, "METRICS_PER_RUN_MAX", 5)
    body = {"metrics": [{"name": f"m{i}", "value": 1.0, "step": 0, "timestamp": 1} for i in range(6)]}
    response = api.post(f"/v1/runs/{run_id}/log-batch", body)
    assert response.status == 400, response.json()
    assert response.json()["error"]["field"] == "metrics"
    assert api.get(f"/v1/runs/{run_id}").json()["metrics"] == {}
