"""`skytune local` as a user runs it: a subprocess, real HTTP, signals, restarts, bad input."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.local_process import SKYTUNE, LocalProcess


def test_serves_the_api_stops_on_signals_and_keeps_data_across_restarts(cloud_assembly, tmp_path):
    data_dir = tmp_path / "data"
    first = LocalProcess(cloud_assembly, data_dir)
    first.wait_ready()
    health = first.session.get(f"{first.url}/v1/health").json()
    assert health["status"] == "ok" and health["version"] == "0.1.0"
    created = first.session.post(f"{first.url}/v1/experiments", json={"name": "kept", "tags": {"k": "v"}})
    assert created.status_code == 201
    code, stdout = first.stop(signal.SIGTERM)
    assert code == 0 and "stopped" in stdout
    assert list(data_dir.glob("*.db")), "DynamoDB Local wrote its database to the data dir"

    second = LocalProcess(cloud_assembly, data_dir)
    second.wait_ready()
    try:
        assert second.token == first.token  # the token is kept with the data
        kept = second.session.get(f"{second.url}/v1/experiments/kept")
        assert kept.status_code == 200 and kept.json()["tags"] == {"k": "v"}
        assert second.session.get(f"{second.url}/v1/nowhere").status_code == 404
        assert second.session.put(f"{second.url}/v1/health").status_code == 405
    finally:
        code, _ = second.stop(signal.SIGINT)  # Ctrl-C
    assert code == 0
    # DynamoDB Local went down with it: nothing of ours is left listening
    assert subprocess.run(["pgrep", "-f", "--", f"-dbPath {data_dir}"], capture_output=True).returncode == 1


def _one_line_error(cloud_assembly, tmp_path, *, port=None, env=None, data_dir=None) -> tuple[int, str]:
    process = LocalProcess(cloud_assembly, data_dir or tmp_path / "data", port=port, env=env)
    _, stderr = process.process.communicate(timeout=60)
    return process.process.returncode, stderr.strip()


def test_busy_port_is_a_one_line_error(cloud_assembly, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code, stderr = _one_line_error(cloud_assembly, tmp_path, port=busy.getsockname()[1])
    assert code == 1
    assert stderr.count("\n") == 0
    assert "already in use" in stderr and "another port" in stderr


def test_missing_java_is_a_one_line_error(cloud_assembly, tmp_path):
    bare_bin = tmp_path / "bin"
    bare_bin.mkdir()
    env = {**os.environ, "PATH": str(bare_bin)}
    code, stderr = _one_line_error(cloud_assembly, tmp_path, env=env)
    assert code == 1
    assert stderr.count("\n") == 0
    assert "java not found" in stderr


def test_corrupt_data_dir_is_a_one_line_error(cloud_assembly, tmp_path):
    data_dir = tmp_path / "corrupt"
    data_dir.mkdir()
    (data_dir / "local_us-east-1.db").write_bytes(b"this is not sqlite" * 10)
    code, stderr = _one_line_error(cloud_assembly, tmp_path, data_dir=data_dir)
    assert code == 1
    assert stderr.count("\n") == 0
    assert "corrupt" in stderr and "--data-dir" in stderr


# ---------------------------------------------------------------------------------------------
# Local mode closed to other origins (issue 10 §2) and crash recovery (issue 9 §3)
# ---------------------------------------------------------------------------------------------
HANGING_TRIAL = """
import os, sys, time
x = int(sys.argv[sys.argv.index("--x") + 1])
print(f"acc={x / 10}", flush=True)
while os.path.exists(os.path.join(os.path.dirname(os.path.abspath(__file__)), "hang")):
    time.sleep(0.2)
