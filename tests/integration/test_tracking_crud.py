"""Experiments, trials and runs through the HTTP API on DynamoDB Local: CRUD, associations,
nested runs, typed params, cascade rules."""
from __future__ import annotations

import uuid

import pytest


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def experiment(api) -> str:
    name = unique("exp")
    assert api.post("/v1/experiments", {"name": name}).status == 201
    return name


def create_run(api, experiment: str, **fields) -> dict:
    response = api.post("/v1/runs", {"experiment": experiment, **fields})
    assert response.status == 201, response.json()
    return response.json()


def test_run_is_created_with_typed_params_artifacts_and_server_id(api, experiment):
    run = create_run(
        api, experiment, name="r1", source="arn:aws:sagemaker:eu-west-1:123456789012:training-job/j1",
        params={"lr": 0.01, "layers": 3, "augment": True, "optimizer": "adam", "big": 12345678901234567890},
        tags={"team": "vision"},
        inputs=[{"name": "train", "uri": "s3://b/train.csv", "media_type": "text/csv", "digest": "etag-1"}],
        outputs=[{"name": "model", "uri": "s3://b/model.tar.gz"}],
    )
    assert len(run["run_id"]) == 26 and run["name"] == "r1"
    assert run["status"] == "InProgress" and run["start_time"] is not None and run["end_time"] is None
    fetched = api.get(f"/v1/runs/{run['run_id']}").json()
    params = fetched["params"]
    assert params == {"lr": 0.01, "layers": 3, "augment": True, "optimizer": "adam", "big": 12345678901234567890}
    assert type(params["layers"]) is int and type(params["augment"]) is bool and type(params["lr"]) is float
    assert fetched["inputs"] == [{"name": "train", "uri": "s3://b/train.csv", "media_type": "text/csv", "digest": "etag-1"}]
    assert fetched["outputs"][0]["uri"] == "s3://b/model.tar.gz"
    assert fetched["metrics"] == {} and fetched["trials"] == []
    assert fetched["source"].endswith("training-job/j1")


def test_run_names_are_unique_per_experiment_and_retries_are_idempotent(api, experiment):
    first = create_run(api, experiment, name="same", params={"a": 1}, client_token="tok-1")
    retry = api.post("/v1/runs", {"experiment": experiment, "name": "same", "params": {"a": 1}, "client_token": "tok-1"})
    assert retry.status == 201 and retry.json()["run_id"] == first["run_id"]
    assert "client_token" not in retry.json()
    other_token = api.post("/v1/runs", {"experiment": experiment, "name": "same", "client_token": "tok-2"})
    assert other_token.status == 409
    clash = api.post("/v1/runs", {"experiment": experiment, "name": "same", "params": {"a": 1}})
    assert clash.status == 409
    assert clash.json()["error"]["field"] == "name" and clash.json()["error"]["details"] == {"run_id": first["run_id"]}
    other = api.post("/v1/experiments", {"name": unique("exp")}).json()["name"]
    assert create_run(api, other, name="same")["run_id"] != first["run_id"]
    unnamed = create_run(api, experiment)
    assert unnamed["name"] == unnamed["run_id"]


def test_bad_run_input_is_a_400_naming_the_field(api, experiment):
    cases = {
        "params.bad key!": {"params": {"bad key!": 1}},
        "name": {"name": "has space"},
        "status": {"status": "Running"},
        "inputs": {"inputs": [{"name": "a", "uri": "s3://x"}, {"name": "a", "uri": "s3://y"}]},
        "extra": {"colour": "red"},
    }
    for expected, body in cases.items():
        response = api.post("/v1/runs", {"experiment": experiment, **body})
        assert response.status == 400, (expected, response.json())
        field = response.json()["error"]["field"]
        assert field.startswith(expected.split(".")[0] if expected != "extra" else "colour"), (expected, field)
    nan_param = api.post("/v1/runs", b'{"experiment": "%s", "params": {"x": NaN}}' % experiment.encode())
    assert nan_param.status == 400 and nan_param.json()["error"]["field"].startswith("params")
    huge = api.post("/v1/runs", {"experiment": experiment, "params": {"x": 1e300}})
    assert huge.status == 400 and huge.json()["error"]["field"] == "params"
    missing = api.post("/v1/runs", {"experiment": unique("nope")})
    assert missing.status == 404 and missing.json()["error"]["field"] == "experiment"


