"""Downsampling that keeps extremes visible: split the step range into buckets and keep, per bucket,
the first, the minimum, the maximum and the last point (M4 aggregation, as used by time-series
dashboards). A spike or a dip never disappears from a plot, however few points are asked for."""
from __future__ import annotations

from typing import Sequence

Point = tuple[int, int, float]  # (step, timestamp_ms, value), sorted by (step, timestamp)


def downsample(points: Sequence[Point], max_points: int) -> list[Point]:
    if max_points <= 0:
        raise ValueError("max_points must be positive")
    if len(points) <= max_points:
        return list(points)
    if max_points < 4:
        # Too few to keep first/min/max/last of anything: keep the global extremes.
        chosen = {min(range(len(points)), key=lambda i: points[i][2]), max(range(len(points)), key=lambda i: points[i][2])}
        return [points[i] for i in sorted(chosen)][:max_points]
    buckets = max_points // 4
    size = len(points) / buckets
    kept: list[int] = []
    for b in range(buckets):
        start, end = int(b * size), int((b + 1) * size)
        if start >= end:
            continue
        indices = range(start, end)
        lowest = min(indices, key=lambda i: points[i][2])
        highest = max(indices, key=lambda i: points[i][2])
        kept.extend(sorted({start, lowest, highest, end - 1}))
    return [points[i] for i in kept]
