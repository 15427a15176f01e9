"""Decode the CloudWatch Logs subscription-filter payload delivered to a Lambda function.

AWS invokes the function with ``{"awslogs": {"data": base64(gzip(json))}}``; the JSON is::

    {"messageType": "DATA_MESSAGE", "owner": "123456789012",
     "logGroup": "/aws/sagemaker/TrainingJobs", "logStream": "job/algo-1-1700000000",
     "subscriptionFilters": ["skytune"],
     "logEvents": [{"id": "3195...(56 digits)", "timestamp": 1700000000000, "message": "..."}]}

``messageType`` is ``CONTROL_MESSAGE`` when CloudWatch Logs checks that the destination
is reachable; such a payload carries no data and decodes to ``None``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import MalformedPayload

DATA_MESSAGE = "DATA_MESSAGE"
CONTROL_MESSAGE = "CONTROL_MESSAGE"
SAGEMAKER_TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"

# A Lambda payload is at most 6 MB, but gzip can expand it a thousandfold; refuse to
# inflate past this so a hostile or corrupt payload cannot exhaust the function's memory.
MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024

# SageMaker training job names: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$, i.e. 1-63 characters,
# alphanumerics and hyphens, starting and ending with an alphanumeric. The stream is
# "<job>/<host>" where host is "algo-<n>-<epoch seconds>" (or an instance-group host name).
_TRAINING_JOB_STREAM = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)/([A-Za-z0-9_.-]+)")


@dataclass(frozen=True)
class LogEvent:
    id: str
    timestamp_ms: int
    message: str


@dataclass(frozen=True)
class LogBatch:
    owner: str
    log_group: str
    log_stream: str
    subscription_filters: tuple[str, ...]
    events: tuple[LogEvent, ...]


def decode_subscription(event: Mapping[str, Any]) -> LogBatch | None:
    """The log batch in a subscription-filter Lambda event, or None for a control message.

    Raises :class:`MalformedPayload` for anything that is not base64 + gzip + the
    documented JSON shape.
    """
    document = _decode_document(event)
    message_type = document.get("messageType")
    if message_type == CONTROL_MESSAGE:
        return None
    if message_type != DATA_MESSAGE:
        raise MalformedPayload(f"unknown messageType {message_type!r}")
    filters = document.get("subscriptionFilters", [])
    if not isinstance(filters, list) or not all(isinstance(name, str) for name in filters):
        raise MalformedPayload("subscriptionFilters must be a list of strings")
    raw_events = document.get("logEvents")
    if not isinstance(raw_events, list):
        raise MalformedPayload("logEvents must be a list")
    return LogBatch(
        owner=_string(document, "owner"),
        log_group=_string(document, "logGroup"),
        log_stream=_string(document, "logStream"),
        subscription_filters=tuple(filters),
        events=tuple(_log_event(raw, index) for index, raw in enumerate(raw_events)),
    )


def sagemaker_training_job_from_stream(log_group: str, log_stream: str) -> str | None:
    """The training job that wrote ``log_stream``, if it is a SageMaker training log stream."""
    if log_group != SAGEMAKER_TRAINING_LOG_GROUP:
        return None
    match = _TRAINING_JOB_STREAM.fullmatch(log_stream)
    return match.group(1) if match else None


def _decode_document(event: Mapping[str, Any]) -> dict[str, Any]:
    awslogs = event.get("awslogs") if isinstance(event, Mapping) else None
    data = awslogs.get("data") if isinstance(awslogs, Mapping) else None
    if not isinstance(data, str):
        raise MalformedPayload("event has no awslogs.data string")
    try:
        compressed = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise MalformedPayload(f"awslogs.data is not valid base64: {error}") from None
    try:
        # wbits 16 + MAX_WBITS: expect a gzip header and trailer.
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        raw = inflater.decompress(compressed, MAX_DECOMPRESSED_BYTES)
        if inflater.unconsumed_tail:
            raise MalformedPayload(f"awslogs.data inflates beyond {MAX_DECOMPRESSED_BYTES} bytes")
        if not inflater.eof:
            raise MalformedPayload("awslogs.data is a truncated gzip stream")
    except zlib.error as error:
        raise MalformedPayload(f"awslogs.data is not valid gzip: {error}") from None
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedPayload(f"awslogs.data is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise MalformedPayload("awslogs.data must hold a JSON object")
    return document


def _log_event(raw: Any, index: int) -> LogEvent:
    if not isinstance(raw, Mapping):
        raise MalformedPayload(f"logEvents[{index}] must be an object")
    event_id, timestamp, message = raw.get("id"), raw.get("timestamp"), raw.get("message")
    if not isinstance(event_id, str) or not event_id:
        raise MalformedPayload(f"logEvents[{index}].id must be a non-empty string")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise MalformedPayload(f"logEvents[{index}].timestamp must be an integer (epoch milliseconds)")
    if not isinstance(message, str):
        raise MalformedPayload(f"logEvents[{index}].message must be a string")
    return LogEvent(event_id, timestamp, message)


def _string(document: Mapping[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str):
        raise MalformedPayload(f"{key} must be a string")
    return value


def encode_subscription(log_group: str, log_stream: str, events: list[tuple[str, int, str]], *,
                        owner: str = "000000000000", subscription_filter: str = "skytune") -> dict[str, Any]:
    """The Lambda event CloudWatch Logs sends for these (id, timestamp ms, message) events:
    ``{"awslogs": {"data": base64(gzip(json))}}``. Local mode uses it to deliver a process's output."""
    import gzip

    document = {
        "messageType": "DATA_MESSAGE",
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": [subscription_filter],
        "logEvents": [{"id": event_id, "timestamp": timestamp, "message": message} for event_id, timestamp, message in events],
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(document).encode(), mtime=0)).decode("ascii")}}
