"""API additions the dashboard needs: experiment run counts / last activity, hyperparameter importance."""
from __future__ import annotations

import itertools
import math
import uuid
from datetime import datetime


from skytune.tuning import engine


def test_experiments_list_with_stats_counts_runs_and_tracks_the_last_activity(api, local_stack, bound_tables):
    from skytune.index.items import IndexManifestItem, index_pk

    name = f"stats-{uuid.uuid4().hex[:8]}"
    assert api.post("/v1/experiments", {"name": name}).status == 201
    listed = lambda: next(e for e in api.get(f"/v1/experiments?stats=true&limit=1000").json()["experiments"] if e["name"] == name)  # noqa: E731
    empty = listed()
    assert empty["run_count"] == 0 and empty["last_activity"] == empty["updated_at"]
    run_ids = [api.post("/v1/runs", {"experiment": name, "name": f"r{i}"}).json()["run_id"] for i in range(3)]
    api.post(f"/v1/runs/{run_ids[-1]}/log-batch", {"metrics": [{"name": "loss", "value": 1.0, "step": 0}]})
    newest = api.get(f"/v1/runs/{run_ids[-1]}").json()
    local_stack.streams.flush()  # the count is the index's: as fresh as search (docs/tracking.md)
    stats = listed()
    assert stats["run_count"] == 3
    assert datetime.fromisoformat(stats["last_activity"]) == datetime.fromisoformat(newest["updated_at"])
    api.delete(f"/v1/runs/{run_ids[0]}")
    local_stack.streams.flush()
    assert listed()["run_count"] == 2
    # read from the index's manifest (one item), not counted over the run-name items
    manifest = IndexManifestItem.get(index_pk(name), "MANIFEST", consistent_read=True)
    manifest.runs = 42
    manifest.save()
    assert listed()["run_count"] == 42
    assert api.post("/v1/index/rebuild", {"experiments": [name]}).status == 200
    assert listed()["run_count"] == 2
    plain = next(e for e in api.get("/v1/experiments?limit=1000").json()["experiments"] if e["name"] == name)
    assert plain["run_count"] is None and plain["last_activity"] is None  # only on request: it costs reads


_names = (f"imp-{uuid.uuid4().hex[:6]}-{n}" for n in itertools.count())


