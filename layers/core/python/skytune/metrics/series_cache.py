"""Decoded series kept by a warm container (a Lambda execution environment, or `skytune local`'s
process), so a chart's second look at the same series (a zoom, a redraw, another user) reads no
segments: its points are already arrays here.

A series is stored under (run, metric, point count). The store only ever adds points to a series
(a retried point is recognised and skipped; points are never rewritten), and each stored point adds
one to the metric summary's `count`, written in the same transaction: so one count names one exact set
of points, and a series that has grown is a different key. An entry goes in only when the segments read
held exactly `count` points (a summary and segments read at different moments of a write do not
agree, and are not kept). Bounded by points held; least recently used out first."""
from __future__ import annotations

import threading
from collections import OrderedDict

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

Arrays = tuple["np.ndarray", "np.ndarray", "np.ndarray"]  # steps, timestamps_ms, values, ordered by step

MAX_POINTS_HELD = 4_000_000  # ~96 MB of arrays (24 bytes a point), within a 512 MB API function


class SeriesCache:
    def __init__(self, max_points: int = MAX_POINTS_HELD) -> None:
        self.max_points = max_points
        self._entries: OrderedDict[tuple[str, str, int], Arrays] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, run_id: str, metric: str, count: int) -> Arrays | None:
        with self._lock:
            found = self._entries.get((run_id, metric, count))
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end((run_id, metric, count))
            self.hits += 1
            return found

    def put(self, run_id: str, metric: str, count: int, arrays: Arrays) -> bool:
        """Keep `arrays` if they hold exactly `count` points (and fit at all)."""
        size = len(arrays[0])
        if size != count or size > self.max_points:
            return False
        with self._lock:
            key = (run_id, metric, count)
            if key in self._entries:
                return True
            self._entries[key] = arrays
            self._held += size
            while self._held > self.max_points:
                _, evicted = self._entries.popitem(last=False)
                self._held -= len(evicted[0])
            return True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._held = 0


SERIES_CACHE = SeriesCache()
