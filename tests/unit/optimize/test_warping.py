"""Kumaraswamy input warping (issue 15, HEBO's input warp)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skytune.optimize import Observation, parse_space, suggest
from skytune.optimize.bayesian import kernel_structure
from skytune.optimize.gp import GaussianProcess, Prior, _neg_log_posterior
from skytune.optimize.warping import (
    InputWarp,
    WarpedGP,
    fit_input_warp,
    kumaraswamy,
    kumaraswamy_derivative,
    kumaraswamy_inverse,
)

shape = st.floats(0.5, 2.0)  # the fitted grid's range


@settings(max_examples=60, deadline=None)
@given(shape, shape, st.lists(st.floats(0.001, 0.999), min_size=2, max_size=30))
def test_warp_is_a_monotone_bijection_of_the_unit_interval(a, b, us):
    u = np.sort(np.array(us))
    w = kumaraswamy(u, a, b)
    assert np.all((w >= 0) & (w <= 1))
    assert np.all(np.diff(w) >= 0)
    assert np.allclose(kumaraswamy_inverse(w, a, b), u, atol=1e-6)
    # the ends are clipped 1e-6 inside (the derivative is unbounded there for a, b < 1)
    assert kumaraswamy(np.array([0.0]), a, b)[0] == pytest.approx(0.0, abs=5e-3)
    assert kumaraswamy(np.array([1.0]), a, b)[0] == pytest.approx(1.0, abs=5e-3)


@settings(max_examples=40, deadline=None)
@given(shape, shape, st.floats(0.05, 0.95))
def test_warp_derivative_matches_finite_differences(a, b, u):
    eps = 1e-6
    numeric = (kumaraswamy(np.array([u + eps]), a, b) - kumaraswamy(np.array([u - eps]), a, b)) / (2 * eps)
    assert kumaraswamy_derivative(np.array([u]), a, b)[0] == pytest.approx(numeric[0], rel=1e-4, abs=1e-6)


def test_identity_parameters_leave_features_unchanged():
    x = np.random.default_rng(0).random((5, 3))
    warp = InputWarp(np.array([0, 2]), np.ones(2), np.ones(2))
    assert warp.is_identity
    assert np.allclose(warp(x), x, atol=1e-6)


SPACE = parse_space({"ContinuousParameterRanges": [
    {"Name": "a", "MinValue": "0", "MaxValue": "1"}, {"Name": "b", "MinValue": "0", "MaxValue": "1"}]})


def test_warped_gp_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    x = rng.random((20, 2))
    y = np.sin(8 * x[:, 0] ** 3) + x[:, 1]
    warp = InputWarp(np.array([0, 1]), np.array([2.0, 0.5]), np.array([0.5, 2.0]))
    gp = WarpedGP(GaussianProcess(warp(x), y, np.array([-1.0, 0.0, 0.0, -6.0]), kernel_structure(SPACE)),
                  warp, x)
    points = rng.uniform(0.1, 0.9, (4, 2))
    _, _, d_mean, d_var = gp.predict_with_gradient(points)
    eps = 1e-6
    for j, e in enumerate(np.eye(2) * eps):
        hi, lo = gp.predict(points + e), gp.predict(points - e)
        assert np.allclose(d_mean[:, j], (hi[0] - lo[0]) / (2 * eps), rtol=1e-4, atol=1e-5)
        assert np.allclose(d_var[:, j], (hi[1] - lo[1]) / (2 * eps), rtol=1e-4, atol=1e-5)


def test_fit_picks_the_warp_that_makes_a_stretched_function_stationary():
    # f(u) = sin(2 pi w(u)) with w = Kumaraswamy(2, 0.5): stationary in w, not in u
    u = np.linspace(0.02, 0.98, 30)[:, None]
    target = InputWarp(np.array([0]), np.array([2.0]), np.array([0.5]))
    y = np.sin(2 * np.pi * target(u)[:, 0])
    y = (y - y.mean()) / y.std()
    space = parse_space({"ContinuousParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "1"}]})
    structure = kernel_structure(space)

    def objective(xw, i, factor):
        return _neg_log_posterior(np.array([np.log(0.3 * factor), 0.0, -8.0]), xw, y, structure,
                                  Prior())[0]

    warp = fit_input_warp(u, np.array([0]), objective)
    assert (warp.a[0], warp.b[0]) == (2.0, 0.5)


def test_suggest_with_input_warping_is_valid_and_deterministic():
    rng = np.random.default_rng(1)
    configs = SPACE.from_unit(rng.random((12, 2)))
    history = [Observation(c, float((c["a"] ** 4 - 0.3) ** 2 + c["b"])) for c in configs]
    opts = {"n_candidates": 128, "n_local_per_scale": 16, "n_refine": 2, "n_fit_starts": 1,
            "input_warp": "kumaraswamy"}
    first = suggest("Bayesian", SPACE, history, [], 2, 0, **opts)
    assert first == suggest("Bayesian", SPACE, history, [], 2, 0, **opts)
    assert all(SPACE.contains(p) for p in first)


def test_winsorize_clips_only_the_bad_tail_at_tukeys_fence():
    from skytune.optimize.bayesian import winsorize_outputs

    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 1000.0])  # q1 2.25, q3 4.75: fence 8.5
    clipped = winsorize_outputs(y)
    assert clipped.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 8.5]
    assert winsorize_outputs(np.array([-1e6, 0.0, 0.0, 0.0])).tolist() == [-1e6, 0.0, 0.0, 0.0]  # the good tail stays
    assert winsorize_outputs(np.array([0.0, 0.0, 0.0, 0.0, 9.0])).tolist() == [0.0, 0.0, 0.0, 0.0, 9.0]  # IQR 0: as is
