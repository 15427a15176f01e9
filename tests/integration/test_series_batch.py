"""POST /v1/analytics/series: many runs' series in one request (the dashboard's line chart), each
the same points the one-series route answers, on DynamoDB Local through the HTTP API."""
from __future__ import annotations

import math
import uuid

import pytest


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def log(api, run_id: str, metric: str, values: list[float], start: int = 0) -> None:
    for offset in range(0, len(values), 1000):
        chunk = values[offset:offset + 1000]
        body = {"metrics": [{"name": metric, "value": v, "step": start + offset + i, "timestamp": 1_700_000_000_000 + start + offset + i}
                            for i, v in enumerate(chunk)]}
        response = api.post(f"/v1/runs/{run_id}/log-batch", body)
        assert response.status == 200, response.json()


@pytest.fixture(scope="module")
def curves(api) -> dict:
    """Three runs: two with a 3,000-point `train/loss` and a short `acc`, one with `acc` only."""
    experiment = unique("batch")
    api.post("/v1/experiments", {"name": experiment})
    ids = [api.post("/v1/runs", {"experiment": experiment, "name": f"r{i}"}).json()["run_id"] for i in range(3)]
    loss = {}
    for k, run_id in enumerate(ids[:2]):
        loss[run_id] = [1 / (1 + s / 100) + 0.1 * math.sin(s / 7 + k) for s in range(3000)]
        loss[run_id][1234 + k] = 9.0  # a spike downsampling must keep
        log(api, run_id, "train/loss", loss[run_id])
    for run_id in ids:
        log(api, run_id, "acc", [0.5, 0.6, 0.7])
    return {"experiment": experiment, "ids": ids, "loss": loss}


def one(api, run_id: str, metric: str, query: str = "") -> list[dict]:
    response = api.get(f"/v1/runs/{run_id}/metrics/{metric.replace('/', '%2F')}{query}")
    assert response.status == 200, response.json()
    return response.json()["points"]


def columns(points: list[dict]) -> dict:
    return {"steps": [p["step"] for p in points], "timestamps_ms": [p["timestamp_ms"] for p in points],
            "values": [p["value"] for p in points]}


def test_a_batch_answers_each_series_as_the_one_series_route_does(api, curves):
    ids = curves["ids"]
    response = api.post("/v1/analytics/series", {"runs": ids, "metrics": ["train/loss", "acc"], "max_points": 200})
    assert response.status == 200, response.json()
    body = response.json()
    assert [(s["run_id"], s["metric"]) for s in body["series"]] == [
        (ids[0], "train/loss"), (ids[0], "acc"), (ids[1], "train/loss"), (ids[1], "acc"), (ids[2], "acc")]
    assert body["missing"] == [{"run_id": ids[2], "metric": "train/loss"}]
    for series in body["series"]:
        expected = columns(one(api, series["run_id"], series["metric"], "?max_points=200"))
        assert {k: series[k] for k in expected} == expected
    loss = body["series"][0]
    assert 100 < len(loss["steps"]) <= 200 and loss["steps"] == sorted(loss["steps"])
    assert 9.0 in loss["values"] and min(curves["loss"][ids[0]]) in loss["values"]  # extremes survive
    assert body["series"][1]["values"] == [0.5, 0.6, 0.7]


def test_a_step_window_reads_every_point_inside_it(api, curves):
    run_id = curves["ids"][1]
    body = api.post("/v1/analytics/series", {"runs": [run_id], "metrics": ["train/loss"], "min_step": 1200,
                                              "max_step": 1299, "max_points": 1000}).json()
    (series,) = body["series"]
    assert series["steps"] == list(range(1200, 1300))
    assert series["values"] == curves["loss"][run_id][1200:1300]
    assert series == {"run_id": run_id, "metric": "train/loss",
                      **columns(one(api, run_id, "train/loss", "?min_step=1200&max_step=1299&max_points=1000"))}


