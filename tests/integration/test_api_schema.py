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

import json
import threading
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
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
