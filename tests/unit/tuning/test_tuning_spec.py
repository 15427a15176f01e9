"""Tuning-job requests: both shapes, and every rule's 400 naming the field."""
from __future__ import annotations

import copy

import pytest

from skytune.errors import InvalidInput
from skytune.tuning import limits
from skytune.tuning.spec import parse_request, to_sagemaker_config
from tests.unit.tuning.helpers import NATIVE, SAGEMAKER, body


def rejected(request) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_request(request)
    return caught.value


def test_a_native_body_is_accepted_with_defaults():
    spec = parse_request(body())
    assert spec.strategy == "Bayesian" and spec.early_stopping == "Off" and spec.random_seed == 0
    assert spec.max_trials == 20 and spec.workers == 4
    assert spec.search_space().names == ("lr", "units", "act")
    assert spec.search_space().static == {"epochs": 5}


def test_a_sagemaker_create_request_is_accepted_as_is():
    spec = parse_request(SAGEMAKER)
    assert spec.name == "xgb-sm" and spec.strategy == "Bayesian"
    assert (spec.objective.metric_name, spec.objective.type) == ("validation:rmse", "Minimize")
    assert (spec.max_trials, spec.workers, spec.early_stopping) == (10, 2, "Auto")
    assert spec.completion_criteria.target_objective_metric_value == 0.1
    assert spec.completion_criteria.max_number_of_training_jobs_not_improving == 5
    assert spec.trial.runner == "sagemaker" and spec.trial.max_runtime_in_seconds == 3600
    assert spec.trial.static_hyperparameters == {"num_round": "100"}
    assert spec.trial.training_job_definition["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert "StaticHyperParameters" not in spec.trial.training_job_definition
    assert spec.tags == {"team": "ml"}
    config = to_sagemaker_config(spec)
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 2}
    assert config["TuningJobCompletionCriteria"]["BestObjectiveNotImproving"] == {"MaxNumberOfTrainingJobsNotImproving": 5}


@pytest.mark.parametrize(("changes", "field"), [
    ({"strategy": "Annealing"}, "strategy"),
    ({"objective.type": "Biggest"}, "objective.type"),
    ({"objective.metric_name": "val_loss"}, "objective.metric_name"),
    ({"resource_limits.max_number_of_training_jobs": limits.MAX_TRAINING_JOBS + 1}, "resource_limits.max_number_of_training_jobs"),
    ({"resource_limits.max_parallel_training_jobs": limits.MAX_PARALLEL_TRAINING_JOBS + 1}, "resource_limits.max_parallel_training_jobs"),
    ({"resource_limits.max_number_of_training_jobs": ...}, "resource_limits.max_number_of_training_jobs"),
    ({"resource_limits.max_runtime_in_seconds": 5}, "resource_limits.max_runtime_in_seconds"),
    ({"trial.command": []}, "trial.command"),
    ({"trial.metric_definitions": []}, "trial.metric_definitions"),
    ({"trial.runner": "lambda"}, "trial.function_name"),
    ({"trial.runner": "teleport"}, "trial.runner"),
    ({"trial.metric_definitions": [{"Name": "validation:accuracy", "Regex": "(?<=acc=)([0-9.]+)"}]}, "trial.metric_definitions[0].Regex"),
    ({"trial.static_hyperparameters": {"lr": 1}}, "trial.static_hyperparameters.lr"),
    ({"parameter_ranges": {"ContinuousParameterRanges": [{"Name": "lr", "MinValue": "1", "MaxValue": "0.1"}]}},
     "parameter_ranges.ContinuousParameterRanges[0].MaxValue"),
    ({"name": "bad name!"}, "name"),
    ({"unknown": 1}, "unknown"),
    ({"early_stopping": "Sometimes"}, "early_stopping"),
    ({"strategy": "Hyperband"}, "hyperband"),
    ({"hyperband": {"min_resource": 1, "max_resource": 9}}, "hyperband"),
])
def test_invalid_native_requests_name_the_field(changes, field):
    error = rejected(body(**changes))
    assert error.field == field, error.message
    assert error.status == 400


def test_grid_with_a_continuous_range_and_no_step_is_rejected_naming_the_range():
    error = rejected(body(strategy="Grid"))
    assert error.field == "parameter_ranges.ContinuousParameterRanges[0]"
    assert "NumberOfValues or Step" in error.message


def test_grid_budget_is_the_grid_size():
    ranges = copy.deepcopy(NATIVE["parameter_ranges"])
    ranges["ContinuousParameterRanges"][0]["NumberOfValues"] = 3
    spec = parse_request(body(strategy="Grid", parameter_ranges=ranges, **{"resource_limits.max_number_of_training_jobs": ...}))
    assert spec.max_trials == 3 * 57 * 2  # lr x units (8..64) x act


