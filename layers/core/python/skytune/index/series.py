"""Series columns of the experiment index: every point (step, value) of a run's short metric series, so
`metrics.x.at(k)` and `metrics.x.window(a, b).<stat>` are evaluated from the index instead of two
metric-store Queries per run (round 3: 61 s for the first page over 10,000 runs).

Exact by construction: a run's series is stored whole, in the order the metric store returns it
(by step, then timestamp, then value), with the values as JSON floats (`repr`: they round-trip
bit for bit; the store refuses NaN and infinities). Timestamps are dropped: `at` and `window` read
only (step, value) pairs in that order. The evaluator (`tracking.query.fields`) then runs unchanged on
the same pairs it would have read from the store.

Bounded: a metric is indexed for a run when it has at most `MAX_POINTS` points, and a run's series
are read at all (by the stream consumer and the rebuild) only when all its metrics together hold at
most `MAX_RUN_POINTS` points, so a fold never reads a long training curve. Any run-metric not in the
index (longer series, or an index built before series columns) is read from the metric store
as before, for that run alone: answers never depend on what the index holds.

Layout: per bucket and metric, the runs' series in parts `sv:<metric>#<p>`, a run in part
`crc32("s:" + run_id) % P`, P the smallest power of two (<= MAX_PARTS) that keeps every part below
`PART_BYTES` compressed: one 4 KB read unit each, and a fold that adds a point to one run rewrites
one part (~4 WCU), not the bucket's whole series column. Each part is zlib-compressed JSON
`{"i": [run_id, ...], "s": [[step deltas], ...], "v": [[values], ...]}`.
"""
from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate
from typing import Any

PREFIX = "sv:"
MAX_POINTS = 256  # a metric's points for it to be indexed
MAX_RUN_POINTS = 4096  # a run's points (all metrics) for its series to be read at all
PART_BYTES = 3800  # compressed, below one 4 KB read unit with the item's other attributes
MAX_PARTS = 1024  # a bucket of ~300 runs x 256 points needs ~200 parts


def is_series_group(group: str) -> bool:
    return group.startswith(PREFIX)


def metric_of(group: str) -> str:
    """"sv:<metric>#<p>" -> metric (a metric name may hold '#': the part is after the last one)."""
    return group[len(PREFIX):].rpartition("#")[0]


def group_prefix(metric: str) -> str:
    return f"{PREFIX}{metric}#"


def wanted(run_points: Mapping[str, int]) -> list[str] | None:
    """Which of a run's metrics (metric -> point count, from its summaries) to index; None: read none
    (the run holds too many points for a fold to read them)."""
    if sum(run_points.values()) > MAX_RUN_POINTS:
        return None
    return sorted(metric for metric, count in run_points.items() if 0 < count <= MAX_POINTS)


def _part_of(run_id: str, parts: int) -> int:
    return zlib.crc32(f"s:{run_id}".encode()) % parts


def _compress(document: Any) -> bytes:
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
    return zlib.compress(text.encode(), 6)


def encode(rows: Sequence[Mapping[str, Any]]) -> dict[str, bytes]:
    """Rows sorted by id (each with an optional "s": metric -> [steps, values]) -> series groups."""
    by_metric: dict[str, list[tuple[str, list[int], list[float]]]] = {}
    for row in rows:
        for metric, (steps, values) in (row.get("s") or {}).items():
            by_metric.setdefault(metric, []).append((row["id"], steps, values))
    out: dict[str, bytes] = {}
    for metric, entries in sorted(by_metric.items()):
        # The part count from one compression of them all (hashing spreads runs unevenly: 1.5x
        # headroom), then doubled while a part is still too big: one or two passes, not log2(P).
        whole = len(_compress([[steps, values] for _r, steps, values in entries]))
        parts = 1
        while parts < MAX_PARTS and whole * 1.5 > parts * PART_BYTES:
            parts *= 2
        while True:
            split: dict[int, list] = {}
            for entry in entries:
                split.setdefault(_part_of(entry[0], parts), []).append(entry)
            blobs = {f"{PREFIX}{metric}#{part}": _compress({
                "i": [run_id for run_id, _s, _v in members],
                "s": [[steps[0], *(b - a for a, b in zip(steps, steps[1:]))] if steps else [] for _r, steps, _v in members],
                "v": [list(values) for _r, _s, values in members]}) for part, members in sorted(split.items())}
            if parts >= MAX_PARTS or max(map(len, blobs.values())) <= PART_BYTES:
                break
            parts *= 2
        out.update(blobs)
    return out


def decode_part(document: Any) -> dict[str, tuple[list[int], list[float]]]:
    """A part's document -> run_id -> (steps, values); ValueError when malformed."""
    if not isinstance(document, dict):
        raise ValueError("series part is not an object")
    ids, steps, values = document.get("i"), document.get("s"), document.get("v")
    if not (isinstance(ids, list) and isinstance(steps, list) and isinstance(values, list)
            and len(ids) == len(steps) == len(values)):
        raise ValueError("ragged series part")
    out = {}
    for run_id, deltas, points in zip(ids, steps, values):
        if not isinstance(deltas, list) or not isinstance(points, list) or len(deltas) != len(points):
            raise ValueError(f"ragged series of run {run_id!r}")
        out[run_id] = (list(accumulate(deltas)), points)
    return out


def select(groups: Iterable[str], present: Iterable[str]) -> set[str]:
    """The present groups a query's `groups` name: exact names, and "sv:<metric>#" for every part."""
    groups = set(groups)
    prefixes = tuple(group for group in groups if is_series_group(group) and group.endswith("#"))
    return {group for group in present if group in groups or (prefixes and group.startswith(prefixes))}
