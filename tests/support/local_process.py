"""`skytune local` as a user runs it: a subprocess on a free port, ready when /v1/health answers,
with its token read from the data directory it wrote it to."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
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
