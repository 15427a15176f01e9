"""The local server's hook for the dashboard's static files."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from skytune.dashboard import STATIC_DIR
from skytune.local.static_files import static_response

ROOT = Path(__file__).resolve().parents[3]


def test_index_for_root_and_for_client_side_routes():
    for path in ("/", "/?token=abc", "/experiments/mnist", "/tuning-jobs/job-1?hp=lr", "/runs/01J"):
        status, headers, body = static_response(path)
        assert status == 200, path
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert b'<main id="app">' in body


@pytest.mark.parametrize("path, content_type", [
    ("/js/app.js", "text/javascript; charset=utf-8"),
    ("/style.css", "text/css; charset=utf-8"),
    ("/config.json", "application/json"),
    ("/vendor/echarts.min.js", "text/javascript; charset=utf-8"),
])
def test_files_with_their_content_types(path, content_type):
    status, headers, body = static_response(path)
    assert status == 200 and headers["content-type"] == content_type
    assert body == (STATIC_DIR / path.lstrip("/")).read_bytes()
    assert headers["x-content-type-options"] == "nosniff"


def test_api_paths_are_left_to_the_api():
    assert static_response("/v1/health") is None
    assert static_response("/v1") is None
    assert static_response("/_local/cloudwatch-logs") is None


@pytest.mark.parametrize("path", ["/../pyproject.toml", "/js/../../__init__.py", "/%2e%2e/__init__.py",
                                  "/js/%2e%2e%2f%2e%2e%2f__init__.py", "/..%5c__init__.py", "/missing.js", "/js/nope.css"])
def test_no_path_leaves_the_folder_and_missing_assets_are_404(path):
    status, _headers, body = static_response(path)
    assert status == 404 and b"__future__" not in body


def test_a_symlink_out_of_the_folder_is_not_followed(tmp_path):
    root = tmp_path / "static"
    root.mkdir()
    (root / "index.html").write_text("<main id=\"app\"></main>")
    (tmp_path / "secret.txt").write_text("secret")
    (root / "leak.txt").symlink_to(tmp_path / "secret.txt")
    status, _headers, body = static_response("/leak.txt", root=root)
    assert status == 404 and b"secret" not in body


def test_the_vendored_echarts_is_the_locked_version():
    lock = json.loads((ROOT / "package-lock.json").read_text())
    version = lock["packages"]["node_modules/echarts"]["version"]
    vendored = (STATIC_DIR / "vendor" / "echarts.min.js").read_text()
    assert f'version="{version}"' in vendored
    installed = ROOT / "node_modules" / "echarts" / "dist" / "echarts.min.js"
    if installed.exists():
        assert hashlib.sha256(installed.read_bytes()).digest() == hashlib.sha256(vendored.encode()).digest()
