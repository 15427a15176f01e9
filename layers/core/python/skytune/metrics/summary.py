"""Per-metric summaries that are exact under any arrival order and any partition into batches.

A summary is a *mergeable* state: merging the states of two disjoint sets of points gives the state of
their union, and the result does not depend on the order of merges. Floating-point sums normally do
depend on order, so sums are kept as Shewchuk partials (a short list of non-overlapping floats whose
exact sum is the true sum) and squares are split exactly (Dekker's two-product), so

    avg    = (Σx) / n                       Σx exactly summed, rounded once
    stddev = sqrt((Σx² − (Σx)²/n) / (n−1))  sample standard deviation, exact rational arithmetic, rounded once

min/max ties are broken by the smallest (step, timestamp); first/last are the values at the smallest /
largest (step, timestamp). Hand-written because no library keeps exact, mergeable moments.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterable

# |x| above this would overflow x*x during the exact split; metric values that large are rejected.
MAX_ABS_VALUE = 1e150
_SPLITTER = 134217729.0  # 2**27 + 1, Veltkamp's constant for float64

Key = tuple[int, int]  # (step, timestamp_ms)


def _add_exact(partials: list[float], x: float) -> None:
    """Add x to the Shewchuk partials in place (the msum recipe behind math.fsum)."""
    i = 0
    for y in partials:
        if abs(x) < abs(y):
            x, y = y, x
        hi = x + y
        lo = y - (hi - x)
        if lo:
            partials[i] = lo
            i += 1
        x = hi
    partials[i:] = [x]


def _exact_square(x: float) -> tuple[float, float]:
    """x*x == p + e exactly (Dekker's two-product with Veltkamp's split)."""
    c = _SPLITTER * x
    hi = c - (c - x)
    lo = x - hi
    p = x * x
    e = ((hi * hi - p) + 2 * hi * lo) + lo * lo
    return p, e


def _exact(partials: list[float]) -> Fraction:
    n, d = _ratio(partials)
    return Fraction(n, d)


def _ratio(partials: list[float]) -> tuple[int, int]:
    """The exact sum of `partials` as (numerator, denominator): integers over their common
    power-of-two denominator, not one Fraction per partial (a gcd each). avg and stddev divide
    these integers once: Python's int / int is correctly rounded, so the float is the one
    `float(Fraction(...))` gives, ~5x faster. They run for every metric of every row a runs-table
    page shows (with Fractions a third of a 10,000-run first page's time; BENCHMARKS.md, search round 4)."""
    if not partials:
        return 0, 1
    ratios = [p.as_integer_ratio() for p in partials]
    denominator = max(d for _n, d in ratios)  # powers of two: each divides the largest
    return sum(n * (denominator // d) for n, d in ratios), denominator


@dataclass
class Summary:
    count: int = 0
    sum_partials: list[float] = field(default_factory=list)
    square_partials: list[float] = field(default_factory=list)
    min: float | None = None
    min_key: Key | None = None
    max: float | None = None
    max_key: Key | None = None
    first: float | None = None
    first_key: Key | None = None
    last: float | None = None
    last_key: Key | None = None
    last_timestamp: int | None = None
    next_step: int = 0  # the step the next point without an explicit step gets

    def add(self, value: float, step: int, timestamp_ms: int) -> None:
        if not math.isfinite(value) or abs(value) > MAX_ABS_VALUE:
            raise ValueError(f"metric values must be finite and at most {MAX_ABS_VALUE:g} in magnitude, got {value!r}")
        key = (step, timestamp_ms)
        self.count += 1
        _add_exact(self.sum_partials, value)
        for part in _exact_square(value):
            if part:
                _add_exact(self.square_partials, part)
        if self.min is None or (value, key) < (self.min, self.min_key):
            self.min, self.min_key = value, key
        if self.max is None or (-value, key) < (-self.max, self.max_key):
            self.max, self.max_key = value, key
        # (key, value) orders are total, so ties between equal keys resolve the same in any arrival order
        if self.first_key is None or (key, value) < (self.first_key, self.first):
            self.first, self.first_key = value, key
        if self.last_key is None or (key, value) > (self.last_key, self.last):
            self.last, self.last_key = value, key
        self.last_timestamp = timestamp_ms if self.last_timestamp is None else max(self.last_timestamp, timestamp_ms)
        self.next_step = max(self.next_step, step + 1)

    def merge(self, other: "Summary") -> "Summary":
        merged = Summary.from_json(self.to_json())
        if other.count == 0:
            return merged
        merged.count += other.count
        for part in other.sum_partials:
            _add_exact(merged.sum_partials, part)
        for part in other.square_partials:
            _add_exact(merged.square_partials, part)
        if merged.min is None or (other.min, other.min_key) < (merged.min, merged.min_key):
            merged.min, merged.min_key = other.min, other.min_key
        if merged.max is None or (-other.max, other.max_key) < (-merged.max, merged.max_key):
            merged.max, merged.max_key = other.max, other.max_key
        if merged.first_key is None or (other.first_key, other.first) < (merged.first_key, merged.first):
            merged.first, merged.first_key = other.first, other.first_key
        if merged.last_key is None or (other.last_key, other.last) > (merged.last_key, merged.last):
            merged.last, merged.last_key = other.last, other.last_key
        merged.last_timestamp = max(t for t in (merged.last_timestamp, other.last_timestamp) if t is not None)
        merged.next_step = max(merged.next_step, other.next_step)
        return merged

    @classmethod
    def of(cls, points: Iterable[tuple[float, int, int]]) -> "Summary":
        summary = cls()
        for value, step, timestamp_ms in points:
            summary.add(value, step, timestamp_ms)
        return summary

    # -- public statistics ---------------------------------------------------------------------
    def avg(self) -> float | None:
        if not self.count:
            return None
        total, scale = _ratio(self.sum_partials)
        return total / (scale * self.count)  # exact sum / count, rounded once

    def stddev(self) -> float | None:
        if self.count < 2:
            return None
        # (squares - total**2 / count) / (count - 1), exactly, rounded once
        n, (total, scale), (squares, square_scale) = self.count, _ratio(self.sum_partials), _ratio(self.square_partials)
        variance = (squares * n * scale * scale - total * total * square_scale) / (square_scale * scale * scale * n * (n - 1))
        return math.sqrt(max(variance, 0.0))

    def public(self) -> dict:
        """The statistics users see (and the search language reads): count, min, max, avg, stddev,
        first, last, min_step, max_step, last_step, last_timestamp."""
        return {
            "count": self.count,
            "min": self.min,
            "max": self.max,
            "avg": self.avg(),
            "stddev": self.stddev(),
            "first": self.first,
            "last": self.last,
            "min_step": self.min_key[0] if self.min_key else None,
            "max_step": self.max_key[0] if self.max_key else None,
            "last_step": self.last_key[0] if self.last_key else None,
            "last_timestamp": self.last_timestamp,
        }

    # -- storage form: JSON keeps every float exactly (repr round-trips) over the full float range,
    # which DynamoDB numbers (1e-130..1e126) would not.
    def to_json(self) -> str:
        return json.dumps([
            self.count, self.sum_partials, self.square_partials, self.min, self.min_key, self.max, self.max_key,
            self.first, self.first_key, self.last, self.last_key, self.last_timestamp, self.next_step,
        ], separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "Summary":
        (count, sums, squares, minimum, min_key, maximum, max_key, first, first_key, last, last_key,
         last_timestamp, next_step) = json.loads(text)
        as_key = lambda k: tuple(k) if k is not None else None  # noqa: E731
        return cls(count, list(sums), list(squares), minimum, as_key(min_key), maximum, as_key(max_key),
                   first, as_key(first_key), last, as_key(last_key), last_timestamp, next_step)


def public_summary(stored) -> dict:
    """Public statistics from a stored summary (the JSON string kept on the run item)."""
    return Summary.from_json(stored if isinstance(stored, str) else json.dumps(stored)).public()
