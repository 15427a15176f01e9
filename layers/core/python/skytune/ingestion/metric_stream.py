"""Parse CloudWatch metric stream records, in both output formats a stream can use.

A metric stream delivers to Firehose; each Firehose record's (decoded) data holds many
datapoints, one per metric, dimension set and minute:

* ``json`` - newline-delimited JSON objects::

    {"metric_stream_name": "s", "account_id": "123456789012", "region": "us-east-1",
     "namespace": "AWS/SageMaker", "metric_name": "CPUUtilization",
     "dimensions": {"Host": "job/algo-1"}, "timestamp": 1700000040000,
     "value": {"max": 3.0, "min": 1.0, "sum": 4.0, "count": 2.0}, "unit": "Percent"}

* ``opentelemetry1.0`` - a sequence of ``ExportMetricsServiceRequest`` protobuf messages,
  each preceded by its length as an unsigned varint. CloudWatch writes every datapoint
  as a *Summary* data point: ``sum`` = Sum, ``count`` = SampleCount, quantile 0.0 = Min,
  quantile 1.0 = Max, ``start_time_unix_nano`` = the period start; attributes
  ``Namespace``, ``MetricName`` and ``Dimensions`` (a key-value list); resource attributes
  ``cloud.account.id``, ``cloud.region`` and ``aws.exporter.arn`` (the stream's ARN);
  units in UCUM (``s``, ``By``, ``{Count}``, ``%``, ``1``...), mapped back here.

Both formats parse to the same :class:`StreamDatapoint`, timestamped at the start of
the aggregation period as CloudWatch labels its datapoints. Additional statistics
(percentiles beyond min/max) are ignored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .errors import MalformedPayload

# Re-exported: the transformation response belongs with the records it answers.
from .firehose import (  # noqa: F401
    DROPPED,
    OK,
    PROCESSING_FAILED,
    FirehoseRecord,
    RecordResult,
    firehose_records,
    firehose_transformation_response,
)


class OutputFormat(str, Enum):
    """The metric stream ``OutputFormat`` values we parse (CloudWatch's own spelling)."""

    JSON = "json"
    OPENTELEMETRY_1_0 = "opentelemetry1.0"


@dataclass(frozen=True)
class StreamDatapoint:
    """One CloudWatch datapoint (one metric, one dimension set, one period)."""

    namespace: str
    metric_name: str
    dimensions: dict[str, str]
    timestamp_ms: int
    unit: str
    max: float | None
    min: float | None
    sum: float
    count: float
    account_id: str | None = None
    region: str | None = None
    metric_stream_name: str | None = None

    @property
    def average(self) -> float | None:
        """Sum / SampleCount: the value we store as the point's value (None for an empty period)."""
        return self.sum / self.count if self.count > 0 else None


# CloudWatch unit -> the UCUM spelling CloudWatch uses in OpenTelemetry output.
CLOUDWATCH_TO_UCUM = {
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
_UCUM_TO_CLOUDWATCH = {ucum: cloudwatch for cloudwatch, ucum in CLOUDWATCH_TO_UCUM.items()}
_UCUM_TO_CLOUDWATCH["NoneTranslated"] = "None"  # as printed in AWS's own 1.0 example


def cloudwatch_unit(ucum: str) -> str:
    """The CloudWatch unit for an OpenTelemetry unit: ``"By/s"`` -> ``"Bytes/Second"``.

    Rates are written ``<unit>/s``; unknown spellings are returned unchanged.
    """
    if ucum in _UCUM_TO_CLOUDWATCH:
        return _UCUM_TO_CLOUDWATCH[ucum]
    base, slash, per = ucum.rpartition("/")
    if slash and per == "s" and base in _UCUM_TO_CLOUDWATCH:
        return f"{_UCUM_TO_CLOUDWATCH[base]}/Second"
    return ucum


def parse_record_data(data: bytes, output_format: OutputFormat | str,
                      bad_lines: list[str] | None = None) -> list[StreamDatapoint]:
    """Every datapoint in one Firehose record's decoded data. `bad_lines`: when given, a malformed
    JSON line is appended there (its error) instead of failing the whole record."""
    output_format = OutputFormat(output_format)
    if output_format is OutputFormat.JSON:
        return parse_json_lines(data, bad_lines)
    return parse_opentelemetry_1_0(data)


# --- JSON ----------------------------------------------------------------------------------


def parse_json_lines(data: bytes, bad_lines: list[str] | None = None) -> list[StreamDatapoint]:
    """The datapoints of a JSON-lines record. Without `bad_lines` the first malformed line fails the
    record; with it, malformed lines are reported there and the valid ones are returned."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MalformedPayload(f"JSON metric stream record is not UTF-8: {error}") from None
    datapoints = []
    # Split on "\n" only: str.splitlines() would also split inside a value holding U+2028 or U+0085.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            try:
                document = json.loads(line)
            except json.JSONDecodeError as error:
                raise MalformedPayload(f"line {number} is not JSON: {error}") from None
            datapoints.append(_from_json(document, number))
        except MalformedPayload as error:
            if bad_lines is None:
                raise
            bad_lines.append(str(error))
    return datapoints


def _from_json(document: Any, line: int) -> StreamDatapoint:
    if not isinstance(document, Mapping):
        raise MalformedPayload(f"line {line} is not a JSON object")
    value = document.get("value")
    if not isinstance(value, Mapping):
        raise MalformedPayload(f"line {line}: value must be an object with max, min, sum, count")
    dimensions = document.get("dimensions", {})
    if not isinstance(dimensions, Mapping) or not all(isinstance(v, str) for v in dimensions.values()):
        raise MalformedPayload(f"line {line}: dimensions must map names to strings")
    timestamp = document.get("timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise MalformedPayload(f"line {line}: timestamp must be epoch milliseconds")
    return StreamDatapoint(
        namespace=_required_string(document, "namespace", line),
        metric_name=_required_string(document, "metric_name", line),
        dimensions=dict(dimensions),
        timestamp_ms=timestamp,
        unit=document.get("unit") if isinstance(document.get("unit"), str) else "None",
        max=_number(value, "max", line, optional=True),
        min=_number(value, "min", line, optional=True),
        sum=_number(value, "sum", line),
        count=_number(value, "count", line),
        account_id=_optional_string(document, "account_id"),
        region=_optional_string(document, "region"),
        metric_stream_name=_optional_string(document, "metric_stream_name"),
    )


def _number(value: Mapping[str, Any], key: str, line: int, optional: bool = False) -> Any:
    number = value.get(key)
    if number is None and optional:
        return None
    if not isinstance(number, (int, float)) or isinstance(number, bool) or not math.isfinite(number):
        raise MalformedPayload(f"line {line}: value.{key} must be a finite number")
    return float(number)


def _required_string(document: Mapping[str, Any], key: str, line: int) -> str:
    text = document.get(key)
    if not isinstance(text, str) or not text:
        raise MalformedPayload(f"line {line}: {key} must be a non-empty string")
    return text


def _optional_string(document: Mapping[str, Any], key: str) -> str | None:
    text = document.get(key)
    return text if isinstance(text, str) else None


# --- OpenTelemetry 1.0 -----------------------------------------------------------------------


def parse_opentelemetry_1_0(data: bytes) -> list[StreamDatapoint]:
    # Imported here: the protobuf classes cost import time only the OTel path should pay.
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    datapoints: list[StreamDatapoint] = []
    for message in _length_delimited(data):
        try:
            request = ExportMetricsServiceRequest.FromString(message)
        except DecodeError as error:
            raise MalformedPayload(f"not an ExportMetricsServiceRequest: {error}") from None
        for resource_metrics in request.resource_metrics:
            resource = {kv.key: _any_value_text(kv.value) for kv in resource_metrics.resource.attributes}
            exporter_arn = resource.get("aws.exporter.arn", "")
            stream_name = exporter_arn.rsplit("metric-stream/", 1)[1] if "metric-stream/" in exporter_arn else None
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    kind = metric.WhichOneof("data")
                    if kind != "summary":
                        raise MalformedPayload(f"metric {metric.name!r} is a {kind}, CloudWatch sends summaries")
                    for point in metric.summary.data_points:
                        datapoints.append(
                            _from_summary_point(
                                metric, point, resource.get("cloud.account.id"), resource.get("cloud.region"), stream_name
                            )
                        )
    return datapoints


def _length_delimited(data: bytes) -> list[bytes]:
    """Split ``data`` into its varint-length-prefixed messages.

    Hand-written because protobuf's Python API has no public delimited reader; the
    varint is the standard base-128 little-endian encoding, at most 5 bytes for 32 bits.
    """
    messages = []
    position = 0
    while position < len(data):
        length = shift = 0
        while True:
            if position >= len(data):
                raise MalformedPayload("truncated length prefix")
            byte = data[position]
            position += 1
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift >= 35:
                raise MalformedPayload("length prefix longer than 32 bits")
        if position + length > len(data):
            raise MalformedPayload(f"message of {length} bytes truncated at {len(data) - position}")
        messages.append(data[position : position + length])
        position += length
    return messages


def _from_summary_point(
    metric: Any, point: Any, account_id: str | None, region: str | None, stream_name: str | None
) -> StreamDatapoint:
    attributes = {kv.key: kv.value for kv in point.attributes}
    namespace = _any_value_text(attributes["Namespace"]) if "Namespace" in attributes else None
    metric_name = _any_value_text(attributes["MetricName"]) if "MetricName" in attributes else None
    if not namespace or not metric_name:
        raise MalformedPayload(f"metric {metric.name!r} has no Namespace/MetricName attributes")
    dimensions: dict[str, str] = {}
    if "Dimensions" in attributes:
        dimension_list = attributes["Dimensions"]
        if dimension_list.WhichOneof("value") != "kvlist_value":
            raise MalformedPayload(f"metric {metric.name!r}: Dimensions must be a key-value list")
        dimensions = {kv.key: _any_value_text(kv.value) for kv in dimension_list.kvlist_value.values}
    quantiles = {quantile.quantile: quantile.value for quantile in point.quantile_values}
    return StreamDatapoint(
        namespace=namespace,
        metric_name=metric_name,
        dimensions=dimensions,
        timestamp_ms=point.start_time_unix_nano // 1_000_000,
        unit=cloudwatch_unit(metric.unit),
        max=quantiles.get(1.0),
        min=quantiles.get(0.0),
        sum=point.sum,
        count=float(point.count),
        account_id=account_id,
        region=region,
        metric_stream_name=stream_name,
    )


def _any_value_text(value: Any) -> str:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind in ("int_value", "double_value", "bool_value"):
        return str(getattr(value, kind))
    if kind is None:
        return ""
    raise MalformedPayload(f"attribute value of kind {kind} where a scalar was expected")


def sagemaker_training_job_from_dimensions(dimensions: Mapping[str, str]) -> str | None:
    """The training job a datapoint belongs to: its ``TrainingJobName`` dimension, else the
    job part of a ``Host`` dimension (SageMaker publishes instance metrics of
    ``/aws/sagemaker/TrainingJobs`` with ``Host = "<job>/algo-<n>"``)."""
    job = dimensions.get("TrainingJobName")
    if job:
        return job
    host = dimensions.get("Host", "")
    job, slash, instance = host.partition("/")
    return job if slash and job and instance else None