def test_trials_group_runs_and_runs_can_join_several(api, experiment):
    for trial in ("t1", "t2"):
        assert api.post(f"/v1/experiments/{experiment}/trials", {"name": trial, "tags": {"k": trial}}).status == 201
    again = api.post(f"/v1/experiments/{experiment}/trials", {"name": "t1", "tags": {"k": "t1"}})
    assert again.status == 201
    assert api.post(f"/v1/experiments/{experiment}/trials", {"name": "t1"}).status == 409
    run = create_run(api, experiment, trials=["t1"])
    assert run["trials"] == ["t1"]
    added = api.request("PUT", f"/v1/experiments/{experiment}/trials/t2/runs/{run['run_id']}")
    assert added.status == 200 and added.json()["added"] is True
    repeat = api.request("PUT", f"/v1/experiments/{experiment}/trials/t2/runs/{run['run_id']}")
    assert repeat.json()["added"] is False
    assert api.get(f"/v1/runs/{run['run_id']}").json()["trials"] == ["t1", "t2"]
    listed = api.get(f"/v1/experiments/{experiment}/trials/t2/runs").json()
    assert [r["run_id"] for r in listed["runs"]] == [run["run_id"]]
    names = [t["name"] for t in api.get(f"/v1/experiments/{experiment}/trials").json()["trials"]]
    assert names == ["t1", "t2"]

    assert api.delete(f"/v1/experiments/{experiment}/trials/t1/runs/{run['run_id']}").status == 200
    assert api.delete(f"/v1/experiments/{experiment}/trials/t1/runs/{run['run_id']}").status == 404
    assert api.get(f"/v1/runs/{run['run_id']}").json()["trials"] == ["t2"]

    missing_trial = api.post("/v1/runs", {"experiment": experiment, "trials": ["nope"]})
    assert missing_trial.status == 404 and missing_trial.json()["error"]["field"] == "trials"

    # Deleting a trial keeps its runs and removes the membership.
    deleted = api.delete(f"/v1/experiments/{experiment}/trials/t2")
    assert deleted.status == 200 and deleted.json()["runs_removed"] == 1
    assert api.get(f"/v1/runs/{run['run_id']}").json()["trials"] == []
    assert api.get(f"/v1/experiments/{experiment}/trials/t2").status == 404


def test_trial_and_experiment_updates_merge_tags(api, experiment):
    api.post(f"/v1/experiments/{experiment}/trials", {"name": "t", "description": "old", "tags": {"a": "1", "b": "2"}})
    updated = api.patch(f"/v1/experiments/{experiment}/trials/t", {"description": "new", "tags": {"a": None, "c": "3"}})
    assert updated.status == 200
    assert updated.json()["description"] == "new" and updated.json()["tags"] == {"b": "2", "c": "3"}
    exp = api.patch(f"/v1/experiments/{experiment}", {"tags": {"team": "x"}}).json()
    assert exp["tags"] == {"team": "x"} and exp["updated_at"] > exp["created_at"]
    too_many = api.patch(f"/v1/experiments/{experiment}", {"tags": {f"k{i}": "v" for i in range(51)}})
    assert too_many.status == 400 and too_many.json()["error"]["field"] == "tags"
    assert api.patch(f"/v1/experiments/{unique('nope')}", {"description": "x"}).status == 404


