"""EventBridge "SageMaker Training Job State Change" -> TrainingJobUpdate."""

import copy

import pytest

from skytune.ingestion.errors import MalformedPayload
from skytune.ingestion.sagemaker_events import (
    ArtifactRef,
    FinalMetric,
    is_internal_param,
    is_training_job_state_change,
    parse_training_job_state_change,
    typed_hyperparameters,
)
from tests.support.aws_events import sagemaker_training_job_state_change

# AWS's published sample, verbatim in shape (note the times as numeric strings and Tags as an object).
AWS_SAMPLE = {
    "version": "0",
    "id": "844e2571-85d4-695f-b930-0153b71dcb42",
    "detail-type": "SageMaker Training Job State Change",
    "source": "aws.sagemaker",
    "account": "123456789012",
    "time": "2018-10-06T12:26:13Z",
    "region": "us-east-1",
    "resources": ["arn:aws:sagemaker:us-east-1:123456789012:training-job/kmeans-1"],
    "detail": {
        "TrainingJobName": "89c96cc8-dded-4739-afcc-6f1dc936701d",
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/kmeans-1",
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "HyperParameters": {"Hyper": "Parameters"},
        "AlgorithmSpecification": {"TrainingImage": "TrainingImage", "TrainingInputMode": "TrainingInputMode"},
        "RoleArn": "arn:aws:iam::123456789012:role/SMRole",
        "InputDataConfig": [
            {
                "ChannelName": "Train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3DataType", "S3Uri": "S3Uri", "S3DataDistributionType": "S3DataDistributionType"}
                },
                "ContentType": "ContentType",
                "CompressionType": "CompressionType",
                "RecordWrapperType": "RecordWrapperType",
            }
        ],
        "OutputDataConfig": {"KmsKeyId": "KmsKeyId", "S3OutputPath": "S3OutputPath"},
        "ResourceConfig": {"InstanceType": "InstanceType", "InstanceCount": 3, "VolumeSizeInGB": 20, "VolumeKmsKeyId": "VolumeKmsKeyId"},
        "VpcConfig": {},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        "CreationTime": "1583831889050",
        "TrainingStartTime": "1583831889050",
        "TrainingEndTime": "1583831889050",
        "LastModifiedTime": "1583831889050",
        "SecondaryStatusTransitions": [],
        "Tags": {},
    },
}


def test_aws_published_sample_parses():
    update = parse_training_job_state_change(AWS_SAMPLE)
    assert update.run_name == "89c96cc8-dded-4739-afcc-6f1dc936701d"
    assert update.run_source == "sagemaker"
    assert update.status == "Completed" and update.is_terminal
    assert update.event_id == "844e2571-85d4-695f-b930-0153b71dcb42"
    assert update.event_time_ms == 1538828773000
    assert (update.creation_time_ms, update.start_time_ms, update.end_time_ms, update.last_modified_ms) == (
        1583831889050,
    ) * 4
    assert update.params == {"Hyper": "Parameters"}
    assert update.input_artifacts == (ArtifactRef("Train", "S3Uri"),)
    assert update.output_artifacts == ()
    assert update.tags == {}


def test_completed_job_maps_every_field():
    event = sagemaker_training_job_state_change(
        "xgb-2026-11-01",
        "Completed",
        hyperparameters={
            "max_depth": "6",
            "eta": "0.3",
            "early_stopping": "True",
            "objective": "binary:logistic",
            "sagemaker_program": '"train.py"',
            "_tuning_objective_metric": "validation:auc",
        },
        channels={"train": "s3://bucket/train/", "validation": "s3://bucket/validation/"},
        model_artifacts="s3://bucket/output/xgb-2026-11-01/output/model.tar.gz",
        final_metrics=[("validation:auc", 0.91, 1_700_000_900_000), ("train:loss", float("nan"), 1_700_000_900_000)],
        start_ms=1_700_000_100_000,
        end_ms=1_700_000_900_000,
        tuning_job_arn="arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/t1",
        tags={"team": "ml"},
    )
    update = parse_training_job_state_change(event)
    assert update.status == "Completed"
    assert update.sagemaker_status == "Completed"
    assert update.training_job_arn == "arn:aws:sagemaker:us-east-1:123456789012:training-job/xgb-2026-11-01"
    assert (update.creation_time_ms, update.start_time_ms, update.end_time_ms) == (
        1_700_000_000_000, 1_700_000_100_000, 1_700_000_900_000
    )
    assert update.params == {
        "max_depth": 6,
        "eta": 0.3,
        "early_stopping": True,
        "objective": "binary:logistic",
        "sagemaker_program": "train.py",
        "_tuning_objective_metric": "validation:auc",
    }
    assert update.input_artifacts == (
        ArtifactRef("train", "s3://bucket/train/"),
        ArtifactRef("validation", "s3://bucket/validation/"),
    )
    assert update.output_artifacts == (ArtifactRef("model", "s3://bucket/output/xgb-2026-11-01/output/model.tar.gz"),)
    # NaN final metrics (a definition that never matched) carry nothing to store.
    assert update.final_metrics == (FinalMetric("validation:auc", 0.91, 1_700_000_900_000),)
    assert update.tuning_job_arn.endswith("/t1")
    assert update.tags == {"team": "ml"}
    assert update.failure_reason is None


