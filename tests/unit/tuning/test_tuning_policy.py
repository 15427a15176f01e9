"""The deployment's trial policy (issue 10): training roles, Lambda names, instance caps — 400s naming the field."""
from __future__ import annotations

import copy

import pytest

from skytune.errors import InvalidInput
from skytune.settings import (
    ENV_TRAINING_ROLE_ARNS,
    ENV_TRIAL_INSTANCE_TYPES,
    ENV_TRIAL_MAX_INSTANCE_COUNT,
    ENV_TRIAL_MAX_RUNTIME_SECONDS,
    TuningPolicySettings,
)
from skytune.tuning.spec import parse_request
from tests.unit.tuning.helpers import SAGEMAKER, body

ALLOWED_ROLE = "arn:aws:iam::123456789012:role/sm"
ADMIN_ROLE = "arn:aws:iam::123456789012:role/Admin"


@pytest.fixture
def policy(monkeypatch):
    """The variables the deployed stack sets (infra/constructs/tuning.py)."""
    monkeypatch.setenv(ENV_TRAINING_ROLE_ARNS, f"{ALLOWED_ROLE},arn:aws:iam::123456789012:role/other")
    monkeypatch.setenv(ENV_TRIAL_INSTANCE_TYPES, "ml.m5.xlarge,ml.g5.xlarge")
    monkeypatch.setenv(ENV_TRIAL_MAX_INSTANCE_COUNT, "2")
    monkeypatch.setenv(ENV_TRIAL_MAX_RUNTIME_SECONDS, "7200")


def sagemaker(**definition_changes) -> dict:
    request = copy.deepcopy(SAGEMAKER)
    request["TrainingJobDefinition"].update(definition_changes)
    return request


def native_sagemaker(**definition_changes) -> dict:
    definition = {k: v for k, v in SAGEMAKER["TrainingJobDefinition"].items() if k != "StaticHyperParameters"}
    return body(**{"trial": {"runner": "sagemaker", "training_job_definition": {**definition, **definition_changes},
                             "max_runtime_in_seconds": 3600,
                             "metric_definitions": [{"Name": "validation:accuracy", "Regex": "acc=([0-9.]+)"}]}})


def rejected(request) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_request(request)
    return caught.value


def test_an_allowed_role_within_the_caps_is_accepted(policy):
    assert parse_request(sagemaker()).trial.training_job_definition["RoleArn"] == ALLOWED_ROLE


def test_a_foreign_role_is_refused_naming_the_field_in_either_body_shape(policy):
    error = rejected(sagemaker(RoleArn=ADMIN_ROLE))
    assert error.field == "TrainingJobDefinition.RoleArn"
    assert ALLOWED_ROLE in error.details["allowed"]
    assert rejected(native_sagemaker(RoleArn=ADMIN_ROLE)).field == "trial.training_job_definition.RoleArn"


def test_a_missing_role_is_refused(policy):
    definition = {k: v for k, v in SAGEMAKER["TrainingJobDefinition"].items() if k != "RoleArn"}
    request = {**copy.deepcopy(SAGEMAKER), "TrainingJobDefinition": definition}
    assert rejected(request).field == "TrainingJobDefinition.RoleArn"


def test_instance_type_count_and_runtime_caps(policy):
    error = rejected(sagemaker(ResourceConfig={"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10}))
    assert error.field == "TrainingJobDefinition.ResourceConfig.InstanceType"
    error = rejected(sagemaker(ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 3, "VolumeSizeInGB": 10}))
    assert error.field == "TrainingJobDefinition.ResourceConfig.InstanceCount"
    error = rejected(sagemaker(StoppingCondition={"MaxRuntimeInSeconds": 7201}))
    assert error.field == "TrainingJobDefinition.StoppingCondition.MaxRuntimeInSeconds"
    assert parse_request(sagemaker(StoppingCondition={"MaxRuntimeInSeconds": 7200}))


def test_instance_groups_are_each_checked_and_counted_together(policy):
    groups = [{"InstanceGroupName": "a", "InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
              {"InstanceGroupName": "b", "InstanceType": "ml.c5.large", "InstanceCount": 1}]
    error = rejected(sagemaker(ResourceConfig={"InstanceGroups": groups, "VolumeSizeInGB": 10}))
    assert error.field == "TrainingJobDefinition.ResourceConfig.InstanceGroups[1].InstanceType"
    groups[1]["InstanceType"] = "ml.g5.xlarge"
    groups[1]["InstanceCount"] = 2
    error = rejected(sagemaker(ResourceConfig={"InstanceGroups": groups, "VolumeSizeInGB": 10}))
    assert error.field == "TrainingJobDefinition.ResourceConfig.InstanceCount" and error.details == {"requested": 3}


@pytest.mark.parametrize("name", ["skytune-trial-train", "skytune-trial-train:live",
                                  "arn:aws:lambda:eu-west-1:123456789012:function:skytune-trial-train",
                                  "123456789012:function:skytune-trial-train:3"])
def test_lambda_trials_may_name_only_prefixed_functions(name):
    assert parse_request(body(**{"trial": {"runner": "lambda", "function_name": name}})).trial.function_name == name


@pytest.mark.parametrize("name", ["admin-function", "my-skytune-trial-x",
                                  "arn:aws:lambda:eu-west-1:123456789012:function:other",
                                  "skytune-trial-x/../../other", ""])
def test_a_foreign_lambda_function_is_refused(name):
    error = rejected(body(**{"trial": {"runner": "lambda", "function_name": name}}))
    assert error.field == "trial.function_name"


def test_without_the_variables_nothing_is_restricted_but_the_lambda_prefix(monkeypatch):
    for name in (ENV_TRAINING_ROLE_ARNS, ENV_TRIAL_INSTANCE_TYPES, ENV_TRIAL_MAX_INSTANCE_COUNT,
                 ENV_TRIAL_MAX_RUNTIME_SECONDS):
        monkeypatch.delenv(name, raising=False)
    assert TuningPolicySettings.from_environment() == TuningPolicySettings()
    assert parse_request(sagemaker(RoleArn=ADMIN_ROLE))


def test_settings_parse_comma_separated_lists(monkeypatch):
    monkeypatch.setenv(ENV_TRAINING_ROLE_ARNS, " a , b,")
    monkeypatch.setenv(ENV_TRIAL_MAX_INSTANCE_COUNT, "")
    settings = TuningPolicySettings.from_environment()
    assert settings.training_role_arns == ["a", "b"] and settings.trial_max_instance_count is None
