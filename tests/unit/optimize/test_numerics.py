"""Gradients and special functions checked against finite differences and known values."""

import math

import numpy as np
import pytest

from skytune.optimize import lbfgs, parse_space
from skytune.optimize.acquisition import (
    erfc,
    log_expected_improvement,
    log_expected_improvement_and_gradient,
    log_h,
)
from skytune.optimize.bayesian import kernel_structure, warp_outputs
from skytune.optimize.gp import GaussianProcess, Prior, _neg_log_posterior, fit_hyperparameters
from tests.unit.optimize.spaces import MIXED_SMALL

SPACE = MIXED_SMALL


def _data(n=25, seed=0):
    rng = np.random.default_rng(seed)
    x = SPACE.features_from_unit(rng.random((n, SPACE.dimension)))
    return x, np.sin(6 * x[:, 0]) + x[:, 1] ** 2 + x[:, 3] + 0.01 * rng.standard_normal(n)


def test_erfc_matches_the_standard_library():
    xs = np.linspace(-5, 5, 101)
    assert np.allclose(erfc(xs), [math.erfc(v) for v in xs], rtol=2e-7, atol=1e-12)


def test_log_h_is_exact_near_zero_and_finite_far_below():
    z = np.array([-2.0, 0.0, 1.5])
    exact = [math.exp(-v * v / 2) / math.sqrt(2 * math.pi) + v * 0.5 * math.erfc(-v / math.sqrt(2))
             for v in z]
    assert np.allclose(np.exp(log_h(z)[0]), exact, rtol=1e-6)
    far = log_h(np.array([-40.0, -5.001, -4.999]))[0]
    assert np.all(np.isfinite(far)) and far[0] < -800
    assert far[1] == pytest.approx(far[2], abs=0.02)  # continuous across the branch switch


@pytest.mark.parametrize("lengthscale_form", ["symmetric", "lognormal"])
@pytest.mark.parametrize("noise_form", ["lognormal", "gamma", "mixture"])
def test_marginal_likelihood_gradient_matches_finite_differences(lengthscale_form, noise_form):
    x, y = _data()
    structure = kernel_structure(SPACE)
    prior = Prior(lengthscale_form=lengthscale_form, noise_form=noise_form)
    theta = np.array([-0.5, 0.3, 0.1, 0.2, -4.0])
    _, grad = _neg_log_posterior(theta, x, y, structure, prior)
    eps = 1e-6
    numeric = [(_neg_log_posterior(theta + e, x, y, structure, prior)[0]
                - _neg_log_posterior(theta - e, x, y, structure, prior)[0]) / (2 * eps)
               for e in np.eye(len(theta)) * eps]
    assert np.allclose(grad, numeric, rtol=1e-4, atol=1e-5)


def test_log_ei_gradient_matches_finite_differences():
    x, y = _data()
    structure = kernel_structure(SPACE)
    gp = GaussianProcess(x, y, np.array([-1.0, 0.0, 0.0, 0.0, -6.0]), structure)
    points = SPACE.features_from_unit(np.random.default_rng(1).random((4, 3)))

    def value(p):
        return log_expected_improvement(*gp.predict(p), best=float(y.min()))

    _, grad = log_expected_improvement_and_gradient(*gp.predict_with_gradient(points),
                                                    best=float(y.min()))
    eps = 1e-6
    numeric = np.stack([(value(points + e) - value(points - e)) / (2 * eps)
                        for e in np.eye(points.shape[1]) * eps], axis=1)
    assert np.allclose(grad, numeric, rtol=1e-4, atol=1e-5)


def test_fitted_gp_interpolates_and_learns_the_irrelevant_dimension():
    rng = np.random.default_rng(0)
    space = parse_space({"ContinuousParameterRanges": [
        {"Name": "a", "MinValue": "0", "MaxValue": "1"},
        {"Name": "noise", "MinValue": "0", "MaxValue": "1"}]})
    x = space.features_from_unit(rng.random((30, 2)))
    y = np.sin(6 * x[:, 0])
    structure = kernel_structure(space)
    theta = fit_hyperparameters(x, y, structure, rng)
    assert theta[1] > theta[0] + 1.0  # the unused input gets a much longer lengthscale
    gp = GaussianProcess(x, y, theta, structure)
    test = space.features_from_unit(rng.random((20, 2)))
    mean, var = gp.predict(test)
    assert np.max(np.abs(mean - np.sin(6 * test[:, 0]))) < 0.05
    assert np.all(var >= 0)


