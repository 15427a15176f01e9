"""Issue 15 section 2 at the request level: unknown range keys and non-numeric objective values
are 400s naming the field (before: accepted and ignored, or a bare TypeError)."""
from __future__ import annotations

import copy

import pytest

from skytune.errors import InvalidInput
from skytune.tuning.engine import objective_points
from skytune.tuning.spec import parse_request
from tests.unit.tuning.helpers import NATIVE, SAGEMAKER, body, job


@pytest.mark.parametrize(("kind", "key"), [("ContinuousParameterRanges", "ScalingTyp"),
                                            ("IntegerParameterRanges", "Condition")])
def test_an_unknown_key_inside_a_native_range_is_a_400_naming_it(kind, key):
    ranges = copy.deepcopy(NATIVE["parameter_ranges"])
    ranges[kind][0][key] = "Linear" if key == "ScalingTyp" else {"act": ["relu"]}
    with pytest.raises(InvalidInput) as caught:
        parse_request(body(parameter_ranges=ranges))
    assert caught.value.status == 400
    assert caught.value.field == f"parameter_ranges.{kind}[0].{key}"


def test_an_unknown_key_inside_a_sagemaker_range_names_it_as_sagemaker_does():
    request = copy.deepcopy(SAGEMAKER)
    request["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"][0]["ScalingTyp"] = "Linear"
    with pytest.raises(InvalidInput) as caught:
        parse_request(request)
    assert caught.value.field == "HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[0].ScalingTyp"


@pytest.mark.parametrize("value", [None, "0.9", [0.9], {"v": 1}, True])
def test_a_non_numeric_objective_value_is_a_400_naming_the_field(value):
    spec = job().spec
    with pytest.raises(InvalidInput) as caught:
        objective_points(spec, [{"name": "validation:accuracy", "value": 0.5, "step": 1},
                                {"name": "validation:accuracy", "value": value, "step": 2}])
    assert caught.value.field == "metrics[1].value"
    assert "validation:accuracy" in caught.value.message


def test_a_non_integer_step_is_a_400_naming_the_field():
    with pytest.raises(InvalidInput) as caught:
        objective_points(job().spec, [{"name": "validation:accuracy", "value": 0.5, "step": "two"}])
    assert caught.value.field == "metrics[0].step"
    assert objective_points(job().spec, [{"name": "validation:accuracy", "value": 1, "step": 3.0}]) == [(3, 1.0)]


def test_the_cli_summary_says_how_much_history_the_optimiser_ignored():
    from skytune.tuning.cli import summary

    job = {"HyperParameterTuningJobName": "child", "HyperParameterTuningJobStatus": "InProgress",
           "TrainingJobStatusCounters": {"Completed": 1, "InProgress": 0, "NonRetryableError": 0, "Stopped": 0}}
    assert "ignored-history" not in summary(job)
    job["IgnoredHistory"] = {"Count": 3, "Observations": []}
    assert summary(job).endswith(" ignored-history=3")


def test_a_lambda_trial_returning_a_non_numeric_objective_names_the_metric():
    from skytune.tuning.records import outcome_of_run

    outcome = outcome_of_run("lambda", {"Payload": {"metrics": {"validation:accuracy": "high", "loss": 0.1}}})
    assert outcome.final_metrics == {"loss": 0.1}
    assert outcome.rejected_metrics == {"validation:accuracy": "'high'"}
    outcome = outcome_of_run("sagemaker", {"TrainingJobStatus": "Completed", "FinalMetricDataList": [
        {"MetricName": "validation:accuracy", "Value": "n/a"}, {"MetricName": "loss", "Value": 0.2}]})
    assert outcome.final_metrics == {"loss": 0.2}  # before: float("n/a") raised in the record step
