"""Issue 15 section 3, the optimiser parts: Pareto fronts and hypervolumes, conditional ranges
(parsing, activity, the arc embedding), outcome constraints, and the extended Bayesian strategy."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skytune.optimize import SearchSpaceError, parse_space, suggest
from skytune.optimize.conditional import embed
from skytune.optimize.constraints import OutcomeConstraint, is_feasible, log_probability_of_feasibility
from skytune.optimize.extended import Goal, Outcome, suggest_extended
from skytune.optimize.multiobjective import (
    hypervolume,
    hypervolume_improvement_mc,
    pareto_mask,
    uniform_box_points,
)

points = st.lists(st.tuples(*[st.floats(0, 1, allow_nan=False)] * 3), min_size=1, max_size=12).map(np.array)
points2 = st.lists(st.tuples(*[st.floats(0, 1, allow_nan=False)] * 2), min_size=1, max_size=12).map(np.array)


def _dominates(a, b):
    return bool(np.all(a <= b) and np.any(a < b))


# ----- Pareto fronts and hypervolume ---------------------------------------------------------------
@settings(deadline=None, derandomize=True)
@given(points)
def test_pareto_mask_keeps_exactly_the_non_dominated_points(y):
    mask = pareto_mask(y)
    for i in range(len(y)):
        dominated = any(_dominates(y[j], y[i]) for j in range(len(y)))
        assert mask[i] == (not dominated)


@settings(deadline=None, derandomize=True)
@given(points, st.tuples(*[st.floats(0, 1, allow_nan=False)] * 3).map(np.array))
def test_hypervolume_never_decreases_when_a_point_is_added(y, extra):
    ref = np.full(3, 1.1)
    assert hypervolume(np.vstack([y, extra]), ref) >= hypervolume(y, ref) - 1e-12


@settings(deadline=None, derandomize=True)
@given(points)
def test_hypervolume_is_bounded_by_the_union_of_boxes_and_each_box(y):
    ref = np.full(3, 1.1)
    volume = hypervolume(y, ref)
    boxes = np.prod(ref - y, axis=1)
    assert boxes.max() - 1e-12 <= volume <= boxes.sum() + 1e-12


@settings(deadline=None, derandomize=True)
@given(points2)
def test_hypervolume_in_3d_with_a_flat_objective_equals_the_2d_one(y):
    flat = np.column_stack([y, np.zeros(len(y))])
    assert hypervolume(flat, np.array([1.1, 1.1, 2.0])) == pytest.approx(2.0 * hypervolume(y, np.array([1.1, 1.1])))


def test_hypervolume_known_values():
    ref = np.array([1.0, 1.0])
    assert hypervolume(np.array([[0.5, 0.5]]), ref) == pytest.approx(0.25)
    assert hypervolume(np.array([[0.0, 0.5], [0.5, 0.0]]), ref) == pytest.approx(0.75)
    # a dominated point and a point outside the reference add nothing
    assert hypervolume(np.array([[0.0, 0.5], [0.5, 0.0], [0.6, 0.6], [2.0, -1.0]]), ref) == pytest.approx(0.75)
    # 3-D: the inclusion-exclusion of two boxes
    y = np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.0]])
    assert hypervolume(y, np.ones(3)) == pytest.approx(0.25 + 0.5 - 0.125)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(points, st.tuples(*[st.floats(0, 1, allow_nan=False)] * 3).map(np.array))
def test_monte_carlo_improvement_matches_the_exact_one(front, candidate):
    ref, lower = np.full(3, 1.1), np.zeros(3)
    box = uniform_box_points(lower, ref, 40000, np.random.default_rng(0))
    front = front[pareto_mask(front)]
    exact = hypervolume(np.vstack([front, candidate]), ref) - hypervolume(front, ref)
    estimate = hypervolume_improvement_mc(candidate[None, :], front, ref, box, float(np.prod(ref - lower)))[0]
    assert estimate == pytest.approx(exact, abs=0.02)


# ----- conditional ranges --------------------------------------------------------------------------
RANGES = {
    "CategoricalParameterRanges": [{"Name": "optimizer", "Values": ["sgd", "adam"]}],
    "ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "0.0001", "MaxValue": "0.1", "ScalingType": "Logarithmic"},
        {"Name": "momentum", "MinValue": "0", "MaxValue": "0.99", "Conditions": [{"Parameter": "optimizer", "Values": ["sgd"]}]},
        {"Name": "nesterov_gamma", "MinValue": "0", "MaxValue": "1",
         "Conditions": [{"Parameter": "optimizer", "Values": ["sgd"]}, {"Parameter": "n_layers", "MaxValue": 2}]}],
    "IntegerParameterRanges": [
        {"Name": "n_layers", "MinValue": "1", "MaxValue": "3"},
        {"Name": "units_2", "MinValue": "8", "MaxValue": "64", "Conditions": [{"Parameter": "n_layers", "MinValue": 2}]},
        {"Name": "units_3", "MinValue": "8", "MaxValue": "64", "Conditions": [{"Parameter": "n_layers", "MinValue": 3}]}],
}
SPACE = parse_space(RANGES)


def _valid(config):
    sgd = config["optimizer"] == "sgd"
    return (("momentum" in config) == sgd and ("nesterov_gamma" in config) == (sgd and config["n_layers"] <= 2)
            and ("units_2" in config) == (config["n_layers"] >= 2) and ("units_3" in config) == (config["n_layers"] >= 3))


@settings(deadline=None, derandomize=True)
@given(st.lists(st.lists(st.floats(0, 1), min_size=SPACE.dimension, max_size=SPACE.dimension), min_size=1, max_size=20))
def test_decoded_points_carry_exactly_their_active_parameters(rows):
    for config in SPACE.from_unit(np.array(rows)):
        assert _valid(config), config
        assert SPACE.contains(config)


def test_coerce_drops_inactive_values_and_needs_active_ones():
    config = SPACE.coerce({"optimizer": "adam", "lr": "0.01", "momentum": 0.5, "n_layers": "1"})
    assert config == {"optimizer": "adam", "lr": 0.01, "n_layers": 1}  # momentum is inactive for adam
    with pytest.raises(ValueError, match="momentum is missing"):
        SPACE.coerce({"optimizer": "sgd", "lr": 0.01, "n_layers": 3, "units_2": 8, "units_3": 8})
    # inactive values never make two configurations different
    a = {"optimizer": "adam", "lr": 0.01, "n_layers": 1}
    assert SPACE.key(a) == SPACE.key({**a, "momentum": 0.3, "units_3": 9})
    assert not SPACE.contains({**a, "momentum": 0.3})


@pytest.mark.parametrize("ranges, field", [
    ({"ContinuousParameterRanges": [{"Name": "m", "MinValue": 0, "MaxValue": 1,
                                     "Conditions": [{"Parameter": "opt", "Values": ["sgd"]}]}]},
     "ParameterRanges.ContinuousParameterRanges[0].Conditions[0].Parameter"),
    ({"CategoricalParameterRanges": [{"Name": "opt", "Values": ["sgd"]}],
      "ContinuousParameterRanges": [{"Name": "m", "MinValue": 0, "MaxValue": 1,
                                     "Conditions": [{"Parameter": "opt", "Values": ["adam"]}]}]},
     "ParameterRanges.ContinuousParameterRanges[0].Conditions[0].Values[0]"),
    ({"CategoricalParameterRanges": [{"Name": "opt", "Values": ["sgd"]}],
      "ContinuousParameterRanges": [{"Name": "m", "MinValue": 0, "MaxValue": 1,
                                     "Conditions": [{"Parameter": "opt", "MinValue": 2}]}]},
     "ParameterRanges.ContinuousParameterRanges[0].Conditions[0].Parameter"),
    ({"ContinuousParameterRanges": [{"Name": "m", "MinValue": 0, "MaxValue": 1, "Conditions": [{"Parameter": "m", "MinValue": 1}]}]},
     "ParameterRanges.ContinuousParameterRanges[0].Conditions[0].Parameter"),
    ({"IntegerParameterRanges": [{"Name": "a", "MinValue": 0, "MaxValue": 3, "Conditions": [{"Parameter": "b", "MinValue": 1}]},
                                 {"Name": "b", "MinValue": 0, "MaxValue": 3, "Conditions": [{"Parameter": "a", "MinValue": 1}]}]},
     "ParameterRanges.IntegerParameterRanges[0].Conditions"),
    ({"IntegerParameterRanges": [{"Name": "n", "MinValue": 1, "MaxValue": 3},
                                 {"Name": "u", "MinValue": 1, "MaxValue": 3, "Conditions": [{"Parameter": "n", "MinValue": 5}]}]},
     "ParameterRanges.IntegerParameterRanges[1].Conditions[0]"),
    ({"IntegerParameterRanges": [{"Name": "n", "MinValue": 1, "MaxValue": 3},
                                 {"Name": "u", "MinValue": 1, "MaxValue": 3, "Conditions": [{"Parameter": "n", "MinValue": 1.5}]}]},
     "ParameterRanges.IntegerParameterRanges[1].Conditions[0].MinValue"),
    ({"IntegerParameterRanges": [{"Name": "n", "MinValue": 1, "MaxValue": 3},
                                 {"Name": "u", "MinValue": 1, "MaxValue": 3, "Conditions": [{"Parameter": "n", "Value": 2}]}]},
     "ParameterRanges.IntegerParameterRanges[1].Conditions[0].Value"),
    ({"IntegerParameterRanges": [{"Name": "n", "MinValue": 1, "MaxValue": 3},
                                 {"Name": "u", "MinValue": 1, "MaxValue": 3, "Conditions": []}]},
     "ParameterRanges.IntegerParameterRanges[1].Conditions"),
    ({"IntegerParameterRanges": [{"Name": "n", "MinValue": 1, "MaxValue": 3, "Condition": {"Parameter": "x"}}]},
     "ParameterRanges.IntegerParameterRanges[0].Condition"),
])
def test_bad_conditions_are_refused_naming_the_field(ranges, field):
    with pytest.raises(SearchSpaceError) as error:
        parse_space(ranges)
    assert error.value.field == field


@settings(deadline=None, derandomize=True)
@given(st.floats(0, 0.99), st.floats(0, 0.99), st.floats(0.0001, 0.1), st.sampled_from([8, 30, 64]))
def test_arc_embedding_inactive_dimensions_are_a_constant_not_an_imputed_value(m1, m2, lr, units):
    adam = {"optimizer": "adam", "lr": lr, "n_layers": 1}
    rows = embed(SPACE, [adam, {**adam, "momentum": m1, "units_2": units}, {**adam, "optimizer": "sgd", "momentum": m1,
                                                                             "nesterov_gamma": 0.5},
                         {**adam, "optimizer": "sgd", "momentum": m2, "nesterov_gamma": 0.5}])
    assert np.array_equal(rows[0], rows[1])  # values of inactive parameters are invisible
    momentum = slice(3, 5)  # optimizer one-hot (2), lr (1), momentum arc (2)
    assert np.all(rows[0, momentum] == 0.0)
    # active vs inactive: the same distance whatever the active value (the arc's radius)
    assert np.linalg.norm(rows[2, momentum]) == pytest.approx(np.linalg.norm(rows[3, momentum])) == pytest.approx(2 / math.pi)


def test_random_and_sobol_strategies_respect_conditions():
    for strategy in ("Random", "Sobol"):
        picks = suggest(strategy, SPACE, [], [], 32, seed=5)
        assert all(_valid(p) for p in picks)
        assert len({SPACE.key(p) for p in picks}) == 32


# ----- constraints ---------------------------------------------------------------------------------
def test_feasibility_needs_every_constrained_metric():
    constraints = [OutcomeConstraint("latency", "<=", 50), OutcomeConstraint("accuracy", ">=", 0.9)]
    assert is_feasible(constraints, {"latency": 50, "accuracy": 0.9})
    assert not is_feasible(constraints, {"latency": 50.1, "accuracy": 0.95})
    assert not is_feasible(constraints, {"latency": 10})  # never reported accuracy
    assert not is_feasible(constraints, {"latency": float("nan"), "accuracy": 1})


@settings(deadline=None, derandomize=True)
@given(st.floats(-10, 10), st.floats(0.01, 5))
def test_probability_of_feasibility_is_monotone_in_the_mean(mean, sd):
    c = OutcomeConstraint("latency", "<=", 0.0)
    lower, higher = log_probability_of_feasibility(c, np.array([mean, mean + 1]), np.array([sd**2, sd**2]))
    assert lower >= higher and lower <= 0.0
    flipped = log_probability_of_feasibility(OutcomeConstraint("latency", ">=", 0.0), np.array([mean]), np.array([sd**2]))
    assert math.exp(flipped[0]) + math.exp(lower) == pytest.approx(1.0, abs=1e-6)


# ----- the extended strategy ---------------------------------------------------------------------
BOX = parse_space({"ContinuousParameterRanges": [{"Name": "x", "MinValue": 0, "MaxValue": 1},
                                                 {"Name": "y", "MinValue": 0, "MaxValue": 1}]})


def _two_objectives(c):
    return {"f1": c["x"], "f2": (1 + c["y"]) * (1 - math.sqrt(c["x"]))}


@pytest.mark.parametrize("acquisition", ["ehvi", "parego"])
def test_multi_objective_suggestions_are_deterministic_distinct_and_beat_random(acquisition):
    goals = [Goal("f1"), Goal("f2")]
    history = []
    for _ in range(14):
        (config,) = suggest_extended(BOX, history, [], 1, 11, objectives=goals, acquisition=acquisition)
        history.append(Outcome(config, _two_objectives(config)))
    again = suggest_extended(BOX, history, [], 2, 11, objectives=goals, acquisition=acquisition)
    assert again == suggest_extended(BOX, history, [], 2, 11, objectives=goals, acquisition=acquisition)
    keys = [BOX.key(o.params) for o in history] + [BOX.key(c) for c in again]
    assert len(set(keys)) == len(keys)
    ref = np.array([1.1, 2.1])
    ours = hypervolume(np.array([[o.metrics["f1"], o.metrics["f2"]] for o in history]), ref)
    rng = np.random.default_rng(11)
    randoms = [hypervolume(np.array([list(_two_objectives(c).values()) for c in BOX.from_unit(rng.random((14, 2)))]), ref)
               for _ in range(10)]
    assert ours > np.mean(randoms)


def test_constraints_steer_suggestions_to_the_feasible_region():
    goal, constraint = [Goal("loss")], [OutcomeConstraint("latency", "<=", 40.0)]
    history = []
    for _ in range(14):
        (config,) = suggest_extended(BOX, history, [], 1, 2, objectives=goal, constraints=constraint)
        # the unconstrained optimum (x = 1) is infeasible: latency = 100 x
        history.append(Outcome(config, {"loss": (1 - config["x"]) ** 2 + 0.1 * config["y"], "latency": 100 * config["x"]}))
    # after the initial design it searches along the boundary (x = 0.4), not at the
    # unconstrained optimum x = 1
    later = history[6:]
    assert sum(o.metrics["latency"] <= 45 for o in later) >= len(later) - 2
    best = min((o for o in history if o.metrics["latency"] <= 40), key=lambda o: o.metrics["loss"])
    assert best.metrics["loss"] < 0.39  # the constrained optimum is 0.36 (x = 0.4, y = 0)


def test_failed_trials_and_pending_ones_are_handled():
    goals = [Goal("f1"), Goal("f2", "Maximize")]
    history = [Outcome(c, {"f1": c["x"], "f2": c["y"]}) for c in BOX.from_unit(np.random.default_rng(1).random((6, 2)))]
    history.append(Outcome({"x": 0.5, "y": 0.5}, {}, failed=True))
    pending = [{"x": 0.1, "y": 0.9}]
    picks = suggest_extended(BOX, history, pending, 3, 4, objectives=goals)
    taken = {BOX.key(o.params) for o in history} | {BOX.key(pending[0])}
    assert len(picks) == 3 and not {BOX.key(p) for p in picks} & taken


def test_conditional_bayesian_finds_the_better_branch():
    def loss(c):
        value = abs(math.log10(c["lr"]) + 2)
        value += abs(c["momentum"] - 0.9) if c["optimizer"] == "sgd" else 0.4
        return value + (0.02 * c["units_2"] / 64 if "units_2" in c else 0.1)

    history = []
    for _ in range(20):
        (config,) = suggest_extended(SPACE, history, [], 1, 3, objectives=[Goal("loss")])
        assert _valid(config)
        history.append(Outcome(config, {"loss": loss(config)}))
    best = min(history, key=lambda o: o.metrics["loss"])
    assert best.params["optimizer"] == "sgd" and best.metrics["loss"] < 0.5


def test_small_discrete_conditional_space_is_exhausted_without_repeats():
    space = parse_space({"CategoricalParameterRanges": [{"Name": "a", "Values": ["p", "q"]}],
                         "IntegerParameterRanges": [{"Name": "b", "MinValue": 1, "MaxValue": 2,
                                                     "Conditions": [{"Parameter": "a", "Values": ["q"]}]}]})
    history = []
    for _ in range(3):  # the space has 3 points: (p), (q, 1), (q, 2)
        (config,) = suggest_extended(space, history, [], 1, 0, objectives=[Goal("v")], n_initial=1)
        history.append(Outcome(config, {"v": float(len(history))}))
    expected = [{"a": "p"}, {"a": "q", "b": 1}, {"a": "q", "b": 2}]
    assert {space.key(o.params) for o in history} == {space.key(c) for c in expected}