def test_run_update_renames_finishes_and_edits_tags(api, experiment):
    run = create_run(api, experiment, name="before", tags={"a": "1"})
    create_run(api, experiment, name="taken")
    clash = api.patch(f"/v1/runs/{run['run_id']}", {"name": "taken"})
    assert clash.status == 409 and clash.json()["error"]["field"] == "name"
    done = api.patch(f"/v1/runs/{run['run_id']}", {"name": "after", "status": "Completed", "tags": {"a": None, "b": "2"}})
    assert done.status == 200
    body = done.json()
    assert body["name"] == "after" and body["status"] == "Completed" and body["end_time"] is not None
    assert body["tags"] == {"b": "2"}
    # the old name is free again, the new one is taken
    assert create_run(api, experiment, name="before")["run_id"] != run["run_id"]
    assert api.post("/v1/runs", {"experiment": experiment, "name": "after"}).status == 409
    assert api.patch(f"/v1/runs/{run['run_id']}", {"status": None}).status == 400
    assert api.patch(f"/v1/runs/{run['run_id']}", {"params": {"x": 1}}).status == 400


def test_nested_runs_and_cascade_rules(api, experiment):
    parent = create_run(api, experiment, name="parent")
    child = create_run(api, experiment, name="child", parent=parent["run_id"])
    grandchild = create_run(api, experiment, name="grandchild", parent=child["run_id"])
    children = api.get(f"/v1/runs/{parent['run_id']}/children").json()["runs"]
    assert [c["run_id"] for c in children] == [child["run_id"]]
    assert child["parent"] == parent["run_id"]

    other = api.post("/v1/experiments", {"name": unique("exp")}).json()["name"]
    cross = api.post("/v1/runs", {"experiment": other, "parent": parent["run_id"]})
    assert cross.status == 400 and cross.json()["error"]["field"] == "parent"
    assert api.post("/v1/runs", {"experiment": experiment, "parent": "01HZZZZZZZZZZZZZZZZZZZZZZZ"}).status == 404

    refused = api.delete(f"/v1/runs/{parent['run_id']}")
    assert refused.status == 409 and refused.json()["error"]["details"]["children"] == [child["run_id"]]
    assert api.delete(f"/v1/experiments/{experiment}").status == 409

    deleted = api.delete(f"/v1/runs/{child['run_id']}?cascade=true")
    assert deleted.status == 200 and deleted.json()["runs_deleted"] == 2
    for gone in (child, grandchild):
        assert api.get(f"/v1/runs/{gone['run_id']}").status == 404
    assert api.get(f"/v1/runs/{parent['run_id']}/children").json()["runs"] == []
    # the names are free again
    assert create_run(api, experiment, name="child")["name"] == "child"


def test_experiment_cascade_deletes_trials_runs_and_names(api, experiment):
    api.post(f"/v1/experiments/{experiment}/trials", {"name": "t"})
    parent = create_run(api, experiment, name="p", trials=["t"])
    create_run(api, experiment, name="c", parent=parent["run_id"])
    refused = api.delete(f"/v1/experiments/{experiment}")
    assert refused.status == 409 and refused.json()["error"]["details"] == {"trials": 1, "runs": 2}
    deleted = api.delete(f"/v1/experiments/{experiment}?cascade=true")
    assert deleted.status == 200 and deleted.json() == {"experiment": experiment, "trials": 1, "runs": 2}
    assert api.get(f"/v1/experiments/{experiment}").status == 404
    assert api.get(f"/v1/runs/{parent['run_id']}").status == 404
    # recreated from scratch: nothing left behind
    assert api.post("/v1/experiments", {"name": experiment}).status == 201
    assert api.get(f"/v1/experiments/{experiment}/runs").json()["runs"] == []
    assert api.get(f"/v1/experiments/{experiment}/trials").json()["trials"] == []
    assert create_run(api, experiment, name="p")["name"] == "p"


def test_runs_are_listed_oldest_first_with_cursor_pagination(api, experiment):
    ids = [create_run(api, experiment, name=f"r{i}")["run_id"] for i in range(5)]
    seen, cursor = [], None
    while True:
        page = api.get(f"/v1/experiments/{experiment}/runs?limit=2" + (f"&cursor={cursor}" if cursor else "")).json()
        seen += [r["run_id"] for r in page["runs"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids
    assert api.get(f"/v1/experiments/{unique('nope')}/runs").status == 404