@pytest.mark.parametrize(
    ("sagemaker_status", "run_status", "terminal"),
    [("InProgress", "InProgress", False), ("Stopping", "InProgress", False), ("Completed", "Completed", True),
     ("Failed", "Failed", True), ("Stopped", "Stopped", True)],
)
def test_status_mapping(sagemaker_status, run_status, terminal):
    update = parse_training_job_state_change(sagemaker_training_job_state_change("j", sagemaker_status))
    assert (update.status, update.sagemaker_status, update.is_terminal) == (run_status, sagemaker_status, terminal)


def test_failed_job_carries_its_reason():
    event = sagemaker_training_job_state_change("j", "Failed", failure_reason="AlgorithmError: out of memory")
    update = parse_training_job_state_change(event)
    assert update.failure_reason == "AlgorithmError: out of memory"
    assert update.secondary_status == "Failed"


@pytest.mark.parametrize(
    ("raw", "typed"),
    [("10", 10), ("-3", -3), ("007", 7), ("0.1", 0.1), ("1e-3", 0.001), (".5", 0.5), ("true", True),
     ("FALSE", False), ('"adam"', "adam"), ('"3"', "3"), ("adam", "adam"), ("nan", "nan"), ("inf", "inf"),
     ("1e999", "1e999"), ("0x10", "0x10"), ("[1, 2]", "[1, 2]"), ("", ""), ('"unterminated', '"unterminated')],
)
def test_hyperparameter_typing(raw, typed):
    value = typed_hyperparameters({"p": raw})["p"]
    assert value == typed and type(value) is type(typed)


def test_internal_params_are_recognised():
    assert is_internal_param("sagemaker_program") and is_internal_param("_tuning_objective_metric")
    assert not is_internal_param("learning_rate")


def test_times_may_be_numbers_numeric_strings_or_iso():
    event = sagemaker_training_job_state_change("j", "InProgress")
    event["detail"]["CreationTime"] = "2026-11-01T10:00:00.250Z"
    event["detail"]["TrainingStartTime"] = 1_700_000_000_000.0
    update = parse_training_job_state_change(event)
    assert update.creation_time_ms == 1793527200250
    assert update.start_time_ms == 1_700_000_000_000


def test_tags_as_key_value_list_are_accepted():
    event = sagemaker_training_job_state_change("j")
    event["detail"]["Tags"] = [{"Key": "team", "Value": "ml"}]
    assert parse_training_job_state_change(event).tags == {"team": "ml"}


def test_file_system_channels_become_uris():
    event = sagemaker_training_job_state_change("j")
    event["detail"]["InputDataConfig"] = [
        {"ChannelName": "train", "DataSource": {"FileSystemDataSource": {
            "FileSystemId": "fs-0123", "FileSystemType": "EFS", "FileSystemAccessMode": "ro", "DirectoryPath": "/data/train"}}}
    ]
    assert parse_training_job_state_change(event).input_artifacts == (ArtifactRef("train", "efs://fs-0123/data/train"),)


def _broken(mutate):
    event = copy.deepcopy(sagemaker_training_job_state_change("j", "Completed"))
    mutate(event)
    return event


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        (_broken(lambda e: e.update({"detail-type": "SageMaker Endpoint State Change"})), "not a"),
        (_broken(lambda e: e.update({"source": "aws.ec2"})), "not a"),
        (_broken(lambda e: e.update({"detail": []})), "detail must be an object"),
        (_broken(lambda e: e["detail"].update({"TrainingJobStatus": "Exploded"})), "unknown TrainingJobStatus"),
        (_broken(lambda e: e["detail"].pop("TrainingJobName")), "TrainingJobName"),
        (_broken(lambda e: e["detail"].update({"CreationTime": "yesterday"})), "CreationTime"),
        (_broken(lambda e: e["detail"].update({"CreationTime": "2026-11-01T10:00:00"})), "time zone"),
        (_broken(lambda e: e["detail"].update({"HyperParameters": ["a"]})), "HyperParameters"),
        (_broken(lambda e: e["detail"].update({"InputDataConfig": {}})), "InputDataConfig"),
        (_broken(lambda e: e["detail"].update({"FinalMetricDataList": [{"Value": 1.0}]})), "MetricName"),
        (_broken(lambda e: e.pop("time")), "time"),
    ],
)
def test_malformed_events(event, fragment):
    with pytest.raises(MalformedPayload, match=fragment):
        parse_training_job_state_change(event)


def test_detector():
    assert is_training_job_state_change(AWS_SAMPLE)
    assert not is_training_job_state_change({"source": "aws.sagemaker", "detail-type": "SageMaker Model State Change"})
    assert not is_training_job_state_change(["not", "a", "dict"])
