"""Slice-sampled GP hyperparameters and the ensemble the acquisition sees
(``hyperparameters="mcmc"``, issue 15 round 4; off by default)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skytune.optimize import Observation, parse_space, suggest
from skytune.optimize.bayesian import kernel_structure
from skytune.optimize.gp import (
    EnsembleGP,
    GaussianProcess,
    Prior,
    _neg_log_posterior,
    _neg_log_posterior_value,
    fit_hyperparameters,
    slice_sample_hyperparameters,
    theta_bounds,
)
from tests.unit.optimize.spaces import MIXED_SMALL

SPACE = MIXED_SMALL
STRUCTURE = kernel_structure(SPACE)


def _data(n=20, seed=0):
    rng = np.random.default_rng(seed)
    x = SPACE.features_from_unit(rng.random((n, SPACE.dimension)))
    y = np.sin(6 * x[:, 0]) + x[:, 1] ** 2 + x[:, 3] + 0.01 * rng.standard_normal(n)
    return x, (y - y.mean()) / y.std()


def test_value_only_posterior_equals_the_one_with_gradients():
    x, y = _data()
    for theta in ([-0.5, 0.3, 0.1, 0.2, -4.0], [0.5, -1.0, 0.0, -0.3, -9.0]):
        theta = np.array(theta)
        assert _neg_log_posterior_value(theta, x, y, STRUCTURE, Prior()) == pytest.approx(
            _neg_log_posterior(theta, x, y, STRUCTURE, Prior())[0] - 0.5 * len(y) * math.log(2 * math.pi),
            rel=1e-9, abs=1e-9)


def test_slice_samples_stay_in_bounds_move_and_are_reproducible():
    x, y = _data()
    theta = fit_hyperparameters(x, y, STRUCTURE, np.random.default_rng(0))
    samples = slice_sample_hyperparameters(x, y, STRUCTURE, theta, np.random.default_rng(1), n_samples=6)
    again = slice_sample_hyperparameters(x, y, STRUCTURE, theta, np.random.default_rng(1), n_samples=6)
    lower, upper = theta_bounds(STRUCTURE.n_params)
    assert samples.shape == (6, len(theta))
    assert np.array_equal(samples, again)
    assert np.all((samples >= lower) & (samples <= upper))
    assert np.all(np.std(samples, axis=0) > 0)  # every coordinate moved
    # draws from the posterior: none far below the MAP in posterior density (a few nats: with 5
    # hyperparameters a typical draw sits ~2.5 nats below the mode)
    energies = [_neg_log_posterior_value(s, x, y, STRUCTURE, Prior()) for s in samples]
    best = _neg_log_posterior_value(theta, x, y, STRUCTURE, Prior())
    assert all(best - 1e-6 <= e < best + 15 for e in energies)


def test_slice_sampler_targets_the_posterior_on_a_one_parameter_model():
    """With one observation pair and a flat-ish likelihood the samples follow the prior: the
    symmetric lengthscale prior has its mode at ln l = 0 and sd ~ 1.1 in ln l at rate 0.1."""
    space = parse_space({"ContinuousParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "1"}]})
    structure = kernel_structure(space)
    x, y = np.array([[0.5]]), np.array([0.0])
    samples = slice_sample_hyperparameters(x, y, structure, np.array([0.0, 0.0, -10.0]),
                                           np.random.default_rng(0), n_samples=400, thin=1)
    log_l = samples[:, 0]
    # the prior density on ln l: exp(-0.1 (e^{2u} + e^{-2u})): symmetric around 0
    assert abs(float(np.mean(log_l))) < 0.25
    assert 0.6 < float(np.std(log_l)) < 1.6


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3), st.integers(0, 10_000))
def test_ensemble_of_identical_members_is_the_member(point, seed):
    x, y = _data(seed=seed % 5)
    theta = np.array([-0.5, 0.3, 0.1, 0.2, -4.0])
    gp = GaussianProcess(x, y, theta, STRUCTURE)
    ensemble = EnsembleGP([gp, GaussianProcess(x, y, theta, STRUCTURE)])
    xs = SPACE.features_from_unit(np.array([point]))
    for a, b in zip(ensemble.predict_with_gradient(xs), gp.predict_with_gradient(xs)):
        assert np.allclose(a, b, rtol=1e-6, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3),
       st.lists(st.floats(-2.0, 1.0), min_size=2, max_size=2))
def test_ensemble_variance_is_at_least_the_members_mean_variance(point, log_ls):
    """Law of total variance: the mixture's variance = mean variance + variance of the means."""
    x, y = _data()
    members = [GaussianProcess(x, y, np.array([log_l, 0.3, 0.1, 0.0, -6.0]), STRUCTURE) for log_l in log_ls]
    xs = SPACE.features_from_unit(np.array([point]))
    mean, var = EnsembleGP(members).predict(xs)
    means = np.array([m.predict(xs)[0] for m in members])
    variances = np.array([m.predict(xs)[1] for m in members])
    assert mean == pytest.approx(means.mean(axis=0))
    assert var == pytest.approx(variances.mean(axis=0) + means.var(axis=0), rel=1e-6, abs=1e-10)


