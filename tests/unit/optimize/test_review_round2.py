"""Issue 15 section 2: repeats on small discrete spaces, history that was silently ignored,
unknown range keys. Each test failed before its fix."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skytune.optimize import (
    Observation,
    SearchSpaceError,
    parse_space,
    suggest,
    usable_history,
    warm_start_report,
)

FAST_BO = {"n_candidates": 128, "n_local_per_scale": 16, "n_refine": 2, "n_fit_starts": 1}
INT_3x3 = parse_space({"IntegerParameterRanges": [
    {"Name": "a", "MinValue": "1", "MaxValue": "3"}, {"Name": "b", "MinValue": "1", "MaxValue": "3"}]})
CAT_3x3 = parse_space({"CategoricalParameterRanges": [
    {"Name": "c", "Values": ["r", "g", "b"]}, {"Name": "d", "Values": ["x", "y", "z"]}]})


def run_sequential(strategy, space, trials, seed=0, value=lambda c, i: float(i), **options):
    history = []
    for i in range(trials):
        config = suggest(strategy, space, history, [], 1, seed, **options)[0]
        history.append(Observation(config, value(config, i)))
    return [space.key(o.params) for o in history]


@pytest.mark.parametrize("space", [INT_3x3, CAT_3x3], ids=["integer", "categorical"])
def test_bayesian_never_repeats_a_point_before_a_3x3_space_is_exhausted(space):
    # before: the integer grid repeated (1, 2) at trial 3; the categorical one gave [ry, gz, ry, bx]
    keys = run_sequential("Bayesian", space, 9, **FAST_BO)
    assert len(set(keys)) == 9


@pytest.mark.parametrize("strategy", ["Random", "Sobol", "Hyperband"])
def test_model_free_strategies_never_repeat_before_the_space_is_exhausted(strategy):
    keys = run_sequential(strategy, INT_3x3, 9)
    assert len(set(keys)) == 9
    # exhausted: a tenth trial may repeat, but it still gets a point
    assert len(suggest(strategy, INT_3x3, [Observation(dict(zip("ab", k)), 1.0) for k in keys],
                       [], 1, 0)) == 1


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sizes=st.lists(st.integers(2, 4), min_size=1, max_size=3),
       strategy=st.sampled_from(["Bayesian", "Random", "Sobol"]), seed=st.integers(0, 2**31 - 1),
       pending=st.integers(0, 2))
def test_property_no_repeat_on_any_small_discrete_space(sizes, strategy, seed, pending):
    ranges = {"IntegerParameterRanges": [], "CategoricalParameterRanges": []}
    for j, size in enumerate(sizes):
        if j % 2:
            ranges["CategoricalParameterRanges"].append({"Name": f"p{j}", "Values": [str(v) for v in range(size)]})
        else:
            ranges["IntegerParameterRanges"].append({"Name": f"p{j}", "MinValue": "0", "MaxValue": str(size - 1)})
    space = parse_space(ranges)
    total = 1
    for size in sizes:
        total *= size
    history, running = [], []
    for i in range(total):
        config = suggest(strategy, space, history, running, 1, seed, **(FAST_BO if strategy == "Bayesian" else {}))[0]
        running.append(config)
        if len(running) > pending:  # keep up to ``pending`` trials in flight
            done = running.pop(0)
            history.append(Observation(done, float(hash(space.key(done)) % 97)))
    keys = [space.key(o.params) for o in history] + [space.key(c) for c in running]
    assert len(set(keys)) == total


def test_history_values_are_parsed_where_unambiguous_and_the_rest_reported():
    space = parse_space({
        "IntegerParameterRanges": [{"Name": "units", "MinValue": "1", "MaxValue": "10"}],
        "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.001", "MaxValue": "0.1"}],
        "CategoricalParameterRanges": [{"Name": "depth", "Values": ["1", "2"]}],
    })
    history = [
        Observation({"units": 4.0, "lr": 0.01, "depth": "1"}, 1.0, trial_id=1),
        Observation({"units": "4", "lr": "0.02", "depth": 2}, 2.0, trial_id=2),
        Observation({"units": " 5 ", "lr": "1e-2", "depth": "2"}, 3.0, trial_id=3),
        Observation({"units": 4.5, "lr": 0.01, "depth": "1"}, 4.0, trial_id=4),
        Observation({"units": 4, "lr": "fast", "depth": "1"}, 5.0, trial_id=5),
        Observation({"units": 4, "lr": 0.5, "depth": "1"}, 6.0, trial_id=6),
        Observation({"units": 4, "depth": "1"}, 7.0, trial_id=7),
    ]
    usable, dropped = usable_history(space, history)
    assert [o.params for o in usable] == [
        {"units": 4, "lr": 0.01, "depth": "1"}, {"units": 4, "lr": 0.02, "depth": "2"},
        {"units": 5, "lr": 0.01, "depth": "2"}]
    assert all(type(o.params["units"]) is int for o in usable)
    assert [(d.trial_id, d.reason) for d in dropped] == [
        (4, "units=4.5 is not an integer"), (5, "lr='fast' is not a number"),
        (6, "lr=0.5 is outside [0.001, 0.1]"), (7, "lr is missing")]


def test_bayesian_learns_from_string_and_float_history_instead_of_repeating_it():
    space = parse_space({"IntegerParameterRanges": [{"Name": "k", "MinValue": "1", "MaxValue": "3"}]})
    history = [Observation({"k": "1"}, 1.0), Observation({"k": 2.0}, 2.0)]
    # before: both were ignored (not ints), so the model saw nothing and could propose 1 or 2 again
    assert suggest("Bayesian", space, history, [], 1, 0, **FAST_BO) == [{"k": 3}]


def test_warm_start_reports_parent_trials_lacking_a_new_parameter():
    child = parse_space({"ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "0.001", "MaxValue": "0.1"},
        {"Name": "momentum", "MinValue": "0.1", "MaxValue": "0.9"}]})
    parents = [Observation({"lr": "0.01"}, 1.0, trial_id="parent trial 1")]
    mapped, dropped = warm_start_report(parents, child)
    assert mapped == [] and len(dropped) == 1
    assert dropped[0].trial_id == "parent trial 1" and "momentum is missing" in dropped[0].reason
    mapped, dropped = warm_start_report(parents, child, defaults={"momentum": "0.5"})
    assert dropped == [] and mapped[0].params == {"lr": 0.01, "momentum": 0.5}


@pytest.mark.parametrize("kind, spec, key", [
    ("ContinuousParameterRanges", {"Name": "lr", "MinValue": "0.1", "MaxValue": "1", "ScalingTyp": "Linear"}, "ScalingTyp"),
    ("IntegerParameterRanges", {"Name": "n", "MinValue": "1", "MaxValue": "4", "Condition": {"optimizer": "sgd"}}, "Condition"),
    ("CategoricalParameterRanges", {"Name": "act", "Values": ["a", "b"], "ScalingType": "Linear"}, "ScalingType"),
])
def test_unknown_keys_inside_a_range_are_refused_naming_the_key(kind, spec, key):
    with pytest.raises(SearchSpaceError) as error:
        parse_space({kind: [spec]})
    assert error.value.field == f"ParameterRanges.{kind}[0].{key}"
    assert repr(key) in error.value.message
