"""What a query reads, so the storage layer fetches only that.

``referenced(expr, order, columns, aggregates)`` walks everything it is given and reports the
attributes, params, tags, summary statistics and metric series windows involved. Series reads
(``at``/``window`` predicates) are the costly ones: ``series_windows()`` merges them into the
fewest step ranges per metric.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .expr import Expr
from .fields import Attribute, Field, MetricAt, MetricStat, MetricWindow, Param, Tag


@dataclass(frozen=True, slots=True, order=True)
class SeriesRead:
    """Points of ``metric`` with ``first_step <= step <= last_step`` are needed."""

    metric: str
    first_step: int
    last_step: int


@dataclass(frozen=True, slots=True)
class References:
    attributes: frozenset[str] = field(default_factory=frozenset)
    params: frozenset[str] = field(default_factory=frozenset)
    tags: frozenset[str] = field(default_factory=frozenset)
    metric_stats: frozenset[tuple[str, str]] = field(default_factory=frozenset)  # (metric, stat)
    series: frozenset[SeriesRead] = field(default_factory=frozenset)

    @property
    def summary_metrics(self) -> frozenset[str]:
        """Metrics whose summary is needed."""
        return frozenset(metric for metric, _stat in self.metric_stats)

    @property
    def needs_series(self) -> bool:
        return bool(self.series)

    def series_windows(self) -> dict[str, list[tuple[int, int]]]:
        """Per metric, the sorted, merged (overlapping or adjacent) inclusive step ranges."""
        windows: dict[str, list[tuple[int, int]]] = {}
        for read in sorted(self.series):
            ranges = windows.setdefault(read.metric, [])
            if ranges and read.first_step <= ranges[-1][1] + 1:
                ranges[-1] = (ranges[-1][0], max(ranges[-1][1], read.last_step))
            else:
                ranges.append((read.first_step, read.last_step))
        return windows

    def __or__(self, other: References) -> References:
        return References(
            self.attributes | other.attributes,
            self.params | other.params,
            self.tags | other.tags,
            self.metric_stats | other.metric_stats,
            self.series | other.series,
        )


def referenced(*items: object) -> References:
    """References of any mix of filters (``Expr``), fields, ``SortKey``s, ``Column``s,
    ``Aggregate``s, and iterables of them. ``None`` items are ignored."""
    attributes: set[str] = set()
    params: set[str] = set()
    tags: set[str] = set()
    metric_stats: set[tuple[str, str]] = set()
    series: set[SeriesRead] = set()

    def add(target: Field) -> None:
        if isinstance(target, Attribute):
            attributes.add(target.name)
        elif isinstance(target, Param):
            params.add(target.name)
        elif isinstance(target, Tag):
            tags.add(target.name)
        elif isinstance(target, MetricStat):
            metric_stats.add((target.metric, target.stat))
        elif isinstance(target, MetricAt):
            series.add(SeriesRead(target.metric, target.step, target.step))
        elif isinstance(target, MetricWindow):
            series.add(SeriesRead(target.metric, target.first, target.last))

    for target in _fields(items):
        add(target)
    return References(
        frozenset(attributes), frozenset(params), frozenset(tags), frozenset(metric_stats), frozenset(series)
    )


def _fields(items: Iterable[object]) -> Iterable[Field]:
    for item in items:
        if item is None:
            continue
        if isinstance(item, Field):
            yield item
        elif isinstance(item, Expr):
            for node in item.walk():
                yield from node.fields()
        elif hasattr(item, "field"):  # SortKey, Column, Aggregate
            target = item.field
            if target is not None:
                yield target
        elif isinstance(item, Iterable) and not isinstance(item, (str, bytes)):
            yield from _fields(item)
        else:
            raise TypeError(f"cannot tell what {item!r} references")
