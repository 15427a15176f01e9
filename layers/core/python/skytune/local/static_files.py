"""The dashboard's static files for the local server: the hook its GET handler calls for any path
that is not an API route.

`static_response(path)` answers a file of `skytune/dashboard/static/`, `index.html` for `/` and for
the single-page app's own routes (`/experiments/x`, `/tuning-jobs/y`: the browser's router renders
them), and None where the server should answer as before (`/v1/...`, `/_local/...`). A path never
leaves the static folder (no `..`, no symlink out, no absolute or encoded escape).
"""
from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote, urlsplit

from skytune.dashboard import STATIC_DIR

_API_PREFIXES = ("/v1/", "/_local/")
_TYPES = {  # explicit: the platform's mimetypes table varies (e.g. .js as text/plain on some systems)
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
}


def _content_type(path: Path) -> str:
    return _TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _response(file: Path, cache: str) -> tuple[int, dict[str, str], bytes]:
    return 200, {"content-type": _content_type(file), "cache-control": cache,
                 "x-content-type-options": "nosniff"}, file.read_bytes()


def static_response(path: str, root: Path = STATIC_DIR) -> tuple[int, dict[str, str], bytes] | None:
    """(status, headers, body) for a GET of `path` (query string allowed), or None for API paths."""
    raw = urlsplit(path).path or "/"
    if raw == "/v1" or raw.startswith(_API_PREFIXES):
        return None
    decoded = unquote(raw)
    parts = [p for p in decoded.split("/") if p not in ("", ".")]
    index = root / "index.html"
    if not index.is_file():
        return 404, {"content-type": "text/plain; charset=utf-8"}, b"the dashboard's files are missing from this install\n"
    if ".." in parts or any("\\" in p or "\x00" in p for p in parts):
        return 404, {"content-type": "text/plain; charset=utf-8"}, b"Not Found\n"
    candidate = root.joinpath(*parts) if parts else index
    try:
        resolved = candidate.resolve()
        inside = resolved.is_relative_to(root.resolve())
    except (OSError, ValueError):
        inside = False
    if inside and resolved.is_file():
        # index.html is re-read on every load (it names the modules); the rest may be cached briefly
        return _response(resolved, "no-cache" if resolved == index.resolve() else "max-age=60")
    last = parts[-1] if parts else ""
    if "." in last:  # a missing asset (a file name with an extension) is a real 404, not the app
        return 404, {"content-type": "text/plain; charset=utf-8"}, b"Not Found\n"
    return _response(index, "no-cache")  # a client-side route: the app renders it
