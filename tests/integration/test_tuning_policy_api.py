"""The deployed policy through the real API handler (issue 10): a caller cannot pick the trials' role,
Lambda function or instances, and a trial's secrets never reach the handler's logs."""
from __future__ import annotations

import copy
import json
import logging
import time
import uuid

import pytest

from skytune.settings import ENV_TRIAL_INSTANCE_TYPES

SAGEMAKER_JOB = {
    "HyperParameterTuningJobConfig": {
        "Strategy": "Random",
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:rmse"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
        "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "0.5"}]},
    },
    "TrainingJobDefinition": {
        "AlgorithmSpecification": {"TrainingImage": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/xgb:1",
                                   "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/Admin",
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    },
}


def sagemaker_job(**definition) -> dict:
    body = copy.deepcopy(SAGEMAKER_JOB)
    body["HyperParameterTuningJobName"] = f"policy-{uuid.uuid4().hex[:8]}"
    body["TrainingJobDefinition"].update(definition)
    return body


def refused(response, field: str) -> dict:
    assert response.status == 400, response.body
    error = response.json()["error"]
    assert error["field"] == field, error
    return error


def test_a_foreign_training_role_is_refused(api, local_stack):
    error = refused(api.post("/v1/tuning-jobs", sagemaker_job()), "TrainingJobDefinition.RoleArn")
    # the allowed role is the stack's own training role, as the template resolves it
    (allowed,) = error["details"]["allowed"]
    assert allowed.startswith("arn:aws:iam:") and "TrainingRole" in allowed


def test_a_foreign_lambda_function_is_refused(api):
    body = {"name": f"policy-{uuid.uuid4().hex[:8]}", "objective": {"metric_name": "loss", "type": "Minimize"},
            "parameter_ranges": {"ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.001", "MaxValue": "0.1"}]},
            "resource_limits": {"max_number_of_training_jobs": 2},
            "trial": {"runner": "lambda", "function_name": "arn:aws:lambda:eu-west-1:123456789012:function:admin-tool"}}
    refused(api.post("/v1/tuning-jobs", body), "trial.function_name")


def test_instance_caps_are_enforced(api, monkeypatch):
    allowed_role = api.post("/v1/tuning-jobs", sagemaker_job()).json()["error"]["details"]["allowed"][0]
    too_many = {"InstanceType": "ml.m5.xlarge", "InstanceCount": 5, "VolumeSizeInGB": 10}  # default cap: 4
    refused(api.post("/v1/tuning-jobs", sagemaker_job(RoleArn=allowed_role, ResourceConfig=too_many)),
            "TrainingJobDefinition.ResourceConfig.InstanceCount")
    refused(api.post("/v1/tuning-jobs", sagemaker_job(RoleArn=allowed_role,
                                                      StoppingCondition={"MaxRuntimeInSeconds": 2 * 86400})),
            "TrainingJobDefinition.StoppingCondition.MaxRuntimeInSeconds")
    # an operator's allow-list of instance types (-c trialInstanceTypes=...), read per request
    monkeypatch.setenv(ENV_TRIAL_INSTANCE_TYPES, "ml.m5.xlarge")
    gpu = {"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10}
    refused(api.post("/v1/tuning-jobs", sagemaker_job(RoleArn=allowed_role, ResourceConfig=gpu)),
            "TrainingJobDefinition.ResourceConfig.InstanceType")


class Capture(logging.Handler):
    """Every record the functions' loggers emit, formatted as the function would write it."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # the message, its arguments, extra keys and exception text: whatever a formatter could print
        self.lines.append(record.getMessage() + repr(record.__dict__))


@pytest.fixture
def captured_logs(local_stack):
    """The functions' own logger ("skytune", powertools' service name) at DEBUG, stricter than deployed
    (INFO), and the root logger's INFO records (libraries)."""
    for logical_id, spec in local_stack.functions.specs.items():  # cold-start skytune's functions first: powertools
        if spec.handler.startswith("skytune_"):                    # owns the first handler of its logger, ours comes
            local_stack.functions.handler(logical_id)              # after it (CDK's own functions are not ours to load)
    capture = Capture()
    service = logging.getLogger("skytune")
    level = service.level
    service.setLevel(logging.DEBUG)
    loggers = [logging.getLogger(), service]
    for logger in loggers:
        logger.addHandler(capture)
    yield capture
    service.setLevel(level)
    for logger in loggers:
        logger.removeHandler(capture)


def test_secret_environment_values_never_reach_the_logs(api, captured_logs):
    secret, hp_secret = f"env-secret-{uuid.uuid4().hex}", f"hp-secret-{uuid.uuid4().hex}"
    name = f"secret-{uuid.uuid4().hex[:8]}"
    body = {"name": name, "objective": {"metric_name": "loss", "type": "Minimize"},
            "parameter_ranges": {"ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.001", "MaxValue": "0.1"}]},
            "resource_limits": {"max_number_of_training_jobs": 1},
            "trial": {"runner": "external", "environment": {"API_TOKEN": secret},
                      "static_hyperparameters": {"db_password": hp_secret}}}
    created = api.post("/v1/tuning-jobs", body)
    assert created.status in (200, 201), created.body
    api.post("/v1/tuning-jobs", {**body, "trial": {**body["trial"], "runner": "bogus"}})  # a refused one too
    # the state machine's steps run too (start, claim, suggest, dispatch carry the trial's definition)
    deadline = time.time() + 60
    while time.time() < deadline:
        trials = api.get(f"/v1/tuning-jobs/{name}/trials").json()
        if trials.get("items") or trials.get("TrainingJobSummaries"):
            break
        time.sleep(0.5)
    else:
        pytest.fail("no trial was dispatched")
    time.sleep(1)  # the dispatch step finishes after the trial is stored
    api.post(f"/v1/tuning-jobs/{name}/stop")
    logged = "\n".join(captured_logs.lines)
    assert secret not in logged and hp_secret not in logged


def test_the_log_capture_would_catch_a_logged_event(captured_logs):
    """The check above can fail: a function that logged its event (POWERTOOLS_LOGGER_LOG_EVENT=true,
    which the stack sets to false) would put the secret in its log lines."""
    from aws_lambda_powertools import Logger

    from skytune.local.functions import LambdaContext
    from skytune.local.http_api import build_event

    secret = f"env-secret-{uuid.uuid4().hex}"
    body = json.dumps({"trial": {"runner": "external", "environment": {"API_TOKEN": secret}}}).encode()
    event = build_event("POST", "/v1/tuning-jobs", "", {"content-type": "application/json"}, body,
                        "POST /v1/tuning-jobs", {}, "127.0.0.1")
    leaky = Logger(service="skytune").inject_lambda_context(log_event=True)(lambda event, context: None)
    leaky(event, LambdaContext(function_name="leaky", memory_limit_in_mb=128, timeout_s=3))
    assert secret in "\n".join(captured_logs.lines)
