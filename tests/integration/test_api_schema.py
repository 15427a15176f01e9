"""Schemathesis against the committed OpenAPI document (docs/openapi.json), over real HTTP.

Every operation of the document gets generated requests, valid and invalid, sent to the local
runtime (DynamoDB Local behind the HTTP API emulator, on a free port). A response must not be a 5xx,
must use a status the document lists for the operation, and must match that status' schema and media
type; a request the document calls invalid must not succeed. The document is loaded as committed:
what a client generates its code from is what is tested.

Bounded for `make test`: schemathesis' deterministic coverage cases (boundaries, missing and wrong
types, undeclared media types and methods) plus a few generated examples per operation,
derandomised (a fixed seed per operation, no example database), no deadline (DynamoDB Local's
latency varies on a shared machine). Path parameters name the seeded objects about half of the
time, so both the found and the 404 answers are exercised.
"""
from __future__ import annotations

import base64 as _base64
import http.client
import json
import os
import threading
from collections import Counter
from urllib.parse import quote, urlsplit
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from skytune.local.dynamodb_local import free_port
from skytune.local.http_api import serve

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
EXAMPLES_PER_OPERATION = 8
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]
# Every operation is checked; keep this empty (the guard test below insists on it).
NOT_YET_CONFORMING_TAGS: list[str] = []

# The objects the path parameters may name; the run id is known once the run exists.
EXPERIMENT, TRIAL, RUN_NAME, METRIC = "schema-exp", "schema-trial", "schema-run", "loss"
ARTIFACT = "s3://schema/data.csv"
KNOWN = {"name": EXPERIMENT, "experiment": EXPERIMENT, "trial": TRIAL, "metric": METRIC}


class SeededObjects:
    """Objects for the path parameters, (re)created before each operation's examples: an earlier
    operation may have deleted or renamed them. Every create here is idempotent."""

    def __init__(self) -> None:
        self.run_id = ""

    def ensure(self, api) -> None:
        api.post("/v1/experiments", {"name": EXPERIMENT})
        api.post(f"/v1/experiments/{EXPERIMENT}/trials", {"name": TRIAL})
        created = api.post("/v1/runs", {"experiment": EXPERIMENT, "name": RUN_NAME, "trials": [TRIAL],
                                        "client_token": RUN_NAME, "inputs": [{"name": "data", "uri": ARTIFACT}]})
        body = created.json()
        self.run_id = body["run_id"] if created.status == 201 else body["error"]["details"]["run_id"]
        logged = api.post(f"/v1/runs/{self.run_id}/log-batch",
                          {"metrics": [{"name": METRIC, "value": 0.5, "step": 0, "timestamp": 0}]})
        assert logged.status == 200, logged.body

    def substitute(self, parameters: dict | None) -> dict | None:
        if hasattr(parameters, "map_value"):  # schemathesis wraps values of patterned parameters
            return parameters.map_value(self.substitute)
        if not parameters:
            return parameters
        known = {**KNOWN, "run_id": self.run_id}
        return {key: known.get(key, value) for key, value in parameters.items()}


seeded = SeededObjects()

# Loaded at import (reading one file) so that each operation is its own pytest item; the server's
# address is known only later and is given per call.
schema = schemathesis.openapi.from_dict(json.loads(DOCUMENT.read_text()))


@schema.hook
def before_generate_path_parameters(context, strategy):
    # Half generated names (mostly 404s), half the seeded objects (the found paths and their bodies).
    return st.one_of(strategy, strategy.map(seeded.substitute))


