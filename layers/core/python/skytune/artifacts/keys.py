"""Artifact paths (relative, `/`-separated, no `..`), the object key of a run's artifact and its URI."""
from __future__ import annotations

from pathlib import PurePosixPath

from skytune import limits
from skytune.errors import InvalidInput
from skytune.tracking import limits as tracking_limits

URI_SCHEME = "mlflow-artifacts:"


def checked_path(path: str, field: str = "path") -> str:
    """`path` as the artifact's name: relative, no empty, `.` or `..` segment, the characters of
    names (letters, digits, `_ - . / :`, inner spaces), at most NAME_MAX_LENGTH characters."""
    if not isinstance(path, str) or not path:
        raise InvalidInput("an artifact path is a non-empty string", field=field)
    if len(path) > limits.NAME_MAX_LENGTH:
        raise InvalidInput(f"an artifact path has at most {limits.NAME_MAX_LENGTH} characters", field=field)
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in path:
        raise InvalidInput(f"artifact path {path[:100]!r} must be relative, without empty, '.' or '..' segments",
                           field=field)
    if not tracking_limits.KEY_PATTERN.match(path) or any(p != p.strip() for p in parts):
        raise InvalidInput(f"artifact path {path[:100]!r} may hold only letters, digits, '_', '-', '.', '/', ':' "
                           "and inner spaces", field=field)
    return str(PurePosixPath(path))


def object_key(experiment: str, run_id: str, path: str) -> str:
    return f"{experiment}/{run_id}/artifacts/{path}"


def uri_of(key: str) -> str:
    return f"{URI_SCHEME}/{key}"
