import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skytune.optimize import Observation, grid_size, parse_space, suggest

MIXED = {
    "ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "1e-5", "MaxValue": "1", "ScalingType": "Logarithmic"},
        {"Name": "beta", "MinValue": "0.5", "MaxValue": "0.999",
         "ScalingType": "ReverseLogarithmic"},
    ],
    "IntegerParameterRanges": [{"Name": "layers", "MinValue": "1", "MaxValue": "6"}],
    "CategoricalParameterRanges": [{"Name": "act", "Values": ["relu", "gelu", "tanh"]}],
}
SPACE = parse_space(MIXED, {"epochs": "3"})


def objective(c):
    return ((math.log10(c["lr"]) + 2) ** 2 + 0.2 * (c["layers"] - 3) ** 2
            + {"relu": 0.3, "gelu": 0.0, "tanh": 0.8}[c["act"]] + (1 - c["beta"]))


def history(n, seed=0, failures=()):
    configs = SPACE.from_unit(np.random.default_rng(seed).random((n, SPACE.dimension)))
    return [Observation(c, None if i in failures else objective(c))
            for i, c in enumerate(configs)]


def assert_in_space(config):
    assert SPACE.contains(config), config
    assert isinstance(config["lr"], float) and isinstance(config["beta"], float)
    assert type(config["layers"]) is int and isinstance(config["act"], str)
    assert config["epochs"] == "3"  # static hyperparameters pass through untouched


FAST_BO = {"n_candidates": 128, "n_local_per_scale": 16, "n_refine": 2, "n_fit_starts": 1}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategy=st.sampled_from(["Random", "Sobol", "Bayesian", "Hyperband"]),
       n_completed=st.integers(0, 12), n_pending=st.integers(0, 3), n=st.integers(1, 3),
       seed=st.integers(0, 2**31 - 1), objective_sense=st.sampled_from(["Minimize", "Maximize"]))
def test_every_suggestion_lies_in_the_space_and_is_reproducible(
        strategy, n_completed, n_pending, n, seed, objective_sense):
    completed = history(n_completed, seed % 97, failures={1})
    pending = SPACE.from_unit(np.random.default_rng(seed + 1).random((n_pending, 4)))
    options = FAST_BO if strategy == "Bayesian" else {}
    first = suggest(strategy, SPACE, completed, pending, n, seed, objective=objective_sense,
                    **options)
    again = suggest(strategy, SPACE, completed, pending, n, seed, objective=objective_sense,
                    **options)
    assert len(first) == n
    for config in first:
        assert_in_space(config)
    assert first == again


def test_successive_random_calls_with_one_job_seed_do_not_repeat():
    a = suggest("Random", SPACE, [], [], 2, seed=5)
    b = suggest("Random", SPACE, history(2), [], 2, seed=5)
    assert a != b


def test_sobol_continues_its_sequence_from_the_history_length():
    whole = suggest("Sobol", SPACE, [], [], 6, seed=1)
    tail = suggest("Sobol", SPACE, history(4), [], 2, seed=1)
    assert tail == whole[4:]


# ----- Grid ------------------------------------------------------------------------------------
GRID_SPACE = parse_space({
    "IntegerParameterRanges": [{"Name": "layers", "MinValue": "1", "MaxValue": "3"}],
    "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.001", "MaxValue": "0.1",
                                   "ScalingType": "Logarithmic", "NumberOfValues": "3"}],
    "CategoricalParameterRanges": [{"Name": "opt", "Values": ["sgd", "adam"]}],
})


@settings(max_examples=25, deadline=None)
@given(order=st.permutations(range(18)), n_done=st.integers(0, 18), n_pending=st.integers(0, 4))
def test_grid_never_repeats_completed_or_pending_points(order, n_done, n_pending):
    everything = suggest("Grid", GRID_SPACE, [], [], 100, seed=0)
    done = [Observation(everything[i], 1.0) for i in order[:n_done]]
    running = [everything[i] for i in order[n_done:n_done + n_pending]]
    picks = suggest("Grid", GRID_SPACE, done, running, 100, seed=0)
    key = lambda c: (c["layers"], round(c["lr"], 9), c["opt"])  # noqa: E731
    taken = {key(o.params) for o in done} | {key(c) for c in running}
    assert len(picks) == 18 - len(taken)
    assert not taken & {key(c) for c in picks}
    assert len({key(c) for c in picks}) == len(picks)


def test_grid_covers_every_combination_then_runs_dry():
    assert grid_size(GRID_SPACE) == 18
    everything = suggest("Grid", GRID_SPACE, [], [], 100, seed=0)
    assert len(everything) == 18
    assert sorted({c["lr"] for c in everything}) == pytest.approx([0.001, 0.01, 0.1])
    done = [Observation(c, 0.0) for c in everything]
    assert suggest("Grid", GRID_SPACE, done, [], 5, seed=0) == []


def test_unknown_strategy_and_objective_are_rejected():
    with pytest.raises(ValueError, match="strategy"):
        suggest("Annealing", SPACE, [], [], 1, 0)
    with pytest.raises(ValueError, match="objective"):
        suggest("Random", SPACE, [], [], 1, 0, objective="Minimise")