@pytest.fixture(scope="module")
def base_url(local_stack):
    port = free_port()
    server = serve(local_stack.http_api(), "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, name="schema-http-api", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def seeded_objects(api) -> SeededObjects:
    seeded.ensure(api)
    return seeded


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_to_the_committed_document(case, base_url, seeded_objects):
    case.call_and_validate(base_url=base_url, checks=CHECKS)


def test_no_operation_is_left_out():
    """A route excluded by mistake would silently leave the conformance test."""
    assert NOT_YET_CONFORMING_TAGS == []


# -- hostile classes (issue 9 §1) ---------------------------------------------------------------------
# Beyond what the document describes: deep nesting, long and odd path ids, tampered cursors and huge
# batches, generated by hypothesis and sent over the same HTTP server. The assertion is no 5xx (and
# a 4xx in the error envelope); the last test checks that /v1/health still answers and prints the
# requests tried per class (`pytest -s` shows them; the closing note of issue 9 quotes them).
# Per class (batches: a sixth of it), derandomised so a run is reproducible; a longer run:
# SKYTUNE_FUZZ_EXAMPLES=500 pytest tests/integration/test_api_schema.py -s -k "nesting or path_ids or cursors or huge or health"
HOSTILE_EXAMPLES = int(os.environ.get("SKYTUNE_FUZZ_EXAMPLES", "60"))
tried: Counter = Counter()
server_errors: Counter = Counter()
DOC = json.loads(DOCUMENT.read_text())
BODY_OPERATIONS = sorted((m.upper(), p) for p, ms in DOC["paths"].items() for m, op in ms.items() if "requestBody" in op)
TEMPLATED_OPERATIONS = sorted((m.upper(), p) for p, ms in DOC["paths"].items() for m in ms if "{" in p)
CURSOR_LISTINGS = ["/v1/experiments", "/v1/tuning-jobs", f"/v1/experiments/{EXPERIMENT}/trials",
                   f"/v1/experiments/{EXPERIMENT}/runs", f"/v1/experiments/{EXPERIMENT}/trials/{TRIAL}/runs"]
hostile = settings(max_examples=HOSTILE_EXAMPLES, deadline=None, derandomize=True, database=None,
                   suppress_health_check=list(HealthCheck))


def send(base_url: str, kind: str, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        headers = {"content-type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        status, payload = response.status, response.read()
    finally:
        connection.close()
    tried[kind] += 1
    if status >= 500:
        server_errors[kind] += 1
    assert status < 500, (kind, method, path[:200], status, payload[:300])
    return status, payload


def assert_envelope(status: int, payload: bytes) -> None:
    assert 400 <= status < 500, status
    if status != 413 or payload.startswith(b'{"error"'):  # the HTTP layer's own 413 mimics API Gateway's
        error = json.loads(payload)["error"]
        assert set(error) <= {"code", "message", "field", "details"} and error["code"] and error["message"]


def fill(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


@hostile
@given(operation=st.sampled_from(BODY_OPERATIONS), depth=st.integers(33, 50_000),
       opener=st.sampled_from(["[", '{"a":', '{"metrics":[', "[{}, "]))
def test_deep_nesting_is_a_4xx_on_every_operation_with_a_body(base_url, seeded_objects, operation, depth, opener):
    method, template = operation
    closer = {"[": "]", '{"a":': "}", '{"metrics":[': "]}", "[{}, ": "]"}[opener]
    body = (opener * depth + "1" + closer * depth).encode()
    path = fill(template, {**KNOWN, "run_id": seeded_objects.run_id, "trial_name": TRIAL})
    assert_envelope(*send(base_url, "deep nesting", method, path, body))


PRE_ENCODED = ("%00", "a%2Fb", "%F0%9F%92%A9" * 50)
ids = st.one_of(st.text(alphabet="abcXYZ019-._", min_size=121, max_size=3000),
                st.text(min_size=1, max_size=300).filter(lambda s: s.strip("/") == s and "/" not in s),
                st.sampled_from(["..", ".", "-a", "a" * 1025, *PRE_ENCODED]))


@hostile
@given(operation=st.sampled_from(TEMPLATED_OPERATIONS), value=ids, data=st.data())
def test_long_and_odd_path_ids_are_a_4xx_on_every_route(base_url, seeded_objects, operation, value, data):
    method, template = operation
    names = [part[1:-1] for part in template.split("/") if part.startswith("{")]
    target = data.draw(st.sampled_from(names))
    known = {**KNOWN, "run_id": seeded_objects.run_id, "trial_name": TRIAL}
    encoded = quote(value, safe="%" if value in PRE_ENCODED else "")
    path = fill(template, {name: encoded if name == target else known[name] for name in names})
    status, payload = send(base_url, "long path ids", method, path, b"{}" if method in ("POST", "PATCH", "PUT") else None)
    assert_envelope(status, payload)


def _real_cursor(base_url: str, listing: str) -> str | None:
    status, payload = send(base_url, "cursor pages (valid)", "GET", f"{listing}?limit=1")
    assert status == 200, payload
    body = json.loads(payload)
    return body.get("next_cursor") or body.get("NextToken")


@pytest.fixture
def second_pages(api, seeded_objects):
    """A second page in every cursor listing."""
    for i in range(2):
        api.post("/v1/experiments", {"name": f"{EXPERIMENT}-{i}"})
        api.post(f"/v1/experiments/{EXPERIMENT}/trials", {"name": f"{TRIAL}-{i}"})
        api.post("/v1/runs", {"experiment": EXPERIMENT, "name": f"{RUN_NAME}-{i}", "trials": [TRIAL],
                              "client_token": f"{RUN_NAME}-{i}"})


@hostile
@given(listing=st.sampled_from(CURSOR_LISTINGS), data=st.data())
def test_tampered_cursors_are_a_400_naming_the_cursor(base_url, second_pages, listing, data):
    cursor = _real_cursor(base_url, listing) or _base64.urlsafe_b64encode(b'{"offset": 1}').decode()
    position = data.draw(st.integers(0, len(cursor) - 1))
    tamper = data.draw(st.sampled_from(["flip", "cut", "append", "forge", "random"]))
    if tamper == "flip":
        bad = cursor[:position] + ("A" if cursor[position] != "A" else "B") + cursor[position + 1:]
    elif tamper == "cut":
        bad = cursor[:position]
    elif tamper == "append":
        bad = cursor + data.draw(st.text(alphabet="AZaz09-_.=", min_size=1, max_size=50))
    elif tamper == "forge":
        key = data.draw(st.dictionaries(st.sampled_from(["pk", "sk", "gsi1pk", "gsi1sk", "offset"]),
                                        st.one_of(st.integers(), st.text(max_size=40),
                                                  st.fixed_dictionaries({"S": st.text(max_size=3000)}),
                                                  st.fixed_dictionaries({"N": st.text(max_size=5)})), max_size=4))
        bad = _base64.urlsafe_b64encode(json.dumps(key).encode()).decode()
    else:
        bad = data.draw(st.text(min_size=1, max_size=6000))
    if bad == "" or bad == cursor:
        return
    status, payload = send(base_url, "tampered cursors", "GET", f"{listing}?limit=1&cursor={quote(bad, safe='')}")
    assert status == 400, (status, payload[:300])
    assert json.loads(payload)["error"]["field"] in ("cursor", "limit")


# Distinct metric names per batch stay within what today's metric store can write in one delivery
# (more than ~250 is issue 9's "Expression size" item, owned by the metric-store redesign).
FUZZ_DISTINCT_METRICS_MAX = 100


@settings(hostile, max_examples=max(HOSTILE_EXAMPLES // 6, 5))
@given(points=st.sampled_from([1, 250, 1000, 1001, 5000]), distinct=st.integers(1, FUZZ_DISTINCT_METRICS_MAX),
       params=st.integers(0, 110), tags=st.integers(0, 110), pad=st.sampled_from([0, 0, 0, 2_000, 1_100_000]),
       step=st.sampled_from([None, "index", 2**53, -1, "5", True]))
def test_huge_batches_are_accepted_to_the_documented_limits_and_refused_past_them(
        base_url, seeded_objects, points, distinct, params, tags, pad, step):
    metrics = []
    for i in range(points):
        point = {"name": f"fuzz/m{i % distinct}", "value": i * 0.5, "timestamp": 1_700_000_000_000 + i}
        if step is not None:
            point["step"] = i if step == "index" else step
        metrics.append(point)
    body = {"metrics": metrics, "params": {f"p{i}": i for i in range(params)}, "tags": {f"t{i}": "x" for i in range(tags)}}
    raw = json.dumps(body).encode() + b" " * pad
    status, payload = send(base_url, "huge batches", "POST", f"/v1/runs/{seeded_objects.run_id}/log-batch", raw)
    within = (points <= 1000 and params <= 100 and tags <= 100 and len(raw) <= 1024 * 1024
              and step in (None, "index"))
    if within:
        # params are write-once (another value is a 409) and a run holds at most 50 tags (a 400 naming them)
        assert status in (200, 409) or (status, json.loads(payload)["error"]["field"]) == (400, "tags"), payload[:300]
    else:
        assert_envelope(status, payload)


def test_the_stack_answers_health_after_the_hostile_classes(base_url):
    status, payload = send(base_url, "health", "GET", "/v1/health")
    assert status == 200 and json.loads(payload)
    print("\nhostile requests tried per class:", dict(tried), "5xx seen:", dict(server_errors) or 0)
    assert not server_errors
