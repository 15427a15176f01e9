"""Request bodies and records for the tuning unit tests."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

from skytune.tuning.records import ObjectiveStatus, Trial, TrialStatus, TuningJob
from skytune.tuning.spec import parse_request

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)

NATIVE = {
    "name": "digits",
    "strategy": "Bayesian",
    "objective": {"metric_name": "validation:accuracy", "type": "Maximize"},
    "parameter_ranges": {
        "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.0001", "MaxValue": "0.1", "ScalingType": "Logarithmic"}],
        "IntegerParameterRanges": [{"Name": "units", "MinValue": "8", "MaxValue": "64"}],
        "CategoricalParameterRanges": [{"Name": "act", "Values": ["relu", "tanh"]}],
    },
    "resource_limits": {"max_number_of_training_jobs": 20, "max_parallel_training_jobs": 4},
    "trial": {
        "runner": "local",
        "command": ["python", "train.py"],
        "static_hyperparameters": {"epochs": 5},
        "metric_definitions": [{"Name": "validation:accuracy", "Regex": "val_accuracy=([0-9.]+)"}],
    },
}

SAGEMAKER = {
    "HyperParameterTuningJobName": "xgb-sm",
    "HyperParameterTuningJobConfig": {
        "Strategy": "Bayesian",
        "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "validation:rmse"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 2},
        "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "0.5"}]},
        "TrainingJobEarlyStoppingType": "Auto",
        "TuningJobCompletionCriteria": {"TargetObjectiveMetricValue": 0.1,
                                        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 5}},
    },
    "TrainingJobDefinition": {
        "StaticHyperParameters": {"num_round": "100"},
        "AlgorithmSpecification": {"TrainingImage": "123.dkr.ecr.us-east-1.amazonaws.com/xgb:1", "TrainingInputMode": "File",
                                   "MetricDefinitions": [{"Name": "validation:rmse", "Regex": "rmse:([0-9.]+)"}]},
        "RoleArn": "arn:aws:iam::123456789012:role/sm",
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    },
    "Tags": [{"Key": "team", "Value": "ml"}],
}


def body(**changes) -> dict:
    """NATIVE with dotted-path changes, e.g. body(**{"trial.runner": "lambda"})."""
    result = copy.deepcopy(NATIVE)
    for path, value in changes.items():
        target = result
        *parents, last = path.split(".")
        for part in parents:
            target = target[part]
        if value is ...:
            target.pop(last, None)
        else:
            target[last] = value
    return result


def job(**changes) -> TuningJob:
    return TuningJob(name="digits", spec=parse_request(body(**changes)), created_at=T0, updated_at=T0)


def trial(number: int, status: TrialStatus = TrialStatus.COMPLETED, value: float | None = None,
          curve=(), **extra) -> Trial:
    return Trial(job_name="digits", number=number, name=f"digits-{number:03d}-abcdef12", status=status,
                 hyperparameters={"lr": 0.01, "units": 8, "act": "relu", "epochs": 5}, objective_value=value,
                 objective_status=ObjectiveStatus.SUCCEEDED if value is not None else ObjectiveStatus.PENDING,
                 curve=list(curve), created_at=T0 + timedelta(seconds=number), **extra)
