"""The container's cache of decoded series: keyed by the summary's point count, bounded, LRU."""
from __future__ import annotations

import numpy as np

from skytune.metrics.series_cache import SeriesCache


def arrays(n: int, start: int = 0):
    steps = np.arange(start, start + n, dtype=np.int64)
    return steps, steps * 10, steps.astype(np.float64) / 7


def test_an_entry_is_found_only_under_its_point_count():
    cache = SeriesCache()
    assert cache.put("r", "loss", 5, arrays(5))
    assert cache.get("r", "loss", 5)[0].tolist() == [0, 1, 2, 3, 4]
    assert cache.get("r", "loss", 6) is None  # the series grew: another key
    assert cache.get("r", "acc", 5) is None and cache.get("other", "loss", 5) is None
    assert (cache.hits, cache.misses) == (1, 3)


def test_segments_that_disagree_with_the_summary_are_not_kept():
    cache = SeriesCache()
    assert not cache.put("r", "loss", 6, arrays(5))  # read between a write's summary and its segments
    assert cache.get("r", "loss", 6) is None


def test_least_recently_used_series_go_first_past_the_bound():
    cache = SeriesCache(max_points=250)
    cache.put("a", "m", 100, arrays(100))
    cache.put("b", "m", 100, arrays(100))
    assert cache.get("a", "m", 100) is not None  # a is now the most recent
    cache.put("c", "m", 100, arrays(100))        # 300 > 250: b goes
    assert cache.get("b", "m", 100) is None
    assert cache.get("a", "m", 100) is not None and cache.get("c", "m", 100) is not None
    assert not cache.put("huge", "m", 251, arrays(251))  # larger than the whole bound: never kept
