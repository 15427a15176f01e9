"""Static files (the dashboard) for `skytune local`: GETs outside the API's paths come here.

Minimal version: files of the package folder ``skytune/dashboard/static/``, ``index.html`` for a
folder, None (the API's 404) when the folder or file is missing. Requests reach this only after
local mode's checks (token, Host, Origin), like every other request.
"""
from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote

STATIC_DIR = Path(__file__).resolve().parent.parent / "dashboard" / "static"


def static_response(path: str) -> tuple[int, dict[str, str], bytes] | None:
    root = STATIC_DIR.resolve()
    if not root.is_dir():
        return None
    relative = unquote(path).lstrip("/")
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        return None  # ../ out of the folder
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return None
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type in ("application/javascript", "application/json"):
        content_type += "; charset=utf-8"
    return 200, {"content-type": content_type, "cache-control": "no-cache",
                 "x-content-type-options": "nosniff"}, target.read_bytes()