def test_lbfgs_minimises_a_bounded_rosenbrock():
    def rosenbrock(v):
        a, b = v
        f = (1 - a) ** 2 + 100 * (b - a * a) ** 2
        return f, np.array([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])

    x, f = lbfgs.minimize(rosenbrock, np.array([-1.2, 1.0]), max_iter=200)
    assert f < 1e-6 and np.allclose(x, [1, 1], atol=1e-2)
    x, _ = lbfgs.minimize(rosenbrock, np.array([0.0, 0.0]), np.array([-2.0, -2.0]),
                          np.array([0.5, 2.0]), max_iter=200)
    assert x[0] == pytest.approx(0.5, abs=1e-3) and x[1] == pytest.approx(0.25, abs=1e-2)


def test_output_warp_is_monotone_and_tames_a_heavy_tail():
    y = np.array([0.4, 0.5, 1.0, 3.0, 20.0, 300.0])
    warped = warp_outputs(y)
    assert np.all(np.diff(warped) > 0)
    gaps = np.diff(warped)
    assert gaps[0] / gaps[-1] > np.diff(y)[0] / np.diff(y)[-1]


def test_symmetric_lengthscale_prior_has_its_mode_at_one_and_steep_tails():
    prior = Prior()
    value, grad = prior.log_lengthscale_density(np.log(np.array([0.1, 1.0, 10.0])))
    assert grad[1] == pytest.approx(0.0)
    assert grad[0] > 0 > grad[2]  # pushes short lengthscales up and long ones down
    # l = 10 costs ~ rate * 100 = 10 nats more than l = 1: a dimension is not dropped lightly
    single = [prior.log_lengthscale_density(np.array([math.log(v)]))[0] for v in (1.0, 10.0)]
    assert single[0] - single[1] == pytest.approx(0.1 * (100 + 0.01 - 2), rel=1e-9)


def test_refine_starts_take_the_best_candidate_then_distinct_ones_weighted_by_ei():
    from skytune.optimize.bayesian import _refine_starts

    scores = np.array([-50.0, 0.0, -1.0, -2.0, -800.0, -0.5])
    starts = _refine_starts(scores, 3, np.random.default_rng(0))
    assert starts[0] == 1 and len(set(starts.tolist())) == 4
    assert 4 not in starts  # EI e^-800 below the best: probability 0
    # only 4 other candidates have non-zero probability, so asking for 10 gives those 4
    assert sorted(_refine_starts(scores, 10, np.random.default_rng(0)).tolist()) == [0, 1, 2, 3, 5]


def test_preconditioned_refinement_climbs_log_ei():
    from skytune.optimize.bayesian import _refine_numeric

    x, y = _data()
    gp = GaussianProcess(x, y, np.array([-1.5, 0.0, 0.5, 0.0, -6.0]), kernel_structure(SPACE))
    numeric = SPACE.numeric_feature_columns()
    start = x[np.argmin(y)].copy()
    start[numeric] = np.clip(start[numeric] + 0.05, 0, 1)
    best = float(y.min())
    out = _refine_numeric(gp, start, numeric, best, max_iter=50)
    before, after = (log_expected_improvement(*gp.predict(p[None, :]), best)[0]
                     for p in (start, out))
    assert after > before + 1e-3
    assert np.all((out[numeric] >= 0) & (out[numeric] <= 1))
    assert np.array_equal(np.delete(out, numeric), np.delete(start, numeric))


def test_mixture_noise_prior_puts_its_weight_on_the_smooth_mode_and_starts_the_fit_in_both():
    prior = Prior(noise_form="mixture")
    t = np.linspace(-25.0, 5.0, 30001)
    density = np.exp([prior.log_noise_density(v)[0] for v in t])
    mass = density / density.sum()
    assert mass[t > -7.0].sum() == pytest.approx(0.1 + 0.9 * 0.0668, abs=0.01)  # the smooth mode, and the
    assert t[np.argmax(density)] == pytest.approx(-10.0, abs=0.01)                # interpolating tail above -7
    assert prior.noise_modes() == [-10.0, -5.0] and Prior().noise_modes() == [-10.0]
    # identifiable noise (sd 0.1 on a 1-D sine, 30 points) is found from either prior
    space = parse_space({"ContinuousParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "1"}]})
    rng = np.random.default_rng(1)
    x = space.features_from_unit(rng.random((30, 1)))
    y = np.sin(6 * x[:, 0]) / 0.7 + 0.1 * rng.standard_normal(30)
    y = (y - y.mean()) / y.std()
    noise = fit_hyperparameters(x, y, kernel_structure(space), np.random.default_rng(0), prior)[-1]
    assert -5.5 < noise < -4.0
