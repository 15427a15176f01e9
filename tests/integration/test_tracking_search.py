"""Search, analytics and lineage through the HTTP API on DynamoDB Local."""
from __future__ import annotations

import csv
import io
import statistics
import uuid

import pytest


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def sweep(api, local_stack) -> dict:
    """Two experiments; 8 runs in the first (lr x seed), 2 in the second; metrics val_acc and val_loss."""
    first, second = unique("sweep"), unique("other")
    for name in (first, second):
        api.post("/v1/experiments", {"name": name})
    api.post(f"/v1/experiments/{first}/trials", {"name": "adam"})
    runs = {}
    for index, (lr, seed) in enumerate([(lr, seed) for lr in (0.1, 0.01, 0.001, 0.0001) for seed in (1, 2)]):
        run = api.post("/v1/runs", {"experiment": first, "name": f"lr{lr}-s{seed}", "trials": ["adam"] if seed == 1 else [],
                                    "params": {"lr": lr, "seed": seed, "opt": "adam"}, "tags": {"seed": str(seed)}}).json()
        acc = [0.5 + 0.05 * step + index * 0.01 for step in range(12)]
        loss = [1.0 / (step + 1 + index) for step in range(12)]
        metrics = [{"name": "val_acc", "value": v, "step": s, "timestamp": 1000 + s} for s, v in enumerate(acc)]
        metrics += [{"name": "val_loss", "value": v, "step": s, "timestamp": 1000 + s} for s, v in enumerate(loss)]
        assert api.post(f"/v1/runs/{run['run_id']}/log-batch", {"metrics": metrics}).status == 200
        runs[run["name"]] = {"run_id": run["run_id"], "lr": lr, "seed": seed, "acc_max": max(acc), "loss_at_10": loss[10]}
    for i in range(2):
        api.post("/v1/runs", {"experiment": second, "name": f"o{i}", "params": {"lr": 0.5}})
    local_stack.streams.flush()  # search reads the experiment index, which the stream consumer keeps
    return {"first": first, "second": second, "runs": runs}


def search(api, **body) -> dict:
    response = api.post("/v1/runs/search", body)
    assert response.status == 200, response.json()
    return response.json()


def test_or_filter_sorted_by_a_metric_summary(api, sweep):
    body = search(api, experiments=[sweep["first"]], filter="params.lr >= 0.01 OR params.seed = 2",
                  order_by="metrics.val_acc.max DESC", columns=["name", "params.lr", "metrics.val_acc.max"])
    expected = sorted((r for r in sweep["runs"].values() if r["lr"] >= 0.01 or r["seed"] == 2),
                      key=lambda r: -r["acc_max"])
    assert [row["metrics.val_acc.max"] for row in body["rows"]] == [r["acc_max"] for r in expected]
    assert all(set(row) == {"name", "params.lr", "metrics.val_acc.max"} for row in body["rows"])
    assert body["next_cursor"] is None


def test_numeric_params_compare_numerically_and_step_predicates_work(api, sweep):
    body = search(api, experiments=[sweep["first"]], filter="params.lr < 0.01 AND metrics.val_loss.at(10) < 0.07",
                  columns="name")
    expected = {name for name, r in sweep["runs"].items() if r["lr"] < 0.01 and r["loss_at_10"] < 0.07}
    assert {row["name"] for row in body["rows"]} == expected and expected


def test_cursor_pages_cover_every_match_once(api, sweep):
    seen, cursor = [], None
    while True:
        page = search(api, experiments=[sweep["first"], sweep["second"]], order_by=["params.lr", "name DESC"],
                      columns="run_id", limit=3, **({"cursor": cursor} if cursor else {}))
        seen += [row["run_id"] for row in page["rows"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 10
    mismatched = api.post("/v1/runs/search", {"experiments": [sweep["first"]], "cursor": cursor or "x", "limit": 3})
    assert mismatched.status == 400 and mismatched.json()["error"]["field"] == "cursor"


def test_search_across_all_experiments_and_default_rows(api, sweep):
    body = search(api, filter=f"experiment = '{sweep['second']}'", order_by="name")
    assert [row["name"] for row in body["rows"]] == ["o0", "o1"]
    row = body["rows"][0]
    assert row["params.lr"] == 0.5 and row["experiment"] == sweep["second"] and row["status"] == "InProgress"
    trial_rows = search(api, experiments=[sweep["first"]], filter="trial = 'adam'", columns="name")["rows"]
    assert len(trial_rows) == 4


def test_unknown_metric_in_sort_puts_runs_without_it_last(api, sweep):
    body = search(api, experiments=[sweep["first"], sweep["second"]], order_by="metrics.val_acc.max", columns="name")
    names = [row["name"] for row in body["rows"]]
    assert names[-2:] == ["o0", "o1"]


def test_parse_errors_are_400_with_position_and_expectation(api, sweep):
    response = api.post("/v1/runs/search", {"filter": "params.lr < AND x"})
    assert response.status == 400
    error = response.json()["error"]
    assert error["field"] == "filter" and error["details"]["position"] == 12 and error["details"]["expected"]
    assert api.post("/v1/runs/search", {"order_by": "params.lr SIDEWAYS"}).json()["error"]["field"] == "order_by"
    assert api.post("/v1/runs/search", {"experiments": [unique("nope")]}).status == 404


def test_analytics_table_json_and_csv(api, sweep):
    response = api.post("/v1/analytics/table", {"experiments": [sweep["first"]], "order_by": "name"})
    assert response.status == 200
    table = response.json()
    assert "trial" in table["columns"] and "metrics.val_acc.max" in table["columns"] and len(table["rows"]) == 8
    by_name = {row["name"]: row for row in table["rows"]}
    assert by_name["lr0.1-s1"]["trial"] == ["adam"] and by_name["lr0.1-s2"]["trial"] is None

    as_csv = api.post("/v1/analytics/table", {"experiments": [sweep["first"]], "order_by": "name", "format": "csv",
                                              "columns": ["name", "params.lr", "trial"]})
    assert as_csv.status == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.body.decode())))
    assert rows[0] == ["name", "params.lr", "trial"] and len(rows) == 9
    assert ["lr0.1-s1", "0.1", "adam"] in rows


