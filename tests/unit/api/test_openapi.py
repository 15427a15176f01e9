"""The committed OpenAPI document is the one the resolver generates (regenerate: make openapi)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_committed_openapi_document_is_current():
    spec = importlib.util.spec_from_file_location("openapi_script", ROOT / "scripts" / "openapi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert module.document() == committed, "docs/openapi.json is stale: run `make openapi` and commit it"
