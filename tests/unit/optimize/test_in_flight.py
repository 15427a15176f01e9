"""Trials in flight integrated over joint draws of their values (``in_flight="fantasies"``)."""

import math

import numpy as np
import pytest

from skytune.optimize import suggest
from skytune.optimize.bayesian import _Acquisition
from skytune.optimize.gp import FantasyGP

from .test_bayesian import BRANIN_SPACE, _distance, _ensemble, _history, assert_gradient_is_exact


def _single():
    ensemble, x, y = _ensemble()
    return ensemble.members[0]


@pytest.mark.parametrize("make", [_single, lambda: _ensemble()[0]], ids=["one GP", "ensemble"])
def test_each_draw_is_the_model_conditioned_on_that_draw(make):
    base = make()
    members = getattr(base, "members", [base])
    pending = np.array([[0.3, 0.6], [0.31, 0.58], [0.9, 0.1]])  # two close: a near-singular draw
    fantasy = FantasyGP(base, pending, np.random.default_rng(3), 8)
    xs = np.random.default_rng(4).random((30, 2))
    means, variances = fantasy.predict_draws(xs)
    assert means.shape == variances.shape == (8, 30)

    # replay the draws: member k mod M's joint posterior, then every member conditioned on them
    rng = np.random.default_rng(3)
    for k in range(8):
        mean, cov = members[k % len(members)].joint_posterior(pending)
        cov[np.diag_indices(3)] += 1e-9
        try:
            factor = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            values, vectors = np.linalg.eigh(cov)
            factor = vectors * np.sqrt(np.maximum(values, 0.0))
        draw = mean + factor @ rng.standard_normal(3)
        conditioned = base.condition_on(pending, draw)
        expected_mean, expected_var = conditioned.predict(xs)
        assert np.allclose(means[k], expected_mean, atol=1e-8)
        assert np.allclose(variances[k], expected_var, atol=1e-8)
        assert math.isclose(fantasy.incumbents[k],
                            float(np.min(conditioned.predict(conditioned.x)[0])), abs_tol=1e-8)
    # the draws differ (not the believer's one value) and the believer is what predict returns
    assert np.ptp(means[:, 0]) > 1e-3
    believer = base.condition_on(pending, base.predict(pending)[0])
    assert np.allclose(fantasy.predict(xs)[0], believer.predict(xs)[0])


@pytest.mark.parametrize("kind", ["ei", "pi"])
def test_the_acquisition_is_the_log_of_the_mean_over_draws_with_its_exact_gradient(kind):
    base = _ensemble()[0]
    fantasy = FantasyGP(base, np.array([[0.5, 0.5], [0.2, 0.8]]), np.random.default_rng(0), 16)
    acquisition = _Acquisition(kind, 0.0, 2.0)
    xs = np.random.default_rng(5).random((40, 2))
    means, variances = fantasy.predict_draws(xs)
    per_draw = np.stack([np.exp(_Acquisition(kind, best, 2.0)(m, v))
                         for m, v, best in zip(means, variances, fantasy.incumbents)])
    assert np.allclose(acquisition.score(fantasy, xs), np.log(per_draw.mean(axis=0)))
    assert_gradient_is_exact(acquisition, fantasy, xs[:5])


def test_fantasies_change_only_suggestions_made_with_trials_in_flight():
    completed = _history(12)
    alone = suggest("Bayesian", BRANIN_SPACE, completed, [], 1, seed=0)
    # nothing in flight: the same pick, bit for bit
    assert suggest("Bayesian", BRANIN_SPACE, completed, [], 1, seed=0, in_flight="fantasies") == alone
    with_pending = suggest("Bayesian", BRANIN_SPACE, completed, alone, 1, seed=0, in_flight="fantasies")[0]
    assert _distance(alone[0], with_pending) > 0.02  # not the trial in flight again
    differ = [suggest("Bayesian", BRANIN_SPACE, completed[:n], alone, 1, seed=0, in_flight="fantasies")
              != suggest("Bayesian", BRANIN_SPACE, completed[:n], alone, 1, seed=0) for n in (6, 8, 10, 12)]
    assert any(differ)
    batch = suggest("Bayesian", BRANIN_SPACE, completed, [], 4, seed=0, in_flight="fantasies")
    assert batch[0] == alone[0]
    gaps = [_distance(a, b) for i, a in enumerate(batch) for b in batch[i + 1:]]
    assert min(gaps) > 0.02

