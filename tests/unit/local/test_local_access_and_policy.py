"""Local mode's front door and the local runner's command policy, without a server."""
from __future__ import annotations

import os
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skytune.errors import InvalidInput
from skytune.local.http_api import LocalAccess
from skytune.local.policy import CommandPolicy
from skytune.local.runners import TrialProcess

TOKEN = "s" * 43


def check(access, method="GET", path="/v1/runs", query="", headers=None, cookies=None, has_body=False):
    base = {"host": f"127.0.0.1:{access.port}", "x-skytune-token": TOKEN}
    return access.check(method, path, query, {**base, **(headers or {})}, cookies or {}, has_body)


def test_the_checks_run_in_order_host_origin_token_media_type():
    access = LocalAccess(port=8080, token=TOKEN)
    assert check(access) is None
    assert check(access, headers={"host": "evil:8080", "x-skytune-token": "bad"})[0] == 403
    assert check(access, headers={"origin": "http://evil", "x-skytune-token": "bad"})[0] == 403
    assert check(access, method="POST", headers={"x-skytune-token": "bad"}, has_body=True)[0] == 401
    assert check(access, method="POST", headers={"content-type": "text/plain"}, has_body=True)[0] == 415
    assert check(access, method="POST", headers={"content-type": "application/json; charset=utf-8"}, has_body=True) is None
    assert check(access, method="POST", path="/_artifacts/run/x.bin", headers={"content-type": "application/octet-stream"},
                 has_body=True) is None  # the artifact upload hook
    assert check(access, method="POST") is None  # no body, no media type to check


@given(st.text(max_size=60))
def test_no_host_header_but_the_servers_own_passes(host):
    access = LocalAccess(port=8080, token=None)
    allowed = {"127.0.0.1", "127.0.0.1:8080", "localhost", "localhost:8080", "[::1]", "[::1]:8080"}
    passed = check(access, headers={"host": host}) is None
    assert passed == (host.lower() in allowed)


def test_bound_host_and_extra_hosts_are_served():
    access = LocalAccess(port=9000, token=None, host="10.1.2.3", extra_hosts=frozenset({"box.lan"}))
    for host in ("10.1.2.3:9000", "box.lan:9000", "localhost:9000"):
        assert check(access, headers={"host": host}) is None
    assert check(access, headers={"host": "box.lan:9001"})[0] == 403


def test_wildcard_bind_does_not_accept_any_host():
    access = LocalAccess(port=9000, token=None, host="0.0.0.0")
    assert check(access, headers={"host": "0.0.0.0:9000"})[0] == 403
    assert check(access, headers={"host": "evil.example:9000"})[0] == 403


def test_a_url_token_becomes_a_cookie_and_leaves_the_url():
    access = LocalAccess(port=8080, token=TOKEN)
    status, headers, _ = check(access, path="/runs", query=f"a=1&token={TOKEN}&b=2", headers={"x-skytune-token": ""})
    assert status == 303 and headers["location"] == "/runs?a=1&b=2"
    assert "SameSite=Strict" in headers["set-cookie"] and "HttpOnly" in headers["set-cookie"]
    assert check(access, headers={"x-skytune-token": ""}, cookies={"skytune_token": TOKEN}) is None
    assert check(access, headers={"x-skytune-token": "", "authorization": f"Bearer {TOKEN}"}) is None


def test_commands_must_be_under_the_project_or_allowed(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "train").write_text("#!/bin/sh\n")
    (tmp_path / "linked-bin").symlink_to("/bin")
    (tmp_path / "bin" / "python").symlink_to(sys.executable)  # a virtualenv's interpreter: the user's own link
    policy = CommandPolicy.of(tmp_path, ("python", "/usr/bin/env"))
    assert policy.executable(["bin/train"], None) == str(tmp_path / "bin" / "train")
    assert policy.executable(["bin/python"], None) == str(tmp_path / "bin" / "python")
    assert policy.executable(["python", "x.py"], None) == sys.executable
    assert policy.executable(["/usr/bin/env"], None) == "/usr/bin/env"
    for command in (["linked-bin/sh"], ["./linked-bin/sh"], ["/bin/sh"], ["sh"], ["bin/../../x"], ["bin/.."], [""], []):
        with pytest.raises(InvalidInput) as refused:
            policy.executable(command, None)
        assert refused.value.field in ("trial.command", "trial.command[0]")


def test_pythonpath_inside_the_project_is_allowed(tmp_path):
    policy = CommandPolicy.of(tmp_path)
    policy.check_environment({"PYTHONPATH": os.pathsep.join(["src", str(tmp_path / "lib")]), "SEED": "1"}, None)
    with pytest.raises(InvalidInput) as refused:
        policy.check_environment({"ld_preload": "x"}, None)
    assert refused.value.field == "trial.environment.ld_preload"


def test_the_runner_refuses_and_reports_a_disallowed_trial(tmp_path):
    calls = []
    trial = {"job_name": "j", "trial_name": "j-001", "hyperparameters": {"x": 1}, "runner": "local",
             "command": ["/bin/sh", "-c", "touch pwned"], "environment": {}}
    process = TrialProcess(trial, lambda method, path, body: calls.append((method, path, body)) or (200, {}),
                           tmp_path, policy=CommandPolicy.of(tmp_path))
    assert process.run() == "Failed"
    assert not (tmp_path / "pwned").exists()
    assert calls[-1][1].endswith("/complete") and "refused by the local runner" in calls[-1][2]["failure_reason"]


def test_the_pid_file_appears_whole_or_not_at_all(tmp_path, monkeypatch):
    # A restart's recovery (and CI once) read the pid file between its creation and its write, and got ''.
    from skytune.local import runners

    seen = []
    real_replace = os.replace

    def replace(source, target):
        seen.append((os.path.exists(target), open(source).read()))
        real_replace(source, target)

    monkeypatch.setattr(runners.os, "replace", replace)
    runners.write_pid_file(tmp_path, 4242)
    assert seen == [(False, "4242")]  # the name appears only by the rename, with the whole pid in it
    assert (tmp_path / runners.PID_FILE).read_text() == "4242"
    assert [p.name for p in tmp_path.iterdir()] == [runners.PID_FILE]  # no scratch file left
