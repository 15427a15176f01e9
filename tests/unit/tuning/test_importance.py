"""Hyperparameter importance (fANOVA-style main effects on a numpy random forest)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from skytune.optimize.space import parse_space
from skytune.tuning.importance import importance

SPACE = parse_space({
    "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Logarithmic"},
                                  {"Name": "dropout", "MinValue": "0", "MaxValue": "0.5"}],
    "IntegerParameterRanges": [{"Name": "layers", "MinValue": "1", "MaxValue": "8"}],
    "CategoricalParameterRanges": [{"Name": "opt", "Values": ["adam", "sgd"]}],
})


def _trials(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    configs = [{"lr": float(10 ** rng.uniform(-4, 0)), "dropout": float(rng.uniform(0, 0.5)),
                "layers": int(rng.integers(1, 9)), "opt": str(rng.choice(["adam", "sgd"]))} for _ in range(n)]
    return configs


def test_the_parameter_that_drives_the_objective_ranks_first_and_a_noise_one_last():
    configs = _trials(80)
    # lr (on its log scale) explains most, opt some, layers a little, dropout nothing
    y = [-(np.log10(c["lr"]) + 2) ** 2 + (0.8 if c["opt"] == "adam" else 0.0) + 0.05 * c["layers"] for c in configs]
    result = importance(SPACE, configs, y)
    shares = result["importances"]
    assert list(shares)[0] == "lr" and shares["lr"] > 0.6
    assert shares["opt"] > shares["dropout"] and shares["layers"] > shares["dropout"]
    assert shares["dropout"] < 0.05
    assert abs(sum(shares.values()) - 1) < 1e-5
    assert result["trials"] == 80 and result["method"] == "fanova-forest"


def test_deterministic_for_a_seed():
    configs = _trials(30)
    y = [c["dropout"] * 3 + c["layers"] for c in configs]
    assert importance(SPACE, configs, y) == importance(SPACE, configs, y)


def test_no_importances_without_enough_trials_or_variation():
    configs = _trials(10)
    assert importance(SPACE, configs[:2], [1.0, 2.0])["importances"] == {}
    assert importance(SPACE, configs, [0.5] * 10)["importances"] == {}


@settings(max_examples=25, deadline=None)
@given(st.integers(3, 40), st.integers(0, 2**31 - 1))
def test_shares_are_a_distribution_over_the_tuned_parameters(n, seed):
    configs = _trials(n, seed)
    y = list(np.random.default_rng(seed).normal(size=n))
    shares = importance(SPACE, configs, y, seed=seed)["importances"]
    if shares:
        assert set(shares) <= {"lr", "dropout", "layers", "opt"}
        assert all(v >= 0 for v in shares.values())
        assert abs(sum(shares.values()) - 1) < 1e-5
        assert list(shares.values()) == sorted(shares.values(), reverse=True)
