"""Regressions found by the schemathesis run (test_api_schema.py), each with the concrete input.

Every one was a 5xx for bad input or an answer the committed OpenAPI document did not describe.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
TUNING_PREFIX = "/v1/tuning-jobs"  # documented by its own engineer; not covered here yet


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def operations(document: dict):
    for path, methods in document["paths"].items():
        if not path.startswith(TUNING_PREFIX):
            for method, operation in methods.items():
                yield f"{method.upper()} {path}", operation


# -- request media types ----------------------------------------------------------------------------
def test_multipart_without_boundary_is_a_415_naming_the_header_not_a_500(api):
    # Was: powertools' multipart parser raised a bare ValueError ("Missing boundary"), a 500.
    name = unique("mp")
    response = api.post("/v1/experiments", json.dumps({"name": name}).encode(),
                        headers={"content-type": "multipart/form-data"})
    assert response.status == 415
    assert response.json()["error"] == {
        "code": "UnsupportedMediaType", "field": "content-type",
        "message": "the body must be application/json, not 'multipart/form-data'",
    }
    assert api.get(f"/v1/experiments/{name}").status == 404


def test_a_form_body_is_refused_rather_than_parsed_into_the_model(api):
    # Was: powertools parsed form bodies into the route's model, a media type the API never documented.
    name = unique("form")
    response = api.post("/v1/experiments", f"name={name}".encode(),
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status == 415
    assert response.json()["error"]["field"] == "content-type"
    assert api.get(f"/v1/experiments/{name}").status == 404


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON"])
def test_json_with_parameters_or_in_capitals_is_still_json(api, content_type):
    name = unique("json")
    response = api.post("/v1/experiments", json.dumps({"name": name}).encode(), headers={"content-type": content_type})
    assert response.status == 201
    assert response.json()["name"] == name


# -- search language --------------------------------------------------------------------------------
@pytest.mark.parametrize("route", ["/v1/runs/search", "/v1/analytics/table", "/v1/analytics/group-by"])
def test_a_number_longer_than_python_converts_is_a_400_at_its_position(api, route):
    # Was: int("0" * 9999) raised "Exceeds the limit (4300 digits) for integer string conversion", a 500.
    body = {"filter": "0" * 9999, **({"group_by": "params.lr"} if route.endswith("group-by") else {})}
    response = api.post(route, body)
    assert response.status == 400
    error = response.json()["error"]
    assert error["field"] == "filter"
    assert error["details"]["position"] == 0
    assert error["details"]["expected"] == "a number of at most 256 characters"


def test_a_long_but_convertible_number_still_filters(api):
    experiment = unique("num")
    assert api.post("/v1/experiments", {"name": experiment}).status == 201
    assert api.post("/v1/runs", {"experiment": experiment, "params": {"lr": 0.1}}).status == 201
    response = api.post("/v1/runs/search", {"experiments": [experiment], "filter": "params.lr < 1" + "0" * 200})
    assert response.status == 200
    assert len(response.json()["rows"]) == 1


# -- what the document says ---------------------------------------------------------------------------
def test_every_tracking_operation_documents_its_success_answer_with_a_schema():
    # Was: passing `responses=` to a route dropped powertools' default 200, so no GET documented
    # its success, and the sources routes documented 200 while answering 201.
    document = json.loads(DOCUMENT.read_text())
    missing = {}
    for label, operation in operations(document):
        success = {status: answer for status, answer in operation["responses"].items() if status.startswith("2")}
        if len(success) != 1 or not next(iter(success.values()))["content"]["application/json"].get("schema"):
            missing[label] = sorted(success)
    assert missing == {}
    sources = document["paths"]["/v1/runs/{run_id}/log-sources"]["post"]["responses"]
    assert "201" in sources and "200" not in sources


def test_operations_with_a_body_document_400_and_415_and_deletes_with_cascade_document_400():
    # Was: `DELETE /v1/runs/R?cascade=null` answered 400 (right) but the document listed no 400.
    document = json.loads(DOCUMENT.read_text())
    undocumented = {}
    for label, operation in operations(document):
        needed = {"400", "415"} if "requestBody" in operation else set()
        if any(parameter["in"] == "query" for parameter in operation.get("parameters", [])):
            needed.add("400")
        if needed - set(operation["responses"]):
            undocumented[label] = sorted(needed - set(operation["responses"]))
    assert undocumented == {}


def test_cascade_that_is_not_a_boolean_is_a_400_naming_it(api):
    response = api.delete("/v1/runs/0?cascade=null&cascade=null")
    assert response.status == 400
    assert response.json()["error"]["field"] == "cascade"


# -- run times --------------------------------------------------------------------------------------
@pytest.mark.parametrize("field,value", [("start_time", 0), ("end_time", 1_700_000_000_000)])
def test_a_run_time_given_as_a_number_is_a_400_naming_it(api, field, value):
    # Was: pydantic read numbers as epoch seconds or milliseconds (guessing by size) although the
    # document says RFC 3339 string; `{"start_time": 0}` created a run that started in 1970.
    experiment = unique("times")
    assert api.post("/v1/experiments", {"name": experiment}).status == 201
    created = api.post("/v1/runs", {"experiment": experiment, field: value})
    assert created.status == 400
    assert created.json()["error"]["field"] == field
    run = api.post("/v1/runs", {"experiment": experiment, "start_time": "2026-01-31T12:00:00Z"})
    assert run.status == 201 and run.json()["start_time"] == "2026-01-31T12:00:00Z"
    patched = api.patch(f"/v1/runs/{run.json()['run_id']}", {field: value})
    assert patched.status == 400
    assert patched.json()["error"]["field"] == field