"""


def _pids_serving(data_dir: Path) -> list[int]:
    found = subprocess.run(["pgrep", "-f", "--", f"-dbPath {data_dir}"], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def _job(local: LocalProcess, name: str) -> dict:
    return local.session.get(f"{local.url}/v1/tuning-jobs/{name}").json()


def _wait_job(local: LocalProcess, name: str, done, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = _job(local, name)
        if done(job):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.3)


def test_token_file_url_and_closed_front_door(cloud_assembly, tmp_path):
    data_dir = tmp_path / "data"
    local = LocalProcess(cloud_assembly, data_dir)
    local.wait_ready()
    try:
        token_file = data_dir / "token"
        assert oct(token_file.stat().st_mode & 0o777) == "0o600"
        assert requests.get(f"{local.url}/v1/experiments").status_code == 401
        assert local.session.get(f"{local.url}/v1/experiments", headers={"Host": "evil.example"}).status_code == 403
        assert local.session.get(f"{local.url}/v1/experiments", headers={"Origin": "http://evil.example"}).status_code == 403
        assert local.session.post(f"{local.url}/v1/experiments", data=b'{"name": "plain"}',
                                  headers={"Content-Type": "text/plain"}).status_code == 415
        # what a web page's "simple request" would have done: create a job that runs a command
        simple = requests.post(f"{local.url}/v1/tuning-jobs", data=b'{"name": "pwn"}',
                               headers={"Content-Type": "text/plain", "Origin": "http://evil.example"})
        assert simple.status_code == 403
    finally:
        code, stdout = local.stop()
    assert code == 0
    assert f"{local.url}/?token={token_file.read_text().strip()}" in stdout


def test_no_token_says_so_loudly(cloud_assembly, tmp_path):
    local = LocalProcess(cloud_assembly, tmp_path / "data", no_token=True)
    local.wait_ready()
    try:
        assert requests.get(f"{local.url}/v1/experiments").status_code == 200
    finally:
        local.stop()
    assert "WARNING: --no-token" in local.stderr


def test_kill_9_then_restart_recovers_tuning_jobs_and_refuses_a_second_owner(cloud_assembly, tmp_path):
    """kill -9 leaves DynamoDB Local and the trial processes running and the jobs InProgress or
    Stopping with no state machine; a restart stops the leftovers, ends the orphaned trials with
    the reason, resumes the running job and ends the stopping one; a second `skytune local` on the
    same data dir is refused naming the first."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "trial.py").write_text(HANGING_TRIAL)
    (project / "hang").touch()
    data_dir = tmp_path / "data"
    args = ("--allow-command", "python")
    first = LocalProcess(cloud_assembly, data_dir, extra_args=args, cwd=project)
    first.wait_ready()
    trial = {"runner": "local", "command": ["python", "trial.py"], "working_dir": str(project),
             "heartbeat_seconds": 60, "max_runtime_in_seconds": 600,
             "metric_definitions": [{"Name": "acc", "Regex": "acc=(?P<value>[0-9.]+)"}]}
    body = {"strategy": "Grid", "objective": {"metric_name": "acc", "type": "Maximize"},
            "parameter_ranges": {"IntegerParameterRanges": [{"Name": "x", "MinValue": "1", "MaxValue": "3"}]},
            "resource_limits": {"max_parallel_training_jobs": 2}, "trial": trial}
    for name in ("crash-running", "crash-stopping"):
        created = first.session.post(f"{first.url}/v1/tuning-jobs", json={"name": name, **body})
        assert created.status_code == 201, created.text
    for name in ("crash-running", "crash-stopping"):
        _wait_job(first, name, lambda job: job["TrainingJobStatusCounters"]["InProgress"] == 2)
    deadline = time.monotonic() + 60
    while len(pid_files := list((data_dir / "trials").glob("crash-*/*/process.pid"))) < 4:
        assert time.monotonic() < deadline, pid_files  # every trial process has started
        time.sleep(0.2)
    trial_pids = [int(p.read_text()) for p in pid_files if p.parent.parent.name == "crash-running"]
    stopping = first.session.post(f"{first.url}/v1/tuning-jobs/crash-stopping/stop").json()
    assert stopping["HyperParameterTuningJobStatus"] == "Stopping"

    first.process.kill()  # kill -9
    first.process.wait()
    stale = _pids_serving(data_dir)
    assert stale, "DynamoDB Local outlived its parent"
    (project / "hang").unlink()  # from now on trials finish at once

    second = LocalProcess(cloud_assembly, data_dir, extra_args=args, cwd=project)
    second.wait_ready(timeout=120)
    try:
        third = LocalProcess(cloud_assembly, data_dir, extra_args=args, cwd=project)
        _, stderr = third.process.communicate(timeout=120)
        assert third.process.returncode == 1
        assert stderr.strip().count("\n") == 0
        assert f"in use by another skytune local (pid {second.process.pid})" in stderr

        running = _wait_job(second, "crash-running", lambda job: job["HyperParameterTuningJobStatus"] != "InProgress")
        assert running["HyperParameterTuningJobStatus"] == "Completed", running
        assert running["TrainingJobStatusCounters"]["NonRetryableError"] == 2  # the two orphaned trials
        assert running["TrainingJobStatusCounters"]["Completed"] == 1  # the resumed job ran the third point
        trials = second.session.get(f"{second.url}/v1/tuning-jobs/crash-running/trials").json()["TrainingJobSummaries"]
        failed = [t for t in trials if t["TrainingJobStatus"] == "Failed"]
        assert all("skytune local stopped while the trial ran" in t["FailureReason"] for t in failed), failed

        stopped = _wait_job(second, "crash-stopping", lambda job: job["HyperParameterTuningJobStatus"] != "Stopping")
        assert stopped["HyperParameterTuningJobStatus"] == "Stopped"
        assert stopped["TrainingJobStatusCounters"]["InProgress"] == 0
        # stop works again on a recovered job (no-op on an ended one, and never stuck in Stopping)
        assert second.session.post(f"{second.url}/v1/tuning-jobs/crash-stopping/stop").json()[
            "HyperParameterTuningJobStatus"] == "Stopped"
        for pid in trial_pids:  # the orphaned trial processes were stopped
            assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]
    finally:
        code, stdout = second.stop()
    assert code == 0
    assert any(f"stale DynamoDB Local (pid {pid})" in stdout for pid in stale), stdout
    assert "'crash-running' was running" in stdout
    assert _pids_serving(data_dir) == []
