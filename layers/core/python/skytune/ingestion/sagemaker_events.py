"""Turn an EventBridge "SageMaker Training Job State Change" event into a run update.

The envelope is EventBridge's (``version``, ``id``, ``detail-type``, ``source``
``aws.sagemaker``, ``account``, ``time``, ``region``, ``resources``, ``detail``); the
``detail`` is shaped like ``DescribeTrainingJob``'s response with times as epoch
milliseconds (numbers, or numeric strings in AWS's published sample). SageMaker may send
several events per state change and EventBridge does not guarantee order, so the
update carries ``last_modified_ms`` and :attr:`TrainingJobUpdate.is_terminal` for the
store to keep the newest state.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ._numbers import DECIMAL_PATTERN, is_integer_literal, parse_decimal
from .errors import MalformedPayload

SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Training Job State Change"
RUN_SOURCE = "sagemaker"

RunStatus = Literal["InProgress", "Completed", "Failed", "Stopped"]
ParamValue = bool | int | float | str

# SageMaker statuses -> our run statuses. Stopping is still running until Stopped arrives.
STATUS_MAP: dict[str, RunStatus] = {
    "InProgress": "InProgress",
    "Stopping": "InProgress",
    "Completed": "Completed",
    "Failed": "Failed",
    "Stopped": "Stopped",
}
TERMINAL_STATUSES: frozenset[str] = frozenset({"Completed", "Failed", "Stopped"})

# Hyperparameters SageMaker or its SDK add themselves; kept as params, listed so UIs can hide them.
INTERNAL_PARAM_PREFIXES = ("sagemaker_", "_tuning_objective_metric")

MODEL_ARTIFACT_NAME = "model"


@dataclass(frozen=True)
class ArtifactRef:
    name: str
    uri: str


@dataclass(frozen=True)
class FinalMetric:
    name: str
    value: float
    timestamp_ms: int | None


@dataclass(frozen=True)
class TrainingJobUpdate:
    """What one state-change event says about the run of one training job."""

    event_id: str
    event_time_ms: int
    account: str
    region: str
    run_name: str  # the training job name
    run_source: str
    training_job_arn: str
    status: RunStatus
    sagemaker_status: str
    secondary_status: str | None
    creation_time_ms: int | None
    start_time_ms: int | None
    end_time_ms: int | None
    last_modified_ms: int | None
    params: dict[str, ParamValue] = field(default_factory=dict)
    input_artifacts: tuple[ArtifactRef, ...] = ()
    output_artifacts: tuple[ArtifactRef, ...] = ()
    final_metrics: tuple[FinalMetric, ...] = ()
    failure_reason: str | None = None
    tuning_job_arn: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


def is_training_job_state_change(event: Any) -> bool:
    return isinstance(event, Mapping) and event.get("source") == SOURCE and event.get("detail-type") == DETAIL_TYPE


def parse_training_job_state_change(event: Mapping[str, Any]) -> TrainingJobUpdate:
    """The run update in ``event``; :class:`MalformedPayload` if it is not a well-formed
    training-job state change."""
    if not is_training_job_state_change(event):
        raise MalformedPayload(f"not a {DETAIL_TYPE!r} event from {SOURCE}")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise MalformedPayload("detail must be an object")
    sagemaker_status = _string(detail, "TrainingJobStatus")
    if sagemaker_status not in STATUS_MAP:
        raise MalformedPayload(f"unknown TrainingJobStatus {sagemaker_status!r}")
    event_time = _epoch_ms(event.get("time"), "time")
    if event_time is None:
        raise MalformedPayload("time is required")
    return TrainingJobUpdate(
        event_id=_string(event, "id"),
        event_time_ms=event_time,
        account=_string(event, "account"),
        region=_string(event, "region"),
        run_name=_string(detail, "TrainingJobName"),
        run_source=RUN_SOURCE,
        training_job_arn=_string(detail, "TrainingJobArn"),
        status=STATUS_MAP[sagemaker_status],
        sagemaker_status=sagemaker_status,
        secondary_status=_optional_string(detail, "SecondaryStatus"),
        creation_time_ms=_epoch_ms(detail.get("CreationTime"), "CreationTime"),
        start_time_ms=_epoch_ms(detail.get("TrainingStartTime"), "TrainingStartTime"),
        end_time_ms=_epoch_ms(detail.get("TrainingEndTime"), "TrainingEndTime"),
        last_modified_ms=_epoch_ms(detail.get("LastModifiedTime"), "LastModifiedTime"),
        params=typed_hyperparameters(_present(detail, "HyperParameters", {})),
        input_artifacts=_input_artifacts(_present(detail, "InputDataConfig", [])),
        output_artifacts=_output_artifacts(detail.get("ModelArtifacts")),
        final_metrics=_final_metrics(_present(detail, "FinalMetricDataList", [])),
        failure_reason=_optional_string(detail, "FailureReason"),
        tuning_job_arn=_optional_string(detail, "TuningJobArn"),
        tags=_tags(detail.get("Tags")),
    )


def typed_hyperparameters(hyperparameters: Any) -> dict[str, ParamValue]:
    """SageMaker hyperparameters are all strings; give each its natural type.

    ``"10"`` -> 10, ``"0.1"``/``"1e-3"`` -> float, ``"true"``/``"false"`` (any case) -> bool,
    a JSON string literal ``"\\"train.py\\""`` (how the SageMaker Python SDK encodes
    framework hyperparameters) -> ``"train.py"``, anything else stays a string.
    """
    if not isinstance(hyperparameters, Mapping):
        raise MalformedPayload("HyperParameters must be an object")
    return {str(name): typed_value(value) for name, value in hyperparameters.items()}


def typed_value(value: Any) -> ParamValue:
    if isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    stripped = text.strip()
    if stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    if is_integer_literal(stripped):
        return int(stripped)
    if DECIMAL_PATTERN.fullmatch(stripped):
        number = parse_decimal(stripped)
        return number if number is not None else text
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
        try:
            decoded = json.loads(stripped)
        except json.JSONDecodeError:
            return text
        return decoded if isinstance(decoded, str) else text
    return text


def is_internal_param(name: str) -> bool:
    return name.startswith(INTERNAL_PARAM_PREFIXES)


def _input_artifacts(channels: Any) -> tuple[ArtifactRef, ...]:
    if not isinstance(channels, list):
        raise MalformedPayload("InputDataConfig must be a list")
    artifacts = []
    for index, channel in enumerate(channels):
        if not isinstance(channel, Mapping):
            raise MalformedPayload(f"InputDataConfig[{index}] must be an object")
        name = _string(channel, "ChannelName")
        source = channel.get("DataSource") or {}
        s3 = source.get("S3DataSource") if isinstance(source, Mapping) else None
        file_system = source.get("FileSystemDataSource") if isinstance(source, Mapping) else None
        if isinstance(s3, Mapping) and isinstance(s3.get("S3Uri"), str):
            artifacts.append(ArtifactRef(name, s3["S3Uri"]))
        elif isinstance(file_system, Mapping) and isinstance(file_system.get("FileSystemId"), str):
            kind = str(file_system.get("FileSystemType", "fs")).lower()
            path = str(file_system.get("DirectoryPath", "/"))
            artifacts.append(ArtifactRef(name, f"{kind}://{file_system['FileSystemId']}{path}"))
    return tuple(artifacts)


def _output_artifacts(model_artifacts: Any) -> tuple[ArtifactRef, ...]:
    if isinstance(model_artifacts, Mapping) and isinstance(model_artifacts.get("S3ModelArtifacts"), str):
        return (ArtifactRef(MODEL_ARTIFACT_NAME, model_artifacts["S3ModelArtifacts"]),)
    return ()


def _final_metrics(entries: Any) -> tuple[FinalMetric, ...]:
    if not isinstance(entries, list):
        raise MalformedPayload("FinalMetricDataList must be a list")
    metrics = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise MalformedPayload(f"FinalMetricDataList[{index}] must be an object")
        value = entry.get("Value")
        if isinstance(value, str):
            value = parse_decimal(value)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            continue  # SageMaker reports NaN for a metric that never matched: nothing to store
        metrics.append(
            FinalMetric(
                name=_string(entry, "MetricName"),
                value=float(value),
                timestamp_ms=_epoch_ms(entry.get("Timestamp"), f"FinalMetricDataList[{index}].Timestamp"),
            )
        )
    return tuple(metrics)


def _tags(tags: Any) -> dict[str, str]:
    """Tags arrive as an object in the event; accept the API's [{Key, Value}] list too."""
    if tags is None:
        return {}
    if isinstance(tags, Mapping):
        return {str(key): str(value) for key, value in tags.items()}
    if isinstance(tags, list):
        return {str(tag.get("Key")): str(tag.get("Value", "")) for tag in tags if isinstance(tag, Mapping)}
    raise MalformedPayload("Tags must be an object or a list of {Key, Value}")


def _epoch_ms(value: Any, name: str) -> int | None:
    """Epoch milliseconds from a number, a numeric string or an ISO-8601 timestamp."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise MalformedPayload(f"{name} is not a timestamp")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise MalformedPayload(f"{name} is not a timestamp")
        return int(value)
    if isinstance(value, str):
        number = parse_decimal(value)
        if number is not None:
            return int(number)
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise MalformedPayload(f"{name} is not a timestamp: {value!r}") from None
        if parsed.tzinfo is None:
            raise MalformedPayload(f"{name} has no time zone: {value!r}")
        return int(round(parsed.timestamp() * 1000))
    raise MalformedPayload(f"{name} is not a timestamp")


def _present(document: Mapping[str, Any], key: str, default: Any) -> Any:
    """The value at ``key``, or ``default`` when absent or null (but not when empty or mistyped)."""
    value = document.get(key)
    return default if value is None else value


def _string(document: Mapping[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{key} is required and must be a string")
    return value


def _optional_string(document: Mapping[str, Any], key: str) -> str | None:
    value = document.get(key)
    return value if isinstance(value, str) and value else None
