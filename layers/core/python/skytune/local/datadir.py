"""The data directory of `skytune local`: one owner at a time, no stale DynamoDB Local, the token.

- ``skytune.lock``: an exclusive ``flock`` held for the life of the process (the kernel drops it
  when the process dies, even by kill -9), holding the owner's pid so a second start can name it.
- A DynamoDB Local that outlived its parent (it runs in its own session, so a kill -9 of
  `skytune local` leaves it running on the database files) is found by its command line and
  stopped before a new one opens the same files.
- ``token``: the API token, mode 0600, created once and kept across restarts (delete it to rotate).
"""
from __future__ import annotations

import fcntl
import os
import secrets
import signal
import stat
import time
from pathlib import Path

from skytune.local.errors import LocalRuntimeError

LOCK_FILE = "skytune.lock"
TOKEN_FILE = "token"


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._fd: int | None = None

    def acquire(self) -> "DataDirLock":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LocalRuntimeError(
                f"data dir {self.data_dir} is in use by another skytune local (pid {owner}): "
                "stop it or pass another --data-dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def stale_dynamodb_local(data_dir: Path) -> list[int]:
    """Pids of DynamoDB Local processes serving ``data_dir`` (Linux /proc; elsewhere none found)."""
    target = data_dir.resolve()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            if not any(a.endswith("DynamoDBLocal.jar") for a in args) or "-dbPath" not in args:
                continue
            db_path = Path(args[args.index("-dbPath") + 1])
            if not db_path.is_absolute():
                db_path = Path(os.readlink(entry / "cwd")) / db_path
            if db_path.resolve() == target:
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def stop_stale_dynamodb_local(data_dir: Path, timeout: float = 10.0) -> list[int]:
    """Stop DynamoDB Locals left on ``data_dir`` (call with the data-dir lock held, so none is a
    live skytune local's). Returns their pids; refuses with a one-line error if one will not go."""
    pids = stale_dynamodb_local(data_dir)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        except PermissionError:
            raise LocalRuntimeError(f"a stale DynamoDB Local (pid {pid}) of another user serves data dir {data_dir}: "
                                    "stop it or pass another --data-dir") from None
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        pids_alive = [pid for pid in pids if _alive(pid)]
        if not pids_alive:
            return pids
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
    time.sleep(0.2)
    left = [pid for pid in pids if _alive(pid)]
    if left:
        raise LocalRuntimeError(f"a stale DynamoDB Local (pid {left[0]}) still serves data dir {data_dir}: "
                                f"stop it (kill {left[0]}) and start again")
    return pids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"  # a zombie has exited
    except (OSError, IndexError):
        return False


def ensure_token(data_dir: Path) -> str:
    """The token in ``data_dir/token``: created (random, mode 0600) if missing; refused if others
    can read it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / TOKEN_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise LocalRuntimeError(f"{path} is readable by others (mode {mode:o}): chmod 600 it or delete it") from None
        token = path.read_text().strip()
        if len(token) >= 32:
            return token
        path.unlink()
        return ensure_token(data_dir)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token


def read_token(data_dir: Path) -> str | None:
    try:
        return (data_dir / TOKEN_FILE).read_text().strip() or None
    except OSError:
        return None