def test_unknown_and_deleted_runs_are_listed_as_missing(api, curves):
    experiment = curves["experiment"]
    gone = api.post("/v1/runs", {"experiment": experiment, "name": "gone"}).json()["run_id"]
    log(api, gone, "acc", [0.1])
    assert api.delete(f"/v1/runs/{gone}").status == 200
    body = api.post("/v1/analytics/series", {"runs": [gone, "01ZZZZZZZZZZZZZZZZZZZZZZZZ", curves["ids"][2], gone],
                                              "metrics": ["acc"]}).json()
    assert [s["run_id"] for s in body["series"]] == [curves["ids"][2]]
    assert body["missing"] == [{"run_id": gone, "metric": "acc"}, {"run_id": "01ZZZZZZZZZZZZZZZZZZZZZZZZ", "metric": "acc"}]


@pytest.mark.parametrize("body, field", [
    ({"runs": [], "metrics": ["acc"]}, "runs"),
    ({"runs": ["not a run id!"], "metrics": ["acc"]}, "runs"),
    ({"runs": ["01ZZZZZZZZZZZZZZZZZZZZZZZZ"], "metrics": ["bad\nname"]}, "metrics"),
    ({"runs": ["01ZZZZZZZZZZZZZZZZZZZZZZZZ"], "metrics": ["acc"], "max_points": 1}, "max_points"),
    ({"runs": ["01ZZZZZZZZZZZZZZZZZZZZZZZZ"], "metrics": ["acc"], "max_points": "600"}, "max_points"),
    ({"runs": ["01ZZZZZZZZZZZZZZZZZZZZZZZZ"], "metrics": ["acc"], "min_step": 5, "max_step": 1}, "min_step"),
    ({"runs": ["01ZZZZZZZZZZZZZZZZZZZZZZZZ"], "metrics": ["acc"], "extra": 1}, "extra"),
    ({"runs": [f"01ZZZZZZZZZZZZZZZZZZZZZ{i:03d}" for i in range(11)], "metrics": [f"m{i}" for i in range(10)]}, "runs"),
    ({"runs": [f"01ZZZZZZZZZZZZZZZZZZZZZ{i:03d}" for i in range(20)], "metrics": ["acc"], "max_points": 5000}, "max_points"),
])
def test_bad_batches_are_a_400_naming_the_field(api, body, field):
    response = api.post("/v1/analytics/series", body)
    assert response.status == 400, response.json()
    error = response.json()["error"]
    assert error["field"].split(".")[0].split("[")[0] == field, error



def test_a_second_read_is_cut_from_the_decoded_copy_and_a_grown_series_is_read_again(api):
    from skytune.metrics.series_cache import SERIES_CACHE

    experiment = unique("cache")
    api.post("/v1/experiments", {"name": experiment})
    run_id = api.post("/v1/runs", {"experiment": experiment}).json()["run_id"]
    log(api, run_id, "loss", [float(i) for i in range(300)])
    body = {"runs": [run_id], "metrics": ["loss"], "max_points": 40}
    first = api.post("/v1/analytics/series", body).json()["series"][0]
    hits = SERIES_CACHE.hits
    zoom = api.post("/v1/analytics/series", {**body, "min_step": 100, "max_step": 149, "max_points": 1000}).json()["series"][0]
    assert SERIES_CACHE.hits == hits + 1  # no segment read for the zoom
    assert zoom["steps"] == list(range(100, 150)) and zoom["values"] == [float(i) for i in range(100, 150)]
    assert api.post("/v1/analytics/series", body).json()["series"][0] == first
    log(api, run_id, "loss", [-5.0], start=300)  # the series grows: its count, so its key, changes
    grown = api.post("/v1/analytics/series", {**body, "min_step": 290}).json()["series"][0]
    assert grown["steps"] == list(range(290, 301)) and grown["values"][-1] == -5.0
