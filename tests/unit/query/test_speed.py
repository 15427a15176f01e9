"""A parsed filter is compiled once and then cheap per run (the search scans every candidate).

Measured in CPU time so a busy machine does not make it flaky; the bound is ~20x what it
takes today, so only a real regression (re-parsing or tree walking per run) trips it.
"""

from __future__ import annotations

import random
import time

from skytune.tracking.query import RUN_STATUSES, RunView, page, parse_filter, parse_order_by


def test_filter_and_first_page_over_20k_runs_is_fast():
    rng = random.Random(11)
    runs = [
        RunView(
            f"run-{i:05d}",
            {"name": f"n{i}", "status": rng.choice(RUN_STATUSES), "trial": ["t1"]},
            {"lr": rng.choice([0.1, 0.01, 0.001]), "depth": rng.randint(1, 50)},
            {"team": rng.choice(["vision", "nlp"])},
            {"acc": {"max": rng.random(), "min": rng.random()}},
        )
        for i in range(20_000)
    ]
    expr = parse_filter(
        "params.lr < 0.05 AND (metrics.acc.max > 0.5 OR tags.team = 'vision') AND status != 'Failed' OR name LIKE 'n1%'"
    )
    order = parse_order_by("metrics.acc.max DESC, params.lr")
    started = time.process_time()
    matched = [run for run in runs if expr.evaluate(run)]
    first = page(matched, order, None, 100)
    elapsed = time.process_time() - started
    expected = sum(
        1
        for r in runs
        if (r.params["lr"] < 0.05 and (r.metrics["acc"]["max"] > 0.5 or r.tags["team"] == "vision") and r.attributes["status"] != "Failed")
        or r.attributes["name"].startswith("n1")
    )
    assert len(matched) == expected
    assert len(first.items) == 100
    assert elapsed < 2.0, f"{elapsed:.2f} s of CPU for 20,000 runs"
