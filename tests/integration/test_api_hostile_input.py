"""Hostile input (issue 9 §1): each case here answered 500 or was accepted wrongly before.

Deep JSON, duplicate keys, loose numbers for steps, path ids that could never exist, and tampered
list cursors must all be a 4xx in the one error shape, naming what to fix.
"""
from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest

from skytune.tracking import limits as tracking_limits

DOCUMENT = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def assert_error(response, status: int, field: str, code: str = "ValidationError") -> dict:
    assert response.status == status, (response.status, response.body[:300])
    error = response.json()["error"]
    assert error["code"] == code and error["field"] == field, error
    return error


@pytest.fixture(scope="module")
def run(api):
    experiment = unique("hostile")
    assert api.post("/v1/experiments", {"name": experiment}).status == 201
    assert api.post(f"/v1/experiments/{experiment}/trials", {"name": "t"}).status == 201
    created = api.post("/v1/runs", {"experiment": experiment, "trials": ["t"]})
    assert created.status == 201
    return created.json()


# -- JSON bodies --------------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [tracking_limits.JSON_MAX_DEPTH + 1, 1_000, 10_000, 100_000])
@pytest.mark.parametrize("route", ["/v1/experiments", "/v1/tuning-jobs", "/v1/runs/search"])
def test_json_nested_past_the_documented_depth_is_a_400(api, route, depth):
    # Was: RecursionError, a 500, from 1,000 levels on; shallower nesting reached the core.
    body = ("[" * depth + "]" * depth).encode()
    error = assert_error(api.post(route, body), 400, "body")
    assert error["details"] == {"limit": "JSON_MAX_DEPTH", "max_depth": tracking_limits.JSON_MAX_DEPTH}


def test_json_at_the_documented_depth_is_read(api):
    nested: object = "x"
    for _ in range(tracking_limits.JSON_MAX_DEPTH - 2):  # {"tags": {...}} adds two levels
        nested = [nested]
    response = api.post("/v1/experiments", {"name": unique("deep"), "tags": {"k": nested}})
    assert_error(response, 400, "tags.k")  # reached validation: a tag value must be a string


def test_duplicate_json_keys_are_a_400_not_last_wins(api):
    name = unique("dup")
    body = f'{{"name": "{name}", "description": "one", "description": "two"}}'.encode()
    error = assert_error(api.post("/v1/experiments", body), 400, "body")
    assert error["details"] == {"duplicate_key": "description"}
    assert api.get(f"/v1/experiments/{name}").status == 404


def test_duplicate_keys_in_a_nested_object_are_refused_too(api, run):
    body = b'{"metrics": [{"name": "loss", "value": 1, "step": 1, "step": 2}]}'
    assert_error(api.post(f"/v1/runs/{run['run_id']}/log-batch", body), 400, "body")


@pytest.mark.parametrize("step", ["5", True, 1.0, 1.5, -1])
def test_a_step_is_a_json_integer_ge_0(api, run, step):
    # Was: "5" and true were read as 5 and 1.
    body = {"metrics": [{"name": "loss", "value": 0.5, "step": step, "timestamp": 1}]}
    assert_error(api.post(f"/v1/runs/{run['run_id']}/log-batch", body), 400, "metrics[0].step")


@pytest.mark.parametrize("field,value", [("value", "0.5"), ("value", True), ("value", 1e200), ("timestamp", "7")])
def test_point_values_and_timestamps_are_strict_too(api, run, field, value):
    point = {"name": "loss", "value": 0.5, "step": 1, "timestamp": 1, field: value}
    assert_error(api.post(f"/v1/runs/{run['run_id']}/log-batch", {"metrics": [point]}), 400, f"metrics[0].{field}")


def test_worker_heartbeat_steps_are_strict(api):
    body = {"metrics": [{"name": "loss", "value": 0.5, "step": "3"}]}
    response = api.post("/v1/tuning-jobs/no-such-job/trials/no-such-trial/heartbeat", body)
    assert_error(response, 400, "metrics[0].step")


# -- path parameters -------------------------------------------------------------------------------
def _templated_operations():
    for path, methods in DOCUMENT["paths"].items():
        if "{" in path:
            for method in methods:
                yield method.upper(), path


TEMPLATED = sorted(_templated_operations())
VALID = {"name": "x", "experiment": "x", "trial": "x", "trial_name": "x", "run_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
         "metric": "loss"}


def _fill(path: str, bad_param: str, bad_value: str) -> str:
    for param, value in VALID.items():
        path = path.replace("{" + param + "}", bad_value if param == bad_param else value)
    assert "{" not in path, path
    return path


def _cases():
    for method, path in TEMPLATED:
        for param in VALID:
            if "{" + param + "}" in path:
                yield method, path, param


CASES = sorted(_cases())


