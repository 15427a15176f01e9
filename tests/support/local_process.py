"""`skytune local` as a user runs it: a subprocess on a free port, ready when /v1/health answers,
with its token read from the data directory it wrote it to."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
        stdout, self.stderr = self.process.communicate(timeout=30)
        return self.process.returncode, stdout


@contextmanager
def serving_mlflow_clients(cloud_assembly: Path, data_dir: Path, ready_timeout: float = 60) -> Iterator[str]:
    """`skytune local` for MLflow clients: its URL, with the token as a user passes it (MLflow's
    MLFLOW_TRACKING_TOKEN, sent as Authorization: Bearer) and the SDK's data dir in the environment,
    both restored afterwards."""
    process = LocalProcess(cloud_assembly, data_dir)
    process.wait_ready(timeout=ready_timeout)
    saved = {key: os.environ.get(key) for key in ("MLFLOW_TRACKING_TOKEN", "SKYTUNE_DATA_DIR")}
    os.environ["SKYTUNE_DATA_DIR"] = str(data_dir)
    if process.token:
        os.environ["MLFLOW_TRACKING_TOKEN"] = process.token
    try:
        yield process.url
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        process.stop(signal.SIGTERM)
