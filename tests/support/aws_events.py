"""Builders for AWS events exactly as AWS delivers them to Lambda, for tests and local runs.

Everything is deterministic: ids derive from the inputs and an explicit ``seed``, so
building the same event twice gives the same ids (which is what a re-delivery looks
like). Encodings are done here independently of ``skytune.ingestion`` so that the
round-trip tests check the parsers against the documented formats, not against
themselves.

Shapes follow the AWS documentation:
* CloudWatch Logs subscription filter -> Lambda (``awslogs.data`` = base64(gzip(JSON)))
* Amazon Data Firehose data transformation (``records[].data`` base64), with CloudWatch
  metric stream payloads in JSON lines or OpenTelemetry 1.0 (varint-delimited protobuf)
* EventBridge "SageMaker Training Job State Change"
* API Gateway HTTP API, payload format 2.0
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"

# --- CloudWatch Logs --------------------------------------------------------------------------


def cloudwatch_log_event_ids(count: int, first_timestamp_ms: int, *, seed: int = 0) -> list[str]:
    """``count`` increasing 56-digit event ids like CloudWatch's
    (e.g. ``"31953106606966983378809025079804211143289615424298221568"``)."""
    rng = random.Random(f"{seed}:{first_timestamp_ms}")
    base = 3 * 10**55 + rng.randrange(10**54)
    return [str(base + index * 10**20 + rng.randrange(10**19)) for index in range(count)]


def cloudwatch_logs_payload(
    log_group: str,
    log_stream: str,
    messages_with_timestamps: Sequence[tuple[str, int]],
    *,
    owner: str = ACCOUNT_ID,
    subscription_filters: Sequence[str] = ("skytune-metrics",),
    seed: int = 0,
    event_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The decoded JSON document of a DATA_MESSAGE (before gzip and base64)."""
    first = messages_with_timestamps[0][1] if messages_with_timestamps else 0
    ids = list(event_ids) if event_ids is not None else cloudwatch_log_event_ids(len(messages_with_timestamps), first, seed=seed)
    return {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": list(subscription_filters),
        "logEvents": [
            {"id": event_id, "timestamp": timestamp, "message": message}
            for event_id, (message, timestamp) in zip(ids, messages_with_timestamps)
        ],
    }


