"""Downsampling that keeps extremes visible: split the step range into buckets and keep, per bucket,
the first, the minimum, the maximum and the last point (M4 aggregation, as used by time-series
dashboards). A spike or a dip never disappears from a plot, however few points are asked for.

`m4_indices` works on a numpy array of values (the series read path decodes segments into arrays);
`downsample` is the same selection on a list of points."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    import numpy as np

Point = tuple[int, int, float]  # (step, timestamp_ms, value), sorted by (step, timestamp)


def m4_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices (ascending) of the points to keep out of `values` (ordered by step, no NaN)."""
    import numpy as np

    if max_points <= 0:
        raise ValueError("max_points must be positive")
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    if max_points < 4:
        # Too few to keep first/min/max/last of anything: keep the global extremes.
        return np.unique([int(values.argmin()), int(values.argmax())])[:max_points]
    buckets = max_points // 4
    size = n / buckets
    # bucket b spans [int(b * size), int((b + 1) * size)); every bucket is non-empty since size >= 4
    edges = (np.arange(buckets + 1) * size).astype(np.int64)
    starts, ends = edges[:-1], edges[1:]
    # first minimum / maximum of each bucket: reduceat gives the extreme, the first index holding it
    # is found by masking the points that equal their bucket's extreme
    bucket_of = np.repeat(np.arange(buckets), ends - starts)
    lows = np.minimum.reduceat(values, starts)
    highs = np.maximum.reduceat(values, starts)
    positions = np.arange(n)
    first_low = np.full(buckets, n)
    np.minimum.at(first_low, bucket_of[values == lows[bucket_of]], positions[values == lows[bucket_of]])
    first_high = np.full(buckets, n)
    np.minimum.at(first_high, bucket_of[values == highs[bucket_of]], positions[values == highs[bucket_of]])
    return np.unique(np.concatenate([starts, first_low, first_high, ends - 1]))


def downsample(points: Sequence[Point], max_points: int) -> list[Point]:
    import numpy as np

    if max_points <= 0:
        raise ValueError("max_points must be positive")
    if len(points) <= max_points:
        return list(points)
    values = np.fromiter((p[2] for p in points), dtype=np.float64, count=len(points))
    return [points[i] for i in m4_indices(values, max_points).tolist()]
