"""Round 3 (issue 15): log PI, the lower confidence bound, the acquisition portfolio and the
trust region replayed from the history."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skytune.optimize import Observation, parse_space, suggest
from skytune.optimize.acquisition import (
    log_normal_cdf,
    log_probability_of_improvement,
    log_probability_of_improvement_and_gradient,
    negative_lower_confidence_bound,
    negative_lower_confidence_bound_and_gradient,
)
from skytune.optimize.bayesian import (
    BayesianOptions,
    TR_INITIAL,
    TR_MAX,
    kernel_structure,
    looks_quantised,
    trust_region_box,
    trust_region_length,
)
from skytune.optimize.gp import GaussianProcess
from tests.unit.optimize.spaces import MIXED_SMALL

FAST_BO = {"n_candidates": 128, "n_local_per_scale": 16, "n_refine": 2, "n_fit_starts": 1}
SPACE = MIXED_SMALL


def _gp(n=25, seed=0):
    rng = np.random.default_rng(seed)
    x = SPACE.features_from_unit(rng.random((n, SPACE.dimension)))
    y = np.sin(6 * x[:, 0]) + x[:, 1] ** 2 + x[:, 3]
    return GaussianProcess(x, y, np.array([-1.0, 0.0, 0.0, 0.0, -6.0]), kernel_structure(SPACE)), y


def test_log_normal_cdf_matches_the_standard_library_and_stays_finite_far_below():
    z = np.array([-4.0, -1.0, 0.0, 2.0])
    exact = [math.log(0.5 * math.erfc(-v / math.sqrt(2))) for v in z]
    assert np.allclose(log_normal_cdf(z)[0], exact, rtol=1e-6)
    # Phi(-30) ~ 4.9e-198 = exp(-454.3); float64 erfc alone would not reach it accurately
    far, ratio = log_normal_cdf(np.array([-30.0]))
    assert far[0] == pytest.approx(-454.3212, abs=1e-3)
    assert ratio[0] == pytest.approx(30.0333, rel=1e-3)  # phi/Phi ~ -z - 1/z


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-40.0, 8.0), min_size=2, max_size=20))
def test_log_normal_cdf_is_monotone_and_finite(zs):
    z = np.sort(np.array(zs))
    value, ratio = log_normal_cdf(z)
    assert np.all(np.isfinite(value)) and np.all(ratio > 0)
    # monotone up to the erfc approximation's 1.2e-7 relative error
    assert np.all(np.diff(value) >= -1e-6)


@pytest.mark.parametrize("kind", ["pi", "lcb"])
def test_acquisition_gradients_match_finite_differences(kind):
    gp, y = _gp()
    points = SPACE.features_from_unit(np.random.default_rng(1).random((4, 3)))
    best = float(y.min())

    def value(p):
        mean, var = gp.predict(p)
        return (log_probability_of_improvement(mean, var, best) if kind == "pi"
                else negative_lower_confidence_bound(mean, var, 2.0))

    args = gp.predict_with_gradient(points)
    _, grad = (log_probability_of_improvement_and_gradient(*args, best) if kind == "pi"
               else negative_lower_confidence_bound_and_gradient(*args, 2.0))
    eps = 1e-6
    numeric = np.stack([(value(points + e) - value(points - e)) / (2 * eps)
                        for e in np.eye(points.shape[1]) * eps], axis=1)
    assert np.allclose(grad, numeric, rtol=1e-4, atol=1e-5)


def test_trust_region_doubles_after_three_successes_and_halves_after_enough_failures():
    n0, d = 4, 2  # failure tolerance max(4, d) = 4
    initial = [10.0, 9.0, 8.0, 7.0]
    assert trust_region_length(initial, n0, d) == TR_INITIAL
    improving = initial + [6.0, 5.0, 4.0]
    assert trust_region_length(improving, n0, d) == pytest.approx(2 * TR_INITIAL)
    assert trust_region_length(improving + [3.0, 2.0, 1.0], n0, d) == pytest.approx(TR_MAX)
    stuck = initial + [7.5] * 4
    assert trust_region_length(stuck, n0, d) == pytest.approx(TR_INITIAL / 2)
    assert trust_region_length(stuck + [7.5] * 3, n0, d) == pytest.approx(TR_INITIAL / 2)
    assert trust_region_length(stuck + [7.5] * 4, n0, d) == pytest.approx(TR_INITIAL / 4)
    # a tiny improvement (< 1e-3 |best|) is a failure; 8 halvings drop below the minimum: restart
    assert trust_region_length(initial + [6.9999] * 4, n0, d) == pytest.approx(TR_INITIAL / 2)
    assert trust_region_length(initial + [7.0] * 28, n0, d) == pytest.approx(TR_INITIAL)
    # higher dimension: the tolerance is the dimension
    assert trust_region_length(initial + [7.5] * 4, n0, 10) == TR_INITIAL
    assert trust_region_length(initial + [7.5] * 10, n0, 10) == pytest.approx(TR_INITIAL / 2)


@settings(max_examples=30, deadline=None)
@given(st.floats(0.01, 1.6), st.integers(0, 24))
def test_trust_region_box_is_inside_the_cube_contains_the_centre_and_grows_with_the_length(length, row):
    gp, _ = _gp()
    centre = gp.x[row]
    lower, upper = trust_region_box(SPACE, gp, centre, length)
    numeric = SPACE.numeric_feature_columns()
    assert np.all(lower >= 0) and np.all(upper <= 1)
    assert np.all(lower <= centre) and np.all(centre <= upper)
    wider = trust_region_box(SPACE, gp, centre, 2 * length)
    assert np.all(wider[0] <= lower) and np.all(wider[1] >= upper)
    categorical = np.setdiff1d(np.arange(SPACE.feature_count), numeric)
    assert np.all(lower[categorical] == 0) and np.all(upper[categorical] == 1)
    # the side lengths (before clipping) are length * l_f / geomean(l): their geometric mean is length
    small = trust_region_box(SPACE, gp, np.full(SPACE.feature_count, 0.5), 1e-3)
    sides = (small[1] - small[0])[numeric]
    assert np.exp(np.mean(np.log(sides))) == pytest.approx(1e-3, rel=1e-6)


def _history(space, n, seed=1):
    configs = space.from_unit(np.random.default_rng(seed).random((n, space.dimension)))
    return [Observation(c, float(sum((v - 0.3) ** 2 for v in c.values() if not isinstance(v, str)))) for c in configs]


def test_portfolio_and_trust_region_suggest_valid_deterministic_new_points():
    space = parse_space({"ContinuousParameterRanges": [
        {"Name": f"x{i}", "MinValue": "0", "MaxValue": "1"} for i in range(8)]})
    history = _history(space, 15)
    for options in ({"acquisition": "portfolio"}, {"trust_region": "auto"}):
        picks = [suggest("Bayesian", space, history, [], 1, 0, index=15 + k, **FAST_BO, **options)[0]
                 for k in range(3)]
        again = [suggest("Bayesian", space, history, [], 1, 0, index=15 + k, **FAST_BO, **options)[0]
                 for k in range(3)]
        assert picks == again
        assert all(space.contains(p) for p in picks)
        assert all(p != o.params for p in picks for o in history)


def _shrunk_box_history(dimension):
    """9 random trials, then 40 failures away from the best: the box has halved 5 to 10 times."""
    space = parse_space({"ContinuousParameterRanges": [
        {"Name": f"x{i}", "MinValue": "0", "MaxValue": "1"} for i in range(dimension)]})
    history = _history(space, 9)
    best = min(history, key=lambda o: o.value)
    stale = [Observation({k: min(1.0, v + 0.5) for k, v in best.params.items()}, best.value + 1.0 + i)
             for i in range(40)]
    return space, history + stale, best


def test_trust_region_keeps_the_pick_near_the_incumbent_once_it_has_shrunk():
    # 40 failures after the design: the region halved 5 times (tolerance 8) -> side 0.025
    space, history, best = _shrunk_box_history(8)
    pick = suggest("Bayesian", space, history, [], 1, 0, trust_region="auto", **FAST_BO)[0]
    assert max(abs(pick[k] - best.params[k]) for k in pick) < 0.1  # 0.60 with trust_region="off"


def test_an_unknown_acquisition_is_refused():
    history = _history(SPACE, 6)
    with pytest.raises(ValueError, match="acquisition"):
        suggest("Bayesian", SPACE, history, [], 1, 0, acquisition="thompson", **FAST_BO)



@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=80, unique=True))
def test_distinct_values_never_look_quantised(values):
    assert not looks_quantised(values)


def test_a_tie_among_the_best_quarter_looks_quantised_a_tie_among_the_worst_does_not():
    errors = [k / 178 for k in (10, 11, 11, 13, 20, 25, 30, 31, 40, 41, 50, 60)]  # 11/178 twice, near the best
    assert looks_quantised(errors)
    assert looks_quantised(errors[:2] + errors[1:2])  # few values: the best 5 are all of them
    # a collapsed model's plateau (the same bad error again and again) is not a quantised optimum
    assert not looks_quantised([k / 178 for k in range(10, 22)] + [71 / 178] * 10)


ROUND9_BOX = {"trust_region_smooth_min_dim": 8, "trust_region_smooth_after": 0}  # the box from 8 parameters only


def test_by_default_the_box_is_on_small_smooth_spaces_after_20_trials_and_off_on_plateaus():
    space, trials, best = _shrunk_box_history(2)  # 49 completed trials, distinct values
    pick = suggest("Bayesian", space, trials, [], 1, 0, **FAST_BO)[0]
    assert max(abs(pick[k] - best.params[k]) for k in pick) < 0.1  # the shrunk box, as on 8 parameters
    assert pick == suggest("Bayesian", space, trials, [], 1, 0, trust_region_min_dim=1, **FAST_BO)[0]
    round9 = suggest("Bayesian", space, trials, [], 1, 0, **ROUND9_BOX, **FAST_BO)[0]
    assert round9 != pick
    # before trust_region_smooth_after trials have completed, no box
    early = suggest("Bayesian", space, trials, [], 1, 0, trust_region_smooth_after=50, **FAST_BO)[0]
    assert early == round9
    # the same trials with the values on a grid of 0.05: ties near the best, so no box (round 9's pick)
    plateau = [Observation(o.params, round(o.value * 20) / 20) for o in trials]
    assert looks_quantised([o.value for o in plateau])
    pick = suggest("Bayesian", space, plateau, [], 1, 0, **FAST_BO)[0]
    assert pick == suggest("Bayesian", space, plateau, [], 1, 0, trust_region="off", **FAST_BO)[0]


def test_the_default_box_rule_reads_the_trial_count_and_the_values():
    options = BayesianOptions()
    space = parse_space({"ContinuousParameterRanges": [
        {"Name": f"x{i}", "MinValue": "0", "MaxValue": "1"} for i in range(3)]})
    smooth = [1.0 / (i + 1.5) for i in range(25)]
    assert options.uses_trust_region(space, smooth[:20])
    assert not options.uses_trust_region(space, smooth[:19])
    assert not options.uses_trust_region(space, smooth[:20] + [smooth[19]])  # a tie at the best
    assert not BayesianOptions(**ROUND9_BOX).uses_trust_region(space, smooth)
