"""`skytune doctor` against `skytune local` as a user runs both: two subprocesses, real HTTP."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.local_process import LocalProcess  # noqa: E402


@pytest.fixture(scope="module")
def local(cloud_assembly, tmp_path_factory):
    process = LocalProcess(cloud_assembly, tmp_path_factory.mktemp("doctor-data"))
    process.wait_ready()
    yield process
    process.stop(signal.SIGTERM)


def doctor(local, *args: str) -> tuple[int, str, list[dict]]:
    env = {**os.environ, "SKYTUNE_TOKEN": local.token}
    done = subprocess.run([sys.executable, "-m", "skytune.cli", "doctor", "--url", local.url, "--timeout", "240",
                           "--json", *args], capture_output=True, text=True, timeout=900, env=env)
    table, _, as_json = done.stdout.partition("\n[")
    return done.returncode, table, json.loads("[" + as_json)


def test_every_check_passes_on_a_healthy_local_stack(local):
    code, table, outcomes = doctor(local)
    by_name = {o["name"]: o for o in outcomes}
    assert [o["name"] for o in outcomes] == ["health", "unsigned request refused", "create, log, search, read",
                                             "log line through the subscription", "one-trial tuning job",
                                             "dashboard reachable", "delete the scratch run"], table
    assert {name: o["status"] for name, o in by_name.items()} == {name: "pass" for name in by_name}, table
    assert code == 0
    assert "tables active" in by_name["health"]["reason"]
    assert "10 points logged" in by_name["create, log, search, read"]["reason"]
    assert "completed" in by_name["one-trial tuning job"]["reason"]
    assert "deleted" in by_name["delete the scratch run"]["reason"]
    assert "check" in table.splitlines()[0] and "result" in table.splitlines()[0]


def test_an_unreachable_stack_fails_every_check_with_a_hint():
    done = subprocess.run([sys.executable, "-m", "skytune.cli", "doctor", "--url", "http://127.0.0.1:9",
                           "--auth", "none", "--timeout", "5", "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    outcomes = json.loads("[" + done.stdout.partition("\n[")[2])
    health = outcomes[0]
    assert health["status"] == "FAIL" and "cannot reach the API" in health["reason"]
    assert "skytune local" in health["hint"]