def test_hyperband_refuses_early_stopping_auto():
    error = rejected(body(strategy="Hyperband", hyperband={"min_resource": 1, "max_resource": 27}, early_stopping="Auto"))
    assert error.field == "early_stopping"


@pytest.mark.parametrize(("change", "field"), [
    (lambda b: b["HyperParameterTuningJobConfig"].update(Strategy="Annealing"), "HyperParameterTuningJobConfig.Strategy"),
    (lambda b: b["HyperParameterTuningJobConfig"]["ResourceLimits"].update(MaxParallelTrainingJobs=1000),
     "HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs"),
    (lambda b: b["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"].update(MetricName="auc"),
     "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.MetricName"),
    (lambda b: b["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"][0].update(MinValue="x"),
     "HyperParameterTuningJobConfig.ParameterRanges.ContinuousParameterRanges[0].MinValue"),
    (lambda b: b.pop("TrainingJobDefinition"), "TrainingJobDefinition"),
    (lambda b: b.update(TrainingJobDefinitions=[]), "TrainingJobDefinitions"),
])
def test_invalid_sagemaker_requests_name_the_field_as_sagemaker_does(change, field):
    request = copy.deepcopy(SAGEMAKER)
    change(request)
    assert rejected(request).field == field


def test_fingerprint_tells_identical_from_different_requests():
    assert parse_request(body()).fingerprint() == parse_request(body()).fingerprint()
    assert parse_request(body()).fingerprint() != parse_request(body(random_seed=1)).fingerprint()


def test_a_body_that_is_not_an_object_is_rejected():
    assert rejected([1, 2]).field == "body"


# -- size limits (issue 9 §1): each of these was accepted -------------------------------------------
def _integer_range(low, high, **extra):
    return {"IntegerParameterRanges": [{"Name": "units", "MinValue": low, "MaxValue": high, **extra}]}


@pytest.mark.parametrize(("low", "high", "key"), [(1, 1e29, "MaxValue"), (-(2**60), 5, "MinValue"),
                                                  ("1", str(10**30), "MaxValue")])
def test_integer_ranges_are_bounded(low, high, key):
    error = rejected(body(parameter_ranges=_integer_range(low, high)))
    assert error.field == f"parameter_ranges.IntegerParameterRanges[0].{key}"
    assert str(limits.INTEGER_RANGE_MAX_ABS) in error.message


def test_the_largest_integer_range_is_accepted():
    spec = parse_request(body(parameter_ranges=_integer_range(-limits.INTEGER_RANGE_MAX_ABS, limits.INTEGER_RANGE_MAX_ABS)))
    assert spec.search_space().names == ("units",)


def test_a_grid_of_20_by_1000001_points_is_refused_without_building_it():
    ranges = {"IntegerParameterRanges": [{"Name": "a", "MinValue": 1, "MaxValue": 20},
                                         {"Name": "b", "MinValue": 0, "MaxValue": 1_000_000}]}
    error = rejected(body(strategy="Grid", parameter_ranges=ranges,
                          **{"resource_limits.max_number_of_training_jobs": 10}))
    assert error.field == "parameter_ranges" and str(limits.GRID_MAX_POINTS) in error.message


@pytest.mark.parametrize("extra", [{"NumberOfValues": 10**9}, {"Step": 1e-12}])
def test_a_grid_bounded_by_count_or_step_is_counted_not_listed(extra):
    ranges = {"ContinuousParameterRanges": [{"Name": "lr", "MinValue": 0.1, "MaxValue": 0.9, **extra}]}
    error = rejected(body(strategy="Grid", parameter_ranges=ranges, **{"resource_limits.max_number_of_training_jobs": 5}))
    assert error.field == "parameter_ranges"


def test_a_grid_at_the_limit_is_accepted():
    ranges = {"IntegerParameterRanges": [{"Name": "a", "MinValue": 1, "MaxValue": 10},
                                         {"Name": "b", "MinValue": 1, "MaxValue": limits.GRID_MAX_POINTS // 10}]}
    spec = parse_request(body(strategy="Grid", parameter_ranges=ranges, **{"resource_limits.max_number_of_training_jobs": 5}))
    assert spec.max_trials == 5


def test_sagemaker_names_the_grid_and_range_fields_its_own_way():
    request = copy.deepcopy(SAGEMAKER)
    request["HyperParameterTuningJobConfig"]["ParameterRanges"] = {
        "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "1", "MaxValue": "1" + "0" * 29}]}
    error = rejected(request)
    assert error.field == "HyperParameterTuningJobConfig.ParameterRanges.IntegerParameterRanges[0].MaxValue"
