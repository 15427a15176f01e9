"""Small builders shared by the query tests."""

from __future__ import annotations

from skytune.tracking.query import RunView


def run(run_id: str = "r1", *, series: dict | None = None, metrics: dict | None = None, tags=None, params=None, **attributes) -> RunView:
    return RunView(
        run_id=run_id,
        attributes=attributes,
        params=params or {},
        tags=tags or {},
        metrics=metrics or {},
        series_source=series,
    )
