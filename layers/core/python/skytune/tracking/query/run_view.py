"""The read-only view of one run that the query engine evaluates against.

The storage layer builds one ``RunView`` per candidate run from the items it fetched (only the
ones ``referenced(...)`` asked for). Metric series are the expensive part, so they are read
through a loader that is called at most once per metric and only if the query needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Point = tuple[int, float]  # (step, value)
SeriesLoader = Callable[[str], Sequence[Point]]


class RunLike(Protocol):
    """What the engine reads. ``RunView`` implements it; any object with these members works."""

    run_id: str
    attributes: Mapping[str, Any]
    params: Mapping[str, Any]
    tags: Mapping[str, str]
    metrics: Mapping[str, Mapping[str, Any]]

    def series(self, name: str) -> Sequence[Point]: ...


@dataclass(slots=True)
class RunView:
    """One run as the query engine sees it.

    - ``attributes``: ``name``, ``status``, ``experiment``, ``trial`` (a list of trial names, or
      one string), ``created``/``started``/``ended`` (epoch milliseconds, ``datetime`` or
      ISO-8601 string), ``source``, ``parent``. ``run_id`` is read from the field of that name.
    - ``params``: typed values (``int``/``float``/``str``/``bool``).
    - ``tags``: strings.
    - ``metrics``: metric name -> summary dict with keys among ``SUMMARY_STATS``
      (``last_timestamp`` in epoch milliseconds).
    - ``series_source``: a mapping name -> points, or a callable loading them; points are
      ``(step, value)`` pairs in (step, timestamp) order. An unknown metric has no points.
    """

    run_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    series_source: Mapping[str, Sequence[Point]] | SeriesLoader | None = None
    _series_cache: dict[str, Sequence[Point]] = field(default_factory=dict, repr=False, compare=False)

    def series(self, name: str) -> Sequence[Point]:
        cached = self._series_cache.get(name)
        if cached is not None:
            return cached
        source = self.series_source
        if source is None:
            points: Sequence[Point] = ()
        elif callable(source):
            points = source(name)
        else:
            points = source.get(name, ())
        self._series_cache[name] = points
        return points
