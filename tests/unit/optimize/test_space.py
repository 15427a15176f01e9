import math

import numpy as np
import pytest

from skytune.optimize import SearchSpaceError, parse_space
from skytune.optimize.space import MAX_TUNABLE_PARAMETERS

RANGES = {
    "ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Logarithmic"},
        {"Name": "momentum", "MinValue": "0.9", "MaxValue": "0.999",
         "ScalingType": "ReverseLogarithmic"},
        {"Name": "dropout", "MinValue": "0", "MaxValue": "0.5"},
    ],
    "IntegerParameterRanges": [{"Name": "layers", "MinValue": "1", "MaxValue": "8"}],
    "CategoricalParameterRanges": [{"Name": "act", "Values": ["relu", "gelu", "tanh"]}],
}


def test_parses_amt_ranges_with_string_bounds_and_resolves_auto():
    space = parse_space(RANGES, {"epochs": "10"})
    assert space.names == ("lr", "momentum", "dropout", "layers", "act")
    lr, momentum, dropout, layers, act = space.parameters
    assert (lr.low, lr.high, lr.scaling) == (1e-4, 1.0, "Logarithmic")
    assert momentum.scaling == "ReverseLogarithmic"
    assert dropout.scaling == "Linear"  # Auto on a range that does not span 3 decades
    assert layers.is_integer and (layers.low, layers.high) == (1, 8)
    assert act.choices == ("relu", "gelu", "tanh")
    assert space.static == {"epochs": "10"}


def test_auto_scaling_is_logarithmic_for_wide_positive_ranges():
    space = parse_space({"ContinuousParameterRanges": [
        {"Name": "wd", "MinValue": "1e-6", "MaxValue": "1e-2", "ScalingType": "Auto"}]})
    assert space.parameters[0].scaling == "Logarithmic"


@pytest.mark.parametrize(("ranges", "field"), [
    ({"ContinuousParameterRanges": [{"Name": "a", "MinValue": "1", "MaxValue": "1"}]},
     "ParameterRanges.ContinuousParameterRanges[0].MaxValue"),
    ({"ContinuousParameterRanges": [{"Name": "a", "MinValue": "x", "MaxValue": "1"}]},
     "ParameterRanges.ContinuousParameterRanges[0].MinValue"),
    ({"ContinuousParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "1",
                                     "ScalingType": "Logarithmic"}]},
     "ParameterRanges.ContinuousParameterRanges[0].MinValue"),
    ({"ContinuousParameterRanges": [{"Name": "a", "MinValue": "0.5", "MaxValue": "1",
                                     "ScalingType": "ReverseLogarithmic"}]},
     "ParameterRanges.ContinuousParameterRanges[0].MaxValue"),
    ({"IntegerParameterRanges": [{"Name": "a", "MinValue": "1.5", "MaxValue": "4"}]},
     "ParameterRanges.IntegerParameterRanges[0].MinValue"),
    ({"IntegerParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "4",
                                  "ScalingType": "ReverseLogarithmic"}]},
     "ParameterRanges.IntegerParameterRanges[0].ScalingType"),
    ({"CategoricalParameterRanges": [{"Name": "a", "Values": ["x", "y", "x"]}]},
     "ParameterRanges.CategoricalParameterRanges[0].Values[2]"),
    ({"CategoricalParameterRanges": [{"Name": "a", "Values": []}]},
     "ParameterRanges.CategoricalParameterRanges[0].Values"),
    ({"ContinuousParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "1"}],
      "IntegerParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "3"}]},
     "ParameterRanges.IntegerParameterRanges[0].Name"),
    ({"ContinuousParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "1",
                                     "ScalingType": "Cubic"}]},
     "ParameterRanges.ContinuousParameterRanges[0].ScalingType"),
    ({"ContinuousParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "1",
                                     "NumberOfValues": "1"}]},
     "ParameterRanges.ContinuousParameterRanges[0].NumberOfValues"),
    ({}, "ParameterRanges"),
    ({"DiscreteRanges": []}, "ParameterRanges.DiscreteRanges"),
])
def test_invalid_ranges_name_the_offending_field(ranges, field):
    with pytest.raises(SearchSpaceError) as error:
        parse_space(ranges)
    assert error.value.field == field


def test_too_many_parameters_is_rejected():
    ranges = {"ContinuousParameterRanges": [
        {"Name": f"p{i}", "MinValue": "0", "MaxValue": "1"}
        for i in range(MAX_TUNABLE_PARAMETERS + 1)]}
    with pytest.raises(SearchSpaceError, match="at most"):
        parse_space(ranges)


def test_static_hyperparameter_cannot_shadow_a_tunable_one():
    with pytest.raises(SearchSpaceError) as error:
        parse_space(RANGES, {"lr": "0.1"})
    assert error.value.field == "StaticHyperParameters.lr"


def test_unit_encoding_round_trips_and_warps_log_scales():
    space = parse_space(RANGES)
    config = {"lr": 0.01, "momentum": 0.99, "dropout": 0.25, "layers": 5, "act": "gelu"}
    z = space.to_unit([config])[0]
    assert z[0] == pytest.approx(0.5)  # 0.01 is the log-midpoint of [1e-4, 1]
    assert z[2] == pytest.approx(0.5)
    assert z[3] == pytest.approx((5 - 0.5) / 8)  # integers own equal cells of [0.5, 8.5]
    decoded = space.from_unit(z[None, :])[0]
    assert decoded["act"] == "gelu" and decoded["layers"] == 5
    assert decoded["lr"] == pytest.approx(0.01) and decoded["momentum"] == pytest.approx(0.99)


def test_reverse_log_puts_resolution_near_one():
    space = parse_space({"ContinuousParameterRanges": [
        {"Name": "beta", "MinValue": "0.9", "MaxValue": "0.9999",
         "ScalingType": "ReverseLogarithmic"}]})
    # 1 - beta is log-uniform: the unit midpoint is 1 - sqrt(0.1 * 0.0001)
    mid = space.from_unit(np.array([[0.5]]))[0]["beta"]
    assert mid == pytest.approx(1 - math.sqrt(0.1 * 0.0001))


def test_features_are_one_hot_for_categoricals():
    space = parse_space(RANGES)
    x = space.to_features([{"lr": 1.0, "momentum": 0.9, "dropout": 0.0, "layers": 1,
                            "act": "tanh"}])
    assert x.shape == (1, 7)
    assert list(x[0, 4:]) == [0.0, 0.0, 1.0]
    assert x[0, 0] == pytest.approx(1.0) and x[0, 1] == pytest.approx(0.0)


def test_grid_values_need_a_step_or_count_for_continuous():
    space = parse_space({"ContinuousParameterRanges": [
        {"Name": "a", "MinValue": "1", "MaxValue": "100", "ScalingType": "Logarithmic",
         "NumberOfValues": 3},
        {"Name": "b", "MinValue": "0", "MaxValue": "1", "Step": "0.25"},
        {"Name": "c", "MinValue": "0", "MaxValue": "1"}]})
    a, b, c = space.parameters
    assert a.grid_values() == pytest.approx([1.0, 10.0, 100.0])
    assert b.grid_values() == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    with pytest.raises(SearchSpaceError, match="NumberOfValues or Step"):
        c.grid_values()
