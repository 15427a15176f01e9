from skytune.optimize import Observation, parse_space, suggest, warm_start

SPACE = parse_space({
    "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.001", "MaxValue": "0.1",
                                   "ScalingType": "Logarithmic"}],
    "IntegerParameterRanges": [{"Name": "layers", "MinValue": "2", "MaxValue": "6"}],
    "CategoricalParameterRanges": [{"Name": "act", "Values": ["relu", "gelu"]}],
}, {"epochs": "5"})


def test_identical_space_keeps_observations_and_parses_amt_strings():
    parent = [Observation({"lr": "0.01", "layers": "3", "act": "relu"}, 0.5, trial_id="p1")]
    mapped = warm_start(parent, SPACE)
    assert mapped == [Observation({"epochs": "5", "lr": 0.01, "layers": 3, "act": "relu"}, 0.5,
                                  trial_id="p1")]
    assert SPACE.contains(mapped[0].params)


def test_changed_ranges_are_clipped_or_dropped():
    parent = [Observation({"lr": 0.5, "layers": 9, "act": "gelu"}, 0.1)]
    clipped = warm_start(parent, SPACE)[0].params
    assert (clipped["lr"], clipped["layers"]) == (0.1, 6)
    assert warm_start(parent, SPACE, out_of_range="drop") == []


def test_new_parameters_need_a_default_and_removed_ones_are_ignored():
    parent = [{"params": {"lr": 0.01, "act": "relu", "momentum": 0.9}, "value": 0.3}]
    assert warm_start(parent, SPACE) == []
    mapped = warm_start(parent, SPACE, defaults={"layers": 4})
    assert mapped[0].params == {"epochs": "5", "lr": 0.01, "layers": 4, "act": "relu"}


def test_unknown_category_drops_the_observation():
    assert warm_start([Observation({"lr": 0.01, "layers": 3, "act": "tanh"}, 1.0)], SPACE) == []


def test_warm_started_bayesian_skips_its_initial_design():
    parents = [Observation({"lr": lr, "layers": k, "act": a}, abs(lr - 0.01) + 0.1 * k)
               for lr, k, a in [(0.001, 2, "relu"), (0.1, 6, "gelu"), (0.01, 3, "relu"),
                                (0.03, 4, "gelu"), (0.005, 5, "relu")]]
    mapped = warm_start(parents, SPACE)
    pick = suggest("Bayesian", SPACE, mapped, [], 1, seed=0)[0]
    sobol_next = suggest("Sobol", SPACE, mapped, [], 1, seed=0)[0]
    assert pick != sobol_next
    assert SPACE.contains(pick)