def encode_awslogs(document: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap a subscription document the way CloudWatch Logs invokes Lambda."""
    compressed = gzip.compress(json.dumps(document).encode("utf-8"), mtime=0)
    return {"awslogs": {"data": base64.b64encode(compressed).decode("ascii")}}


def cloudwatch_logs_event(
    log_group: str,
    log_stream: str,
    messages_with_timestamps: Sequence[tuple[str, int]],
    **kwargs: Any,
) -> dict[str, Any]:
    """A CloudWatch Logs subscription-filter Lambda event carrying these log lines."""
    return encode_awslogs(cloudwatch_logs_payload(log_group, log_stream, messages_with_timestamps, **kwargs))


def cloudwatch_logs_control_event(timestamp_ms: int = 1_700_000_000_000) -> dict[str, Any]:
    """The CONTROL_MESSAGE CloudWatch Logs sends to check the destination is reachable."""
    return encode_awslogs(
        {
            "messageType": "CONTROL_MESSAGE",
            "owner": "CloudwatchLogs",
            "logGroup": "",
            "logStream": "",
            "subscriptionFilters": [],
            "logEvents": [
                {
                    "id": "",
                    "timestamp": timestamp_ms,
                    "message": "CWL CONTROL MESSAGE: Checking health of destination Lambda function.",
                }
            ],
        }
    )


def sagemaker_log_stream(training_job_name: str, host: int = 1, started_s: int = 1_700_000_000) -> str:
    return f"{training_job_name}/algo-{host}-{started_s}"


# --- CloudWatch metric streams through Firehose ---------------------------------------------


@dataclass(frozen=True)
class MetricDatum:
    """One CloudWatch metric stream datapoint, the builder's input."""

    namespace: str
    metric_name: str
    dimensions: dict[str, str]
    timestamp_ms: int  # start of the period
    unit: str
    max: float
    min: float
    sum: float
    count: float
    period_ms: int = 60_000
    account_id: str = ACCOUNT_ID
    region: str = REGION
    metric_stream_name: str = "skytune-stream"


_UCUM = {
    "Seconds": "s",
    "Microseconds": "us",
    "Milliseconds": "ms",
    "Bytes": "By",
    "Kilobytes": "kBy",
    "Megabytes": "MBy",
    "Gigabytes": "GBy",
    "Terabytes": "TBy",
    "Bits": "bit",
    "Kilobits": "kbit",
    "Megabits": "MBit",
    "Gigabits": "GBit",
    "Terabits": "Tbit",
    "Percent": "%",
    "Count": "{Count}",
    "None": "1",
}


def _ucum(unit: str) -> str:
    if unit.endswith("/Second"):
        return _UCUM.get(unit[: -len("/Second")], unit[: -len("/Second")]) + "/s"
    return _UCUM.get(unit, unit)


def metric_stream_json(datapoints: Iterable[MetricDatum]) -> bytes:
    """The ``json`` output format: one JSON object per line."""
    lines = [
        json.dumps(
            {
                "metric_stream_name": d.metric_stream_name,
                "account_id": d.account_id,
                "region": d.region,
                "namespace": d.namespace,
                "metric_name": d.metric_name,
                "dimensions": d.dimensions,
                "timestamp": d.timestamp_ms,
                "value": {"max": d.max, "min": d.min, "sum": d.sum, "count": d.count},
                "unit": d.unit,
            }
        )
        for d in datapoints
    ]
    return "".join(line + "\n" for line in lines).encode("utf-8")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def metric_stream_opentelemetry(datapoints: Iterable[MetricDatum], *, per_request: int = 3) -> bytes:
    """The ``opentelemetry1.0`` output format: varint-length-delimited ExportMetricsServiceRequests,
    one Summary metric per datapoint, ``per_request`` metrics per request."""
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList

    def string_attr(key: str, value: str) -> KeyValue:
        return KeyValue(key=key, value=AnyValue(string_value=value))

    datapoints = list(datapoints)
    out = bytearray()
    for start in range(0, len(datapoints), per_request):
        request = ExportMetricsServiceRequest()
        for d in datapoints[start : start + per_request]:
            resource_metrics = request.resource_metrics.add()
            resource_metrics.resource.attributes.extend(
                [
                    string_attr("cloud.provider", "aws"),
                    string_attr("cloud.account.id", d.account_id),
                    string_attr("cloud.region", d.region),
                    string_attr(
                        "aws.exporter.arn",
                        f"arn:aws:cloudwatch:{d.region}:{d.account_id}:metric-stream/{d.metric_stream_name}",
                    ),
                ]
            )
            metric = resource_metrics.scope_metrics.add().metrics.add()
            metric.name = f"amazonaws.com/{d.namespace}/{d.metric_name}"
            metric.unit = _ucum(d.unit)
            point = metric.summary.data_points.add()
            point.start_time_unix_nano = d.timestamp_ms * 1_000_000
            point.time_unix_nano = (d.timestamp_ms + d.period_ms) * 1_000_000
            point.count = int(d.count)
            point.sum = d.sum
            low = point.quantile_values.add()
            low.quantile, low.value = 0.0, d.min
            high = point.quantile_values.add()
            high.quantile, high.value = 1.0, d.max
            point.attributes.extend(
                [
                    string_attr("Namespace", d.namespace),
                    string_attr("MetricName", d.metric_name),
                    KeyValue(
                        key="Dimensions",
                        value=AnyValue(
                            kvlist_value=KeyValueList(
                                values=[string_attr(name, value) for name, value in d.dimensions.items()]
                            )
                        ),
                    ),
                ]
            )
        body = request.SerializeToString()
        out += _varint(len(body)) + body
    return bytes(out)


def firehose_record_ids(count: int, *, seed: int = 0) -> list[str]:
    """56-digit Firehose record ids (shard-sequence-like), deterministic in ``seed``."""
    rng = random.Random(f"firehose:{seed}")
    base = 4 * 10**55 + rng.randrange(10**54)
    return [str(base + index) for index in range(count)]


def firehose_transformation_event(
    record_payloads: Sequence[bytes],
    *,
    delivery_stream: str = "skytune-metric-stream",
    arrival_ms: int = 1_700_000_000_000,
    seed: int = 0,
    record_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A Firehose data-transformation Lambda event with one record per payload."""
    ids = list(record_ids) if record_ids is not None else firehose_record_ids(len(record_payloads), seed=seed)
    return {
        "invocationId": str(uuid.UUID(int=random.Random(f"invocation:{seed}").getrandbits(128), version=4)),
        "deliveryStreamArn": f"arn:aws:firehose:{REGION}:{ACCOUNT_ID}:deliverystream/{delivery_stream}",
        "region": REGION,
        "records": [
            {
                "recordId": record_id,
                "approximateArrivalTimestamp": arrival_ms + index,
                "data": base64.b64encode(payload).decode("ascii"),
            }
            for index, (record_id, payload) in enumerate(zip(ids, record_payloads))
        ],
    }


def firehose_metric_stream_event(
    records: Sequence[Sequence[MetricDatum]], format: str = "json", **kwargs: Any
) -> dict[str, Any]:
    """A Firehose transformation event whose records each hold the given datapoints,
    encoded in the metric stream output ``format`` (``"json"`` or ``"opentelemetry1.0"``)."""
    if format == "json":
        encode = metric_stream_json
    elif format == "opentelemetry1.0":
        encode = metric_stream_opentelemetry
    else:
        raise ValueError(f"unknown metric stream format {format!r}")
    return firehose_transformation_event([encode(datapoints) for datapoints in records], **kwargs)


# --- EventBridge: SageMaker training job state change ----------------------------------------


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sagemaker_training_job_state_change(
    training_job_name: str,
    status: str = "InProgress",
    *,
    secondary_status: str | None = None,
    hyperparameters: Mapping[str, str] | None = None,
    channels: Mapping[str, str] | None = None,
    model_artifacts: str | None = None,
    final_metrics: Sequence[tuple[str, float, int]] = (),
    creation_ms: int = 1_700_000_000_000,
    start_ms: int | None = None,
    end_ms: int | None = None,
    last_modified_ms: int | None = None,
    failure_reason: str | None = None,
    tuning_job_arn: str | None = None,
    tags: Mapping[str, str] | None = None,
    event_id: str | None = None,
    time_ms: int | None = None,
) -> dict[str, Any]:
    """An EventBridge "SageMaker Training Job State Change" event (detail as SageMaker sends it:
    DescribeTrainingJob fields, times in epoch milliseconds)."""
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:training-job/{training_job_name.lower()}"
    last_modified = last_modified_ms if last_modified_ms is not None else max(
        t for t in (creation_ms, start_ms, end_ms) if t is not None
    )
    detail: dict[str, Any] = {
        "TrainingJobName": training_job_name,
        "TrainingJobArn": arn,
        "TrainingJobStatus": status,
        "SecondaryStatus": secondary_status or {"InProgress": "Training", "Stopping": "Stopping"}.get(status, status),
        "HyperParameters": dict(hyperparameters or {}),
        "AlgorithmSpecification": {
            "TrainingImage": f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/train:latest",
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "train:loss", "Regex": "Train Loss: ([0-9\\.]+)"}],
        },
        "RoleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/SageMakerRole",
        "InputDataConfig": [
            {
                "ChannelName": name,
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}
                },
                "CompressionType": "None",
                "RecordWrapperType": "None",
            }
            for name, uri in (channels or {}).items()
        ],
        "OutputDataConfig": {"KmsKeyId": "", "S3OutputPath": f"s3://skytune-artifacts-{ACCOUNT_ID}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "CreationTime": creation_ms,
        "LastModifiedTime": last_modified,
        "SecondaryStatusTransitions": [],
        "Tags": dict(tags or {}),
    }
    if start_ms is not None:
        detail["TrainingStartTime"] = start_ms
    if end_ms is not None:
        detail["TrainingEndTime"] = end_ms
    if model_artifacts is not None:
        detail["ModelArtifacts"] = {"S3ModelArtifacts": model_artifacts}
    if final_metrics:
        detail["FinalMetricDataList"] = [
            {"MetricName": name, "Value": value, "Timestamp": timestamp} for name, value, timestamp in final_metrics
        ]
    if failure_reason is not None:
        detail["FailureReason"] = failure_reason
    if tuning_job_arn is not None:
        detail["TuningJobArn"] = tuning_job_arn
    event_time = time_ms if time_ms is not None else last_modified
    return {
        "version": "0",
        "id": event_id or str(uuid.UUID(int=random.Random(f"{training_job_name}:{status}:{event_time}").getrandbits(128), version=4)),
        "detail-type": "SageMaker Training Job State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT_ID,
        "time": _iso(event_time),
        "region": REGION,
        "resources": [arn],
        "detail": detail,
    }


# --- API Gateway HTTP API, payload format 2.0 ---------------------------------------------


def iam_authorizer(user: str = "skytune-tester") -> dict[str, Any]:
    """``requestContext.authorizer`` for an IAM (SigV4) authorised route."""
    return {
        "iam": {
            "accessKey": "AKIDEXAMPLE",
            "accountId": ACCOUNT_ID,
            "callerId": "AIDAEXAMPLECALLERID",
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/{user}",
            "userId": "AIDAEXAMPLECALLERID",
        }
    }


def jwt_authorizer(claims: Mapping[str, Any], scopes: Sequence[str] | None = None) -> dict[str, Any]:
    """``requestContext.authorizer`` for a JWT authorised route."""
    return {"jwt": {"claims": dict(claims), "scopes": list(scopes) if scopes is not None else None}}


def http_api_event(
    method: str,
    path: str,
    body: Any = None,
    query: Mapping[str, str | Sequence[str]] | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    route_key: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    authorizer: Mapping[str, Any] | None | str = "iam",
    is_base64_encoded: bool = False,
    time_epoch_ms: int = 1_700_000_000_000,
    request_id: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) Lambda proxy event.

    ``body`` may be a str, bytes (base64-encoded, as API Gateway does for binary) or a
    JSON-serialisable object. Repeated query parameters are joined with commas in
    ``queryStringParameters``, as API Gateway does. ``route_key`` defaults to
    ``"METHOD path"``; pass the route template (``"GET /v1/runs/{run_id}"``) with
    ``path_parameters`` for parameterised routes. ``authorizer="iam"`` (default) adds a
    SigV4 identity, ``None`` leaves the route unauthorised.
    """
    method = method.upper()
    header_map = {"accept": "application/json", "host": "abcdef1234.execute-api.us-east-1.amazonaws.com"}
    header_map["user-agent"] = "skytune-tests/1.0"
    header_map["x-forwarded-for"] = "203.0.113.7"
    header_map["x-forwarded-port"] = "443"
    header_map["x-forwarded-proto"] = "https"
    header_map["x-amzn-trace-id"] = "Root=1-65536b00-0123456789abcdef01234567"
    raw_body: str | None
    if body is None:
        raw_body = None
    elif isinstance(body, bytes):
        raw_body, is_base64_encoded = base64.b64encode(body).decode("ascii"), True
    elif isinstance(body, str):
        raw_body = body
    else:
        raw_body = json.dumps(body)
        header_map["content-type"] = "application/json"
    if raw_body is not None:
        header_map["content-length"] = str(len(raw_body))
    header_map.update({name.lower(): value for name, value in (headers or {}).items()})

    pairs: list[tuple[str, str]] = []
    for name, value in (query or {}).items():
        values = [value] if isinstance(value, str) else list(value)
        pairs.extend((name, item) for item in values)
    query_parameters: dict[str, str] = {}
    for name, value in pairs:
        query_parameters[name] = f"{query_parameters[name]},{value}" if name in query_parameters else value

    request_id = request_id or str(uuid.UUID(int=random.Random(f"{method} {path} {time_epoch_ms}").getrandbits(128), version=4))
    route = route_key or f"{method} {path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": urlencode(pairs),
        "headers": header_map,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "abcdef1234",
            "domainName": header_map["host"],
            "domainPrefix": header_map["host"].split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": header_map["user-agent"],
            },
            "requestId": request_id,
            "routeKey": route,
            "stage": "$default",
            "time": datetime.fromtimestamp(time_epoch_ms / 1000, tz=timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": time_epoch_ms,
        },
        "isBase64Encoded": is_base64_encoded,
    }
    if "cookie" in header_map:
        event["cookies"] = [cookie.strip() for cookie in header_map["cookie"].split(";")]
    if query_parameters:
        event["queryStringParameters"] = query_parameters
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if raw_body is not None:
        event["body"] = raw_body
    if authorizer == "iam":
        event["requestContext"]["authorizer"] = iam_authorizer()
    elif authorizer is not None:
        event["requestContext"]["authorizer"] = dict(authorizer)
    return event


# --- Lambda context ---------------------------------------------------------------------------


@dataclass
class FakeLambdaContext:
    """The attributes and method of the Lambda context object that Powertools reads."""

    function_name: str = "skytune-test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    remaining_time_ms: int = 30_000
    invoked_function_arn: str = field(default="")
    log_group_name: str = field(default="")
    log_stream_name: str = "2026/11/01/[$LATEST]00000000000000000000000000000000"

    def __post_init__(self) -> None:
        if not self.invoked_function_arn:
            self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_time_ms


def lambda_context(**overrides: Any) -> FakeLambdaContext:
    return FakeLambdaContext(**overrides)
