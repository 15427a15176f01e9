"""The series read path decodes segments into numpy arrays and downsamples them vectorised: the
points it keeps are exactly those of the per-point M4 selection (kept here as the oracle)."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings, strategies as st

from skytune.metrics.downsample import downsample, m4_indices
from skytune.metrics.encoding import pack, pack_many, unpack, unpack_arrays, unpack_many, unpack_many_arrays

values = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)
points = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**13), values), max_size=80)


def m4_oracle(points, max_points):
    """The per-point M4 selection the read path used before it was vectorised."""
    if len(points) <= max_points:
        return list(points)
    if max_points < 4:
        chosen = {min(range(len(points)), key=lambda i: points[i][2]), max(range(len(points)), key=lambda i: points[i][2])}
        return [points[i] for i in sorted(chosen)][:max_points]
    buckets = max_points // 4
    size = len(points) / buckets
    kept = []
    for b in range(buckets):
        start, end = int(b * size), int((b + 1) * size)
        if start >= end:
            continue
        indices = range(start, end)
        lowest = min(indices, key=lambda i: points[i][2])
        highest = max(indices, key=lambda i: points[i][2])
        kept.extend(sorted({start, lowest, highest, end - 1}))
    return [points[i] for i in kept]


@settings(max_examples=300)
@given(points, st.integers(1, 40))
def test_vectorised_m4_keeps_exactly_the_points_of_the_per_point_selection(series, max_points):
    series = sorted(series)
    assert downsample(series, max_points) == m4_oracle(series, max_points)


@given(st.lists(st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.5]), min_size=1, max_size=200), st.integers(4, 60))
def test_ties_keep_the_first_extreme_of_each_bucket(vals, max_points):
    series = [(i, i, v) for i, v in enumerate(vals)]
    assert downsample(series, max_points) == m4_oracle(series, max_points)


def test_m4_on_a_long_series_keeps_spikes_and_at_most_max_points():
    vals = np.sin(np.arange(100_000) / 300.0)
    vals[12_345], vals[67_890] = 50.0, -50.0
    kept = m4_indices(vals, 600)
    assert len(kept) <= 600 and kept[0] == 0 and kept[-1] == 99_999
    assert 12_345 in kept and 67_890 in kept
    series = [(i, i, float(v)) for i, v in enumerate(vals)]
    assert [series[i] for i in kept.tolist()] == m4_oracle(series, 600)


@given(points)
def test_array_decoding_matches_the_tuple_decoding(series):
    steps, stamps, vals = unpack_arrays(pack(series))
    assert list(zip(steps.tolist(), stamps.tolist(), vals.tolist())) == unpack(pack(series))


@given(st.dictionaries(st.text(min_size=1, max_size=12), points, max_size=5), st.text(min_size=1, max_size=12))
def test_shared_segment_array_decoding_finds_one_metric(series, other):
    blob = pack_many(series)
    for metric, expected in unpack_many(blob).items():
        steps, stamps, vals = unpack_many_arrays(blob, metric)
        assert list(zip(steps.tolist(), stamps.tolist(), vals.tolist())) == expected
    if other not in series:
        assert unpack_many_arrays(blob, other) is None


def test_array_decoding_keeps_values_bit_exact():
    series = [(0, 1, math.pi), (1, 2, -0.0), (2, 3, 5e-324), (3, 4, 1.7976931348623157e308)]
    _, _, vals = unpack_arrays(pack(series))
    assert [math.copysign(1, v) for v in vals.tolist()] == [1, -1, 1, 1] and vals.tolist() == [p[2] for p in series]