def test_every_templated_route_is_covered():
    # 21 operations with path parameters; each parameter is one of the validated kinds.
    assert len(TEMPLATED) >= 21
    assert {p for _, path, p in CASES} == set(VALID)
    for method, path in TEMPLATED:
        for parameter in DOCUMENT["paths"][path][method.lower()].get("parameters", []):
            if parameter["in"] == "path":
                assert "maxLength" in parameter["schema"], (method, path, parameter["name"])


@pytest.mark.parametrize("method,path,param", CASES)
@pytest.mark.parametrize("bad", ["a" * 1500, "a$b"])
def test_a_path_id_that_breaks_the_id_rules_is_a_400_naming_it(api, method, path, param, bad):
    # Was: ids longer than DynamoDB's key limits were a 500 on 18 of 21 routes.
    body = {} if method in ("POST", "PATCH", "PUT") else None
    response = api.request(method, _fill(path, param, bad), body)
    assert_error(response, 400, param)


def test_an_encoded_metric_name_is_decoded_then_checked(api, run):
    response = api.get(f"/v1/runs/{run['run_id']}/metrics/a%0Ab")  # a newline: no key holds one
    assert_error(response, 400, "metric")
    response = api.get(f"/v1/runs/{run['run_id']}/metrics/train%2Floss")  # valid, not logged
    assert_error(response, 404, "metric", code="NotFound")


# -- list cursors -------------------------------------------------------------------------------------
def _pages(api, experiment: str) -> dict[str, str]:
    """One real next_cursor per cursor-paged listing."""
    for i in range(3):
        assert api.post(f"/v1/experiments/{experiment}/trials", {"name": f"t{i}"}).status == 201
        created = api.post("/v1/runs", {"experiment": experiment, "trials": ["t0"]})
        assert created.status == 201
    listings = {
        "experiments": "/v1/experiments?limit=1",
        "trials": f"/v1/experiments/{experiment}/trials?limit=1",
        "runs": f"/v1/experiments/{experiment}/runs?limit=1",
        "trial-runs": f"/v1/experiments/{experiment}/trials/t0/runs?limit=1",
    }
    cursors = {}
    for kind, url in listings.items():
        page = api.get(url)
        assert page.status == 200, page.body
        cursors[kind] = (url, page.json()["next_cursor"])
        assert cursors[kind][1]
    return cursors


@pytest.fixture(scope="module")
def cursors(api):
    experiment = unique("cursors")
    assert api.post("/v1/experiments", {"name": experiment}).status == 201
    assert api.post("/v1/experiments", {"name": unique("cursors-other")}).status == 201
    return experiment, _pages(api, experiment)


def tampered(cursor: str) -> list[str]:
    payload, _, check = cursor.partition(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    key = json.loads(raw)
    forged_key = {name: {"S": value["S"] + "x"} for name, value in key.items()}
    forged = base64.urlsafe_b64encode(json.dumps(forged_key).encode()).decode().rstrip("=")
    return [
        cursor[:-1] + ("A" if cursor[-1] != "A" else "B"),  # one character changed
        cursor[: len(cursor) // 2],  # cut
        f"{forged}.{check}",  # another key, the old check value
        base64.urlsafe_b64encode(b'{"pk": {"N": "1"}}').decode(),  # a raw key, as cursors used to be
        base64.urlsafe_b64encode(json.dumps({"pk": {"S": "x" * 3000}, "sk": {"S": ""}}).encode()).decode(),
        "not base64 at all!",
        "%%%",
        "A" * 5000,
    ]


@pytest.mark.parametrize("kind", ["experiments", "trials", "runs", "trial-runs"])
def test_a_valid_cursor_pages_and_a_tampered_one_is_a_400(api, cursors, kind):
    _experiment, pages = cursors
    url, cursor = pages[kind]
    assert api.get(f"{url}&cursor={cursor}").status == 200
    for bad in tampered(cursor):
        response = api.get(f"{url}&cursor={bad}")
        assert_error(response, 400, "cursor")


def test_a_cursor_is_bound_to_the_listing_that_made_it(api, cursors):
    experiment, pages = cursors
    other = unique("cursors-b")
    assert api.post("/v1/experiments", {"name": other}).status == 201
    _url, runs_cursor = pages["runs"]
    # The runs cursor of one experiment is refused by another experiment's and by the trials listing.
    assert_error(api.get(f"/v1/experiments/{other}/runs?limit=1&cursor={runs_cursor}"), 400, "cursor")
    assert_error(api.get(f"/v1/experiments/{experiment}/trials?limit=1&cursor={runs_cursor}"), 400, "cursor")
    _url, trial_runs_cursor = pages["trial-runs"]
    assert_error(api.get(f"/v1/experiments/{experiment}/trials/t1/runs?limit=1&cursor={trial_runs_cursor}"), 400,
                 "cursor")


def test_tuning_job_listing_cursors_are_tamper_evident(api):
    response = api.get("/v1/tuning-jobs?limit=1&cursor=" + base64.urlsafe_b64encode(b'{"pk": {"S": "x"}}').decode())
    assert_error(response, 400, "cursor")