def test_group_by_mean_and_std_across_seeds(api, sweep):
    response = api.post("/v1/analytics/group-by", {
        "experiments": [sweep["first"]], "group_by": "params.lr",
        "aggregates": "mean(metrics.val_acc.max), std(metrics.val_acc.max), count()"})
    assert response.status == 200, response.json()
    groups = response.json()["groups"]
    assert [g["params.lr"] for g in groups] == [0.0001, 0.001, 0.01, 0.1]
    for group in groups:
        accs = [r["acc_max"] for r in sweep["runs"].values() if r["lr"] == group["params.lr"]]
        assert group["count()"] == 2
        assert group["mean(metrics.val_acc.max)"] == pytest.approx(statistics.fmean(accs))
        assert group["std(metrics.val_acc.max)"] == pytest.approx(statistics.stdev(accs))
    bad = api.post("/v1/analytics/group-by", {"group_by": "params.lr", "aggregates": "avg(x)"})
    assert bad.status == 400 and bad.json()["error"]["field"] == "aggregates"


def test_lineage_of_artifacts_and_runs(api):
    experiment = unique("lineage")
    api.post("/v1/experiments", {"name": experiment})
    raw, features, model, report = (f"s3://{experiment}/{name}" for name in ("raw", "features", "model", "report"))
    prep = api.post("/v1/runs", {"experiment": experiment, "name": "prep", "inputs": [{"name": "raw", "uri": raw}],
                                 "outputs": [{"name": "features", "uri": features}]}).json()
    train = api.post("/v1/runs", {"experiment": experiment, "name": "train",
                                  "inputs": [{"name": "features", "uri": features}],
                                  "outputs": [{"name": "model", "uri": model, "digest": "sha256:ab"}]}).json()
    evaluate = api.post("/v1/runs", {"experiment": experiment, "name": "eval", "inputs": [{"name": "m", "uri": model}],
                                     "outputs": [{"name": "report", "uri": report}]}).json()

    of_model = api.get(f"/v1/lineage?uri={model}").json()
    assert [r["run_id"] for r in of_model["upstream"]["runs"]] == [train["run_id"]]
    assert [r["run_id"] for r in of_model["downstream"]["runs"]] == [evaluate["run_id"]]
    assert of_model["artifact"]["digest"] == "sha256:ab"

    deep = api.get(f"/v1/lineage?uri={model}&depth=3").json()
    assert {r["name"]: r["depth"] for r in deep["upstream"]["runs"]} == {"train": 1, "prep": 2}
    assert {a["uri"] for a in deep["upstream"]["artifacts"]} == {features, raw}
    assert {a["uri"] for a in deep["downstream"]["artifacts"]} == {report}

    of_train = api.get(f"/v1/runs/{train['run_id']}/lineage?depth=2").json()
    assert [r["name"] for r in of_train["upstream"]["runs"]] == ["prep"]
    assert [r["name"] for r in of_train["downstream"]["runs"]] == ["eval"]
    assert {(e["run_id"], e["direction"]) for e in of_train["edges"]} >= {(train["run_id"], "input"), (train["run_id"], "output")}

    # Replacing a run's outputs moves its lineage links.
    api.patch(f"/v1/runs/{evaluate['run_id']}", {"outputs": []})
    assert api.get(f"/v1/lineage?uri={report}").status == 404
    assert api.get(f"/v1/lineage?uri={model}&depth=9").status == 400
    assert api.get("/v1/runs/01HZZZZZZZZZZZZZZZZZZZZZZZ/lineage").status == 404
