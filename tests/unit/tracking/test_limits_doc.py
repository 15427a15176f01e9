"""docs/limits.md lists the limits the code enforces (regenerate: python -m skytune.tracking.limits)."""
from __future__ import annotations

from pathlib import Path

from skytune.tracking.limits import BATCH_METRICS_MAX, limits_markdown

ROOT = Path(__file__).resolve().parents[3]


def test_limits_page_is_current():
    page = (ROOT / "docs" / "limits.md").read_text()
    assert page == limits_markdown(), "docs/limits.md is stale: python -m skytune.tracking.limits > docs/limits.md"
    assert f"| `BATCH_METRICS_MAX` | `{BATCH_METRICS_MAX}` |" in page