def test_ensemble_gradient_matches_finite_differences():
    x, y = _data()
    members = [GaussianProcess(x, y, np.array(t), STRUCTURE)
               for t in ([-0.5, 0.3, 0.1, 0.2, -4.0], [-1.2, 0.0, 0.4, -0.1, -6.0])]
    ensemble = EnsembleGP(members)
    points = SPACE.features_from_unit(np.random.default_rng(3).random((4, 3)))
    _, _, d_mean, d_var = ensemble.predict_with_gradient(points)
    eps = 1e-6
    for f in range(points.shape[1]):
        e = np.zeros(points.shape[1])
        e[f] = eps
        (mp, vp), (mm, vm) = ensemble.predict(points + e), ensemble.predict(points - e)
        assert np.allclose(d_mean[:, f], (mp - mm) / (2 * eps), rtol=1e-4, atol=1e-6)
        assert np.allclose(d_var[:, f], (vp - vm) / (2 * eps), rtol=1e-4, atol=1e-6)


def test_conditioning_the_ensemble_conditions_every_member():
    x, y = _data()
    members = [GaussianProcess(x, y, np.array(t), STRUCTURE)
               for t in ([-0.5, 0.3, 0.1, 0.2, -4.0], [-1.2, 0.0, 0.4, -0.1, -6.0])]
    new = SPACE.features_from_unit(np.array([[0.3, 0.7, 0.2]]))
    conditioned = EnsembleGP(members).condition_on(new, np.array([0.0]))
    assert len(conditioned.members) == 2 and len(conditioned.x) == len(x) + 1
    probe = SPACE.features_from_unit(np.random.default_rng(4).random((5, 3)))
    for member, alone in zip(conditioned.members, members):
        assert np.allclose(member.predict(probe), alone.condition_on(new, np.array([0.0])).predict(probe))


def _history(n=12, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for u in rng.random((n, 3)):
        c = SPACE.from_unit(u[None, :])[0]
        out.append(Observation(c, (c["a"] - 0.3) ** 2 + math.log10(c["b"]) ** 2 / 16 + (c["c"] != "y")))
    return out


def test_suggest_with_mcmc_hyperparameters_is_valid_deterministic_and_differs_from_map():
    history = _history()
    a = suggest("Bayesian", SPACE, history, [], 2, 7, hyperparameters="mcmc")
    b = suggest("Bayesian", SPACE, history, [], 2, 7, hyperparameters="mcmc")
    plain = suggest("Bayesian", SPACE, history, [], 2, 7, hyperparameters="map")
    assert a == b and all(SPACE.contains(c) for c in a)
    assert a != plain


def test_mcmc_falls_back_to_map_beyond_its_point_limit():
    history = _history(14)
    capped = suggest("Bayesian", SPACE, history, [], 1, 3, hyperparameters="mcmc", mcmc_max_points=10)
    assert capped == suggest("Bayesian", SPACE, history, [], 1, 3, hyperparameters="map")


def test_unknown_hyperparameter_mode_is_refused():
    with pytest.raises(ValueError, match="hyperparameters"):
        suggest("Bayesian", SPACE, _history(), [], 1, 0, hyperparameters="nuts")
