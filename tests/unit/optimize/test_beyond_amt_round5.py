"""Round 5 (issue 15 §3, DTLZ2): the EHVI reference-point rule as a property of the raw values,
and pending trials' fantasies on the front in the models' own (normalised) units."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skytune.optimize import parse_space
from skytune.optimize.extended import ExtendedOptions, Goal, Outcome, _Models, suggest_extended
from skytune.optimize.multiobjective import pareto_mask


def _space(d: int):
    return parse_space({"ContinuousParameterRanges": [
        {"Name": f"x{i}", "MinValue": "0", "MaxValue": "1"} for i in range(d)]})


def _history(values: np.ndarray) -> list[Outcome]:
    n = len(values)
    return [Outcome({"x0": (i + 0.5) / n, "x1": ((7 * i) % n + 0.5) / n},
                    {f"f{j}": float(v) for j, v in enumerate(row)}) for i, row in enumerate(values)]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(3, 12), st.integers(2, 3),
       st.floats(-0.5, 1.0), st.sampled_from(["observed", "front"]),
       st.floats(-1e3, 1e3), st.floats(1e-3, 1e3))
def test_reference_rule_in_raw_units(seed, n, m, margin, rule, shift, spread):
    """Mapped back to raw units, the default reference is the worst value observed plus ``margin``
    times the observed range ("observed"), or the front's nadir plus ``margin`` times the front's
    range, at least a tenth of the observed one ("front"); any shift and scale of the values."""
    rng = np.random.default_rng(seed)
    raw = shift + spread * rng.random((n, m))
    goals = [Goal(f"f{j}") for j in range(m)]
    history = _history(raw)
    models = _Models(_space(2), history, history, goals, [], np.random.default_rng(0),
                     ExtendedOptions(ehvi_reference=rule, ehvi_margin=margin))
    reference = models.norm_low + models._reference(models._front()) * models.norm_span
    best, worst = raw.min(axis=0), raw.max(axis=0)
    if rule == "observed":
        expected = worst + margin * (worst - best)
    else:
        front = raw[pareto_mask(raw)]
        nadir, ideal = front.max(axis=0), front.min(axis=0)
        expected = nadir + margin * np.maximum(nadir - ideal, 0.1 * (worst - best))
    np.testing.assert_allclose(reference, expected, rtol=1e-9, atol=1e-9 * spread)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(-1e3, 1e3), st.floats(1e-2, 1e3), st.floats(0.0, 1.0))
def test_a_stated_reference_overrides_the_rule_in_raw_units(seed, shift, spread, where):
    rng = np.random.default_rng(seed)
    raw = shift + spread * rng.random((6, 2))
    stated = shift + where * spread
    goals = [Goal("f0", "Maximize", reference=-stated), Goal("f1")]
    history = _history(raw * np.array([-1.0, 1.0]))  # f0 maximised: its metric is -raw
    models = _Models(_space(2), history, history, goals, [], np.random.default_rng(0), ExtendedOptions())
    reference = models.norm_low + models._reference(models._front()) * models.norm_span
    assert reference[0] == pytest.approx(stated, rel=1e-9, abs=1e-9 * spread)
    worst, best = raw[:, 1].max(), raw[:, 1].min()
    assert reference[1] == pytest.approx(worst + 0.1 * (worst - best), rel=1e-9, abs=1e-9 * spread)


def test_a_pending_trial_joins_the_front_in_normalised_units():
    """A pending trial at an observed configuration is fantasised at (about) that trial's values:
    the front must not change. Until round 5 the fantasy was normalised twice; with objectives
    around 1000 it landed near (-10, -10) and dominated every real trial, so the next picks of a
    batch chased a front that did not exist."""
    raw = np.array([[1000.0, 1090.0], [1030.0, 1040.0], [1060.0, 1010.0], [1080.0, 1080.0], [1050.0, 1050.0]])
    history = _history(raw)
    goals = [Goal("f0"), Goal("f1")]
    models = _Models(_space(2), history, history, goals, [], np.random.default_rng(0), ExtendedOptions())
    before = models._front()
    models.fantasise(history[1].params)  # a trial on the front
    after = models._front()
    assert after.min() > -0.05 and after.max() < 1.05  # inside the observed range, not far ahead
    # the fantasy duplicates a front point (within the model's error): every real front point stays
    for point in before:
        assert np.any(np.all(np.abs(after - point) < 0.05, axis=1))
    assert len(after) <= len(before) + 1


def test_ablation_options_are_checked():
    space = _space(2)
    history = _history(np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]))
    goals = [Goal("f0"), Goal("f1")]
    with pytest.raises(ValueError, match="ehvi_margin"):
        suggest_extended(space, history, [], 1, 0, objectives=goals, ehvi_margin=-1.5)
    with pytest.raises(ValueError, match="ehvi_sd_scale"):
        suggest_extended(space, history, [], 1, 0, objectives=goals, ehvi_sd_scale=0.0)
    picks = suggest_extended(space, history, [history[0].params], 2, 0, objectives=goals, ehvi_sd_scale=0.3)
    assert len({space.key(p) for p in picks}) == 2
