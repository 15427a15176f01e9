"""`skytune local` as a user runs it: a subprocess, real HTTP, signals, restarts, bad input."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from skytune.local.dynamodb_local import free_port

SKYTUNE = [sys.executable, "-m", "skytune.cli"]


class LocalProcess:
    """`skytune local` as a subprocess. With its token on (the default), ``session`` sends the token
    it wrote to the data directory; ``no_token`` starts it with --no-token."""

    def __init__(self, cloud_assembly: Path, data_dir: Path, port: int | None = None, env: dict | None = None,
                 no_token: bool = False, extra_args: tuple[str, ...] = (), cwd: Path | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.session = requests.Session()
        self.token: str | None = None
        self.process = subprocess.Popen(
            [*SKYTUNE, "local", "--port", str(self.port), "--data-dir", str(data_dir), "--cdk-out", str(cloud_assembly),
             "--stage", "test", *(["--no-token"] if no_token else []), *extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"exited early: {self.process.stderr.read()}")
            try:
                answer = requests.get(f"{self.url}/v1/health", timeout=15)
                if answer.status_code == 401:  # up, and wants its token: read it where it keeps it
                    self.token = (self.data_dir / "token").read_text().strip()
                    self.session.headers["X-Skytune-Token"] = self.token
                    answer = self.session.get(f"{self.url}/v1/health", timeout=15)
                if answer.status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise AssertionError("skytune local did not become ready")

    def stop(self, sig=signal.SIGTERM) -> tuple[int, str]:
        self.process.send_signal(sig)
        stdout, _ = self.process.communicate(timeout=30)
        return self.process.returncode, stdout


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
