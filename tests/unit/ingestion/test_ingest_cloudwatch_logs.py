import base64
import gzip
import json

import pytest

from skytune.ingestion import cloudwatch_logs
from skytune.ingestion.cloudwatch_logs import (
    LogEvent,
    decode_subscription,
    sagemaker_training_job_from_stream,
)
from skytune.ingestion.errors import MalformedPayload
from tests.support.aws_events import (
    cloudwatch_log_event_ids,
    cloudwatch_logs_control_event,
    cloudwatch_logs_event,
    encode_awslogs,
    sagemaker_log_stream,
)

GROUP = "/aws/sagemaker/TrainingJobs"
STREAM = "xgb-2026-11-01-12-00-00-123/algo-1-1700000000"


def test_decodes_a_data_message_field_by_field():
    event = cloudwatch_logs_event(
        GROUP,
        STREAM,
        [("Train Loss: 0.52; Test Accuracy: 91.3%;", 1_700_000_000_123), ("epoch 2", 1_700_000_001_000)],
        subscription_filters=["skytune-metrics"],
        seed=7,
    )
    batch = decode_subscription(event)
    ids = cloudwatch_log_event_ids(2, 1_700_000_000_123, seed=7)
    assert batch.owner == "123456789012"
    assert batch.log_group == GROUP
    assert batch.log_stream == STREAM
    assert batch.subscription_filters == ("skytune-metrics",)
    assert batch.events == (
        LogEvent(ids[0], 1_700_000_000_123, "Train Loss: 0.52; Test Accuracy: 91.3%;"),
        LogEvent(ids[1], 1_700_000_001_000, "epoch 2"),
    )


def test_event_ids_look_like_cloudwatch_ids_and_are_stable():
    ids = cloudwatch_log_event_ids(5, 1_700_000_000_000, seed=3)
    assert all(len(event_id) == 56 and event_id.isdigit() for event_id in ids)
    assert [int(event_id) for event_id in ids] == sorted(int(event_id) for event_id in ids)
    assert len(set(ids)) == 5
    assert ids == cloudwatch_log_event_ids(5, 1_700_000_000_000, seed=3)
    assert ids != cloudwatch_log_event_ids(5, 1_700_000_000_000, seed=4)


def test_control_message_decodes_to_none():
    assert decode_subscription(cloudwatch_logs_control_event()) is None


def test_empty_log_events_give_an_empty_batch():
    batch = decode_subscription(cloudwatch_logs_event(GROUP, STREAM, []))
    assert batch.events == ()


def _gzip_b64(raw: bytes) -> dict:
    return {"awslogs": {"data": base64.b64encode(gzip.compress(raw)).decode()}}


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        ({}, "no awslogs.data"),
        ({"awslogs": {"data": 12}}, "no awslogs.data"),
        ({"awslogs": {"data": "not base64 !!"}}, "not valid base64"),
        ({"awslogs": {"data": base64.b64encode(b"plain text").decode()}}, "not valid gzip"),
        (_gzip_b64(b"{not json"), "not valid JSON"),
        (_gzip_b64(b"\xff\xfe"), "not valid JSON"),
        (_gzip_b64(b"[1, 2]"), "JSON object"),
        (_gzip_b64(json.dumps({"messageType": "OTHER"}).encode()), "unknown messageType"),
        (
            _gzip_b64(json.dumps({"messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "g", "logStream": "s"}).encode()),
            "logEvents must be a list",
        ),
    ],
)
def test_malformed_payloads_raise_malformed_payload(event, fragment):
    with pytest.raises(MalformedPayload, match=fragment):
        decode_subscription(event)


@pytest.mark.parametrize(
    ("log_event", "fragment"),
    [
        ({"id": "", "timestamp": 1, "message": "m"}, r"logEvents\[0\].id"),
        ({"id": "1", "timestamp": "1", "message": "m"}, r"logEvents\[0\].timestamp"),
        ({"id": "1", "timestamp": True, "message": "m"}, r"logEvents\[0\].timestamp"),
        ({"id": "1", "timestamp": 1, "message": None}, r"logEvents\[0\].message"),
        ("a string", r"logEvents\[0\] must be an object"),
    ],
)
def test_malformed_log_events_name_the_field(log_event, fragment):
    document = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": GROUP,
        "logStream": STREAM,
        "subscriptionFilters": ["f"],
        "logEvents": [log_event],
    }
    with pytest.raises(MalformedPayload, match=fragment):
        decode_subscription(encode_awslogs(document))


def test_truncated_gzip_is_malformed():
    event = cloudwatch_logs_event(GROUP, STREAM, [("x" * 200, 1)])
    compressed = base64.b64decode(event["awslogs"]["data"])
    truncated = {"awslogs": {"data": base64.b64encode(compressed[: len(compressed) // 2]).decode()}}
    with pytest.raises(MalformedPayload, match="truncated"):
        decode_subscription(truncated)


def test_a_gzip_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(cloudwatch_logs, "MAX_DECOMPRESSED_BYTES", 10_000)
    event = cloudwatch_logs_event(GROUP, STREAM, [("0" * 50_000, 1)])
    with pytest.raises(MalformedPayload, match="inflates beyond 10000 bytes"):
        decode_subscription(event)


@pytest.mark.parametrize(
    ("group", "stream", "job"),
    [
        (GROUP, "my-job/algo-1-1700000000", "my-job"),
        (GROUP, "A1/algo-12-1699999999", "A1"),
        (GROUP, sagemaker_log_stream("x" * 63, host=3), "x" * 63),
        (GROUP, "my-job/instance-group-1-1700000000", "my-job"),
        (GROUP, "x" * 64 + "/algo-1-1700000000", None),
        (GROUP, "-bad/algo-1-1", None),
        (GROUP, "bad-/algo-1-1", None),
        (GROUP, "my-job", None),
        (GROUP, "my-job/", None),
        (GROUP, "a/b/c", None),
        ("/aws/sagemaker/ProcessingJobs", "my-job/algo-1-1700000000", None),
        ("/aws/lambda/fn", "2026/11/01/[$LATEST]abc", None),
    ],
)
def test_sagemaker_training_job_from_stream(group, stream, job):
    assert sagemaker_training_job_from_stream(group, stream) == job