def test_importance_route_ranks_the_parameter_that_drives_the_objective(api, tuning_repo):
    job, _ = engine.create_job(tuning_repo, {
        "name": next(_names), "strategy": "Random", "random_seed": 5,
        "objective": {"metric_name": "acc", "type": "Maximize"},
        "parameter_ranges": {"ContinuousParameterRanges": [
            {"Name": "lr", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Logarithmic"},
            {"Name": "dropout", "MinValue": "0", "MaxValue": "0.5"}]},
        "resource_limits": {"max_number_of_training_jobs": 16, "max_parallel_training_jobs": 1},
        "trial": {"runner": "external", "metric_definitions": [{"Name": "acc", "Regex": "acc=([0-9.]+)"}]},
    })
    early = api.get(f"/v1/tuning-jobs/{job.name}/importance").json()
    assert early["importances"] == {} and early["trials"] == 0
    for iteration in range(16):
        claim = engine.claim_slot(tuning_repo, job.name, "exec", 0, iteration, 0)
        request = engine.suggest_for_trial(tuning_repo, job.name, claim["trial_number"], 0)
        hp = tuning_repo.get_trial_by_name(job.name, request["trial_name"]).hyperparameters
        acc = 1 - (math.log10(hp["lr"]) + 2) ** 2 / 10 + 0.001 * hp["dropout"]
        engine.report_metrics(tuning_repo, job.name, request["trial_name"], [{"name": "acc", "value": acc, "step": 1}])
        engine.record_trial(tuning_repo, job.name, claim["trial_number"], "external", {"status": "Completed"})
    body = api.get(f"/v1/tuning-jobs/{job.name}/importance").json()
    assert body["HyperParameterTuningJobName"] == job.name and body["ObjectiveMetricName"] == "acc"
    assert body["trials"] == 16 and body["method"] == "fanova-forest"
    assert list(body["importances"]) == ["lr", "dropout"] and body["importances"]["lr"] > 0.8
    assert api.get(f"/v1/tuning-jobs/{job.name}/importance").json() == body  # deterministic


def test_importance_of_an_unknown_job_is_404(api):
    response = api.get("/v1/tuning-jobs/no-such-job/importance")
    assert response.status == 404 and response.json()["error"]["code"] == "NotFound"


# -- POST /v1/analytics/columns: a page names its columns before it has seen a row ---------------

def _full_rows(api, experiment: str) -> list[dict]:
    response = api.post("/v1/runs/search", {"experiments": [experiment], "limit": 1000, "order_by": "name"})
    assert response.status == 200, response.json()
    return response.json()["rows"]


def test_columns_are_every_key_of_the_full_rows_in_their_order_and_follow_changes(api, local_stack):
    experiment = f"cols-{uuid.uuid4().hex[:8]}"
    assert api.post("/v1/experiments", {"name": experiment}).status == 201
    first = api.post("/v1/runs", {"experiment": experiment, "name": "a", "params": {"lr": 0.1, "opt": "adam"}}).json()["run_id"]
    # a param, a tag and a metric that only a later run has: not in a first page of one full row
    second = api.post("/v1/runs", {"experiment": experiment, "name": "b", "params": {"lr": 0.2, "seed": 3},
                                   "tags": {"team": "nlp"}}).json()["run_id"]
    api.post(f"/v1/runs/{second}/log-batch", {"metrics": [{"name": "val loss", "value": 0.5, "step": 1, "timestamp": 1}]})
    local_stack.streams.flush()

    response = api.post("/v1/analytics/columns", {"experiments": [experiment]})
    assert response.status == 200, response.json()
    columns = response.json()["columns"]
    rows = _full_rows(api, experiment)
    assert columns == list(rows[0])  # a page holding every run has every column, in this order
    one = api.post("/v1/runs/search", {"experiments": [experiment], "limit": 1, "order_by": "name"}).json()["rows"]
    assert set(one[0]) < set(columns)  # what the page used to learn its columns from
    assert columns[:10] == ["run_id", "name", "experiment", "trial", "status", "created", "started", "ended", "source", "parent"]
    assert columns[10:] == ["params.lr", "params.opt", "params.seed",
                            *(f"metrics.`val loss`.{s}" for s in ("min", "max", "avg", "stddev", "last", "count")), "tags.team"]
    # every key is a column a search accepts, and the search answers the same values as the full rows
    named = api.post("/v1/runs/search", {"experiments": [experiment], "columns": columns, "limit": 1000, "order_by": "name"}).json()["rows"]
    assert named == [{key: row.get(key) for key in columns} for row in rows]

    # a param added later and a run deleted: the index follows, so do the columns
    api.patch(f"/v1/runs/{first}", {"tags": {"stage": "dev"}})
    assert api.delete(f"/v1/runs/{second}").status in (200, 204)
    local_stack.streams.flush()
    after = api.post("/v1/analytics/columns", {"experiments": [experiment], "metric_stats": ["max"]}).json()["columns"]
    assert after[10:] == ["params.lr", "params.opt", "tags.stage"]


def test_columns_of_several_experiments_and_chosen_statistics(api, local_stack):
    names = [f"cols-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for i, name in enumerate(names):
        api.post("/v1/experiments", {"name": name})
        run = api.post("/v1/runs", {"experiment": name, "name": "r", "params": {f"p{i}": i}}).json()["run_id"]
        api.post(f"/v1/runs/{run}/log-batch", {"metrics": [{"name": f"m{i}", "value": 1.0, "step": 0, "timestamp": 1}]})
    local_stack.streams.flush()
    body = api.post("/v1/analytics/columns", {"experiments": names, "metric_stats": ["last", "max"]}).json()
    assert body["columns"][10:] == ["params.p0", "params.p1", "metrics.m0.last", "metrics.m0.max", "metrics.m1.last", "metrics.m1.max"]


def test_columns_bad_input_is_a_4xx_naming_the_field(api):
    experiment = f"cols-{uuid.uuid4().hex[:8]}"
    api.post("/v1/experiments", {"name": experiment})
    empty = api.post("/v1/analytics/columns", {"experiments": [experiment]})
    assert empty.status == 200 and empty.json()["columns"][10:] == []
    unknown_stat = api.post("/v1/analytics/columns", {"experiments": [experiment], "metric_stats": ["p99"]})
    assert unknown_stat.status == 400 and unknown_stat.json()["error"]["field"] == "metric_stats"
    missing = api.post("/v1/analytics/columns", {"experiments": [f"nope-{uuid.uuid4().hex[:8]}"]})
    assert missing.status == 404 and missing.json()["error"]["field"] == "experiments"
    extra = api.post("/v1/analytics/columns", {"experiments": [experiment], "colums": ["x"]})
    assert extra.status == 400 and extra.json()["error"]["field"] == "colums"


def test_importance_of_each_objective_of_a_multi_objective_job(api, tuning_repo):
    """acc depends on lr only, latency on dropout only: each metric's importance names its own driver."""
    job, _ = engine.create_job(tuning_repo, {
        "name": next(_names), "strategy": "Random", "random_seed": 7,
        "objectives": [{"metric_name": "acc", "type": "Maximize"}, {"metric_name": "latency", "type": "Minimize"}],
        "outcome_constraints": [{"metric_name": "mem", "operator": "<=", "value": 100}],
        "parameter_ranges": {"ContinuousParameterRanges": [
            {"Name": "lr", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Logarithmic"},
            {"Name": "dropout", "MinValue": "0", "MaxValue": "0.5"}]},
        "resource_limits": {"max_number_of_training_jobs": 16, "max_parallel_training_jobs": 1},
        "trial": {"runner": "external"},
    })
    for iteration in range(16):
        claim = engine.claim_slot(tuning_repo, job.name, "exec", 0, iteration, 0)
        request = engine.suggest_for_trial(tuning_repo, job.name, claim["trial_number"], 0)
        hp = tuning_repo.get_trial_by_name(job.name, request["trial_name"]).hyperparameters
        engine.report_metrics(tuning_repo, job.name, request["trial_name"], [
            {"name": "acc", "value": 1 - (math.log10(hp["lr"]) + 2) ** 2 / 10, "step": 1},
            {"name": "latency", "value": 10 + 100 * hp["dropout"], "step": 1},
            {"name": "mem", "value": 50.0, "step": 1}])
        engine.record_trial(tuning_repo, job.name, claim["trial_number"], "external", {"status": "Completed"})
    by_default = api.get(f"/v1/tuning-jobs/{job.name}/importance").json()
    assert by_default["ObjectiveMetricName"] == "acc" and list(by_default["importances"])[0] == "lr"
    latency = api.get(f"/v1/tuning-jobs/{job.name}/importance?metric=latency").json()
    assert latency["ObjectiveMetricName"] == "latency" and latency["trials"] == 16
    assert list(latency["importances"]) == ["dropout", "lr"] and latency["importances"]["dropout"] > 0.8
    constant = api.get(f"/v1/tuning-jobs/{job.name}/importance?metric=mem").json()
    assert constant["trials"] == 16 and constant["importances"] == {}  # a metric that never varies explains nothing
    refused = api.get(f"/v1/tuning-jobs/{job.name}/importance?metric=loss")
    assert refused.status == 400 and refused.json()["error"]["field"] == "metric"
    assert "acc, latency, mem" in refused.json()["error"]["message"]
