"""Summaries are exact and independent of arrival order and batching."""
from __future__ import annotations

import math
import random
import statistics

import pytest
from hypothesis import given, settings, strategies as st

from skytune.metrics.downsample import downsample
from skytune.metrics.encoding import pack, unpack
from skytune.metrics.summary import Summary, public_summary

values = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
points_strategy = st.lists(
    st.tuples(values, st.integers(0, 50), st.integers(0, 10**13)), min_size=1, max_size=60
)


def test_statistics_of_a_known_series():
    summary = Summary.of([(0.5, 0, 1000), (0.25, 1, 2000), (0.75, 2, 3000), (0.25, 3, 4000)])
    assert summary.public() == {
        "count": 4, "min": 0.25, "max": 0.75, "avg": 0.4375,
        "stddev": pytest.approx(statistics.stdev([0.5, 0.25, 0.75, 0.25]), rel=1e-15),
        "first": 0.5, "last": 0.25, "min_step": 1, "max_step": 2, "last_step": 3, "last_timestamp": 4000,
    }


def test_sum_is_exact_where_naive_float_summation_is_not():
    data = [(1e16, 0, 0), (1.0, 1, 0), (-1e16, 2, 0), (1.0, 3, 0)]
    assert sum(v for v, _, _ in data) / 4 != 0.5  # the naive sum loses a 1.0
    assert Summary.of(data).avg() == 0.5


def test_single_point_has_no_stddev():
    assert Summary.of([(3.0, 7, 10)]).public()["stddev"] is None


def test_non_finite_values_are_refused():
    for bad in (math.nan, math.inf, -math.inf, 1e200):
        with pytest.raises(ValueError):
            Summary().add(bad, 0, 0)


@settings(max_examples=150, deadline=None)
@given(points_strategy, st.randoms(use_true_random=False), st.integers(1, 6))
def test_any_order_and_any_batching_give_the_same_summary(points, rnd, parts):
    reference = Summary.of(points).to_json()
    shuffled = points[:]
    rnd.shuffle(shuffled)
    cuts = sorted(rnd.sample(range(len(shuffled) + 1), min(parts, len(shuffled) + 1)))
    batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)])]
    merged = Summary()
    for batch in batches:
        merged = merged.merge(Summary.of(batch))
    assert merged.public() == Summary.from_json(reference).public()


@settings(max_examples=100, deadline=None)
@given(points_strategy)
def test_summary_matches_a_plain_python_computation(points):
    public = Summary.of(points).public()
    xs = [v for v, _, _ in points]
    assert public["count"] == len(xs)
    assert public["min"] == min(xs) and public["max"] == max(xs)
    assert public["avg"] == pytest.approx(math.fsum(xs) / len(xs), rel=1e-12, abs=1e-12)
    if len(xs) > 1:
        assert public["stddev"] == pytest.approx(statistics.stdev(xs), rel=1e-9, abs=1e-6)
    by_key = sorted(points, key=lambda p: ((p[1], p[2]), p[0]))
    assert public["first"] == by_key[0][0] and public["last"] == by_key[-1][0]
    assert public["last_step"] == max(s for _, s, _ in points)
    assert public["last_timestamp"] == max(t for _, _, t in points)
    smallest = min(points, key=lambda p: (p[0], p[1], p[2]))
    assert public["min_step"] == smallest[1]


@given(points_strategy)
def test_storage_form_round_trips_exactly(points):
    summary = Summary.of(points)
    assert Summary.from_json(summary.to_json()) == summary
    assert public_summary(summary.to_json()) == summary.public()


@given(st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**13), values), max_size=300))
def test_segment_encoding_round_trips_sorted(points):
    assert unpack(pack(points)) == sorted(points, key=lambda p: (p[0], p[1]))


def test_segment_encoding_is_compact_for_a_regular_series():
    series = [(step, 1_700_000_000_000 + step * 1000, random.Random(step).random()) for step in range(1000)]
    assert len(pack(series)) / len(series) < 14  # bytes per point


def test_downsampling_keeps_every_bucket_extreme():
    series = [(s, s, math.sin(s / 10)) for s in range(1000)]
    series[537] = (537, 537, 50.0)  # a spike
    series[811] = (811, 811, -50.0)  # a dip
    kept = downsample(series, 100)
    assert len(kept) <= 100
    values_kept = [v for _, _, v in kept]
    assert 50.0 in values_kept and -50.0 in values_kept
    assert kept[0] == series[0] and kept[-1] == series[-1]
    assert kept == sorted(kept)


def test_downsampling_returns_short_series_unchanged():
    series = [(s, s, float(s)) for s in range(10)]
    assert downsample(series, 10) == series


@given(st.dictionaries(st.text(min_size=1, max_size=20), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**13), values), max_size=30), max_size=6))
def test_shared_segment_encoding_round_trips_every_metric(series):
    from skytune.metrics.encoding import pack_many, unpack_many

    assert unpack_many(pack_many(series)) == {name: sorted(points, key=lambda p: (p[0], p[1])) for name, points in series.items()}


@settings(max_examples=500, deadline=None)
@given(partials=st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.floats(-1e-300, 1e-300),
                                   st.integers(-10, 10)), max_size=12))
def test_the_exact_sum_is_the_sum_of_fractions(partials):
    """`_exact` sums over a common denominator instead of one Fraction per partial: same value."""
    from fractions import Fraction

    from skytune.metrics.summary import _exact

    assert _exact(partials) == sum((Fraction(p) for p in partials), Fraction(0))


@settings(max_examples=500, deadline=None)
@given(values=st.lists(st.one_of(st.floats(-1e150, 1e150, allow_nan=False), st.floats(-1e-3, 1e-3),
                                 st.sampled_from([0.1, 0.2, 0.3, 1e100, -1e100, 1.0])), min_size=1, max_size=12))
def test_avg_and_stddev_equal_the_fraction_formulas(values):
    """avg/stddev divide exact integer sums once; the floats must be those of the Fraction formulas."""
    from fractions import Fraction

    summary = Summary.of((v, i, i) for i, v in enumerate(values))
    total = sum((Fraction(p) for p in summary.sum_partials), Fraction(0))
    assert summary.avg() == float(total / summary.count)
    if summary.count >= 2:
        squares = sum((Fraction(p) for p in summary.square_partials), Fraction(0))
        variance = (squares - total * total / summary.count) / (summary.count - 1)
        assert summary.stddev() == math.sqrt(max(float(variance), 0.0))
