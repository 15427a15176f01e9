"""The api function behind the HTTP API, on DynamoDB Local."""
from __future__ import annotations

import uuid


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_health_reports_version_and_every_table_active(api):
    response = api.get("/v1/health")
    assert response.status == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == "0.1.0"
    assert body["stage"] == "test"
    assert body["storage"] == {"tracking_table": "ACTIVE", "metrics_table": "ACTIVE", "idempotency_table": "ACTIVE",
                               "index_table": "ACTIVE"}


def test_created_experiment_is_stored_and_listed(api):
    name = unique("exp")
    created = api.post("/v1/experiments", {"name": name, "description": "d", "tags": {"team": "vision"}})
    assert created.status == 201
    assert created.json()["tags"] == {"team": "vision"}

    fetched = api.get(f"/v1/experiments/{name}").json()
    assert fetched["name"] == name and fetched["description"] == "d"
    assert fetched["created_at"] == created.json()["created_at"]

    names, cursor = [], None
    while True:
        page = api.get("/v1/experiments?limit=2" + (f"&cursor={cursor}" if cursor else "")).json()
        names += [e["name"] for e in page["experiments"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert name in names
    assert names == sorted(names)


def test_repeating_a_create_is_idempotent_but_a_different_body_conflicts(api):
    name = unique("exp")
    first = api.post("/v1/experiments", {"name": name, "tags": {"a": "1"}})
    again = api.post("/v1/experiments", {"name": name, "tags": {"a": "1"}})
    assert again.status == 201 and again.json() == first.json()
    different = api.post("/v1/experiments", {"name": name, "tags": {"a": "2"}})
    assert different.status == 409
    assert different.json()["error"] == {"code": "Conflict", "message": f"experiment {name!r} already exists", "field": "name"}
    assert api.get(f"/v1/experiments/{name}").json()["tags"] == {"a": "1"}


def test_bad_input_gets_400_naming_the_field(api):
    bad_name = api.post("/v1/experiments", {"name": "has space"})
    assert bad_name.status == 400
    assert bad_name.json()["error"]["field"] == "name"

    unknown_field = api.post("/v1/experiments", {"name": unique("e"), "colour": "red"})
    assert unknown_field.status == 400
    assert unknown_field.json()["error"]["field"] == "colour"

    broken_json = api.post("/v1/experiments", b'{"name": ')
    assert broken_json.status == 400
    assert broken_json.json()["error"]["field"] == "body"

    bad_limit = api.get("/v1/experiments?limit=0")
    assert bad_limit.status == 400 and bad_limit.json()["error"]["field"] == "limit"

    bad_cursor = api.get("/v1/experiments?cursor=not-a-cursor")
    assert bad_cursor.status == 400 and bad_cursor.json()["error"]["field"] == "cursor"


def test_missing_experiment_is_404_json(api):
    response = api.get("/v1/experiments/does-not-exist")
    assert response.status == 404
    assert response.json()["error"]["code"] == "NotFound"


def test_unknown_route_is_404_and_wrong_method_is_405(api):
    unknown = api.get("/v1/no-such-thing")
    assert unknown.status == 404
    assert unknown.json()["error"]["code"] == "NotFound"

    wrong_method = api.delete("/v1/health")
    assert wrong_method.status == 405
    assert wrong_method.headers["allow"] == "GET"
    assert wrong_method.json()["error"]["details"]["allowed"] == ["GET"]

    outside_api = api.get("/elsewhere")
    assert outside_api.status == 404  # no route in the template: API Gateway's own answer
    assert outside_api.json() == {"message": "Not Found"}
