"""Round 7: the multi-objective/constrained strategy can use the single-objective model's round-6
choices (the mixture noise prior, winsorized objective values)."""

from __future__ import annotations

import numpy as np
import pytest

from skytune.optimize import parse_space
from skytune.optimize.bayesian import winsorize_outputs
from skytune.optimize.constraints import OutcomeConstraint
from skytune.optimize.extended import ExtendedOptions, Goal, Outcome, _Models, suggest_extended
from skytune.optimize.gp import Prior

SPACE = parse_space({"ContinuousParameterRanges": [
    {"Name": f"x{i}", "MinValue": "0", "MaxValue": "1"} for i in range(2)]})


def _history(rows: list[dict]) -> list[Outcome]:
    n = len(rows)
    return [Outcome({"x0": (i + 0.5) / n, "x1": ((7 * i) % n + 0.5) / n}, row) for i, row in enumerate(rows)]


# one diverged trial (f0 = 1e4) among values around 1: it sets f0's whole normalised scale
VALUES = [1.0, 1.2, 0.8, 1.1, 0.9, 1.3, 0.7, 1e4]
HISTORY = _history([{"f0": v, "f1": float(i), "latency": 100.0 * v} for i, v in enumerate(VALUES)])
GOALS = [Goal("f0"), Goal("f1")]


def _fitted_targets(models: _Models, j: int) -> np.ndarray:
    gp, mean, scale = models.objective_models[j]
    return gp.y * scale + mean  # what the GP was fitted on, back in normalised units


def test_winsorize_clips_what_the_objective_models_fit_and_nothing_else():
    plain = _Models(SPACE, HISTORY, HISTORY, GOALS, [], np.random.default_rng(0), ExtendedOptions())
    clipped = _Models(SPACE, HISTORY, HISTORY, GOALS, [], np.random.default_rng(0),
                      ExtendedOptions(output_transform="winsorize"))
    np.testing.assert_allclose(_fitted_targets(plain, 0), plain.y[:, 0])
    np.testing.assert_allclose(_fitted_targets(clipped, 0), winsorize_outputs(clipped.y[:, 0]))
    assert _fitted_targets(clipped, 0).max() < 0.01  # the outlier sits at the fence, not at 1.0
    # the data, the front and the reference point stay as observed
    np.testing.assert_array_equal(clipped.y, plain.y)
    np.testing.assert_array_equal(clipped._reference(clipped._front()), plain._reference(plain._front()))
    # an objective without outliers is fitted unchanged
    np.testing.assert_allclose(_fitted_targets(clipped, 1), clipped.y[:, 1])


def test_constraint_models_are_never_clipped():
    constraint = OutcomeConstraint("latency", "<=", 150.0)
    models = _Models(SPACE, HISTORY, HISTORY, [Goal("f0")], [constraint], np.random.default_rng(0),
                     ExtendedOptions(output_transform="winsorize"))
    gp, mean, scale = models.constraint_models[0]
    assert (gp.y * scale + mean).max() == pytest.approx(1e6)


def test_the_prior_reaches_every_fit():
    models = _Models(SPACE, HISTORY, HISTORY, GOALS, [], np.random.default_rng(0),
                     ExtendedOptions(prior=Prior(log_noise_mean=-2.0, log_noise_sd=0.01)))
    for gp, _, _ in models.objective_models:  # a prior this tight pins the fitted noise variance
        assert np.log(gp.noise) == pytest.approx(-2.0, abs=0.1)


def test_an_unknown_output_transform_is_refused():
    with pytest.raises(ValueError, match="output_transform"):
        suggest_extended(SPACE, HISTORY, [], 1, 0, objectives=GOALS, output_transform="log")
