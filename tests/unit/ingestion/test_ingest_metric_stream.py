"""CloudWatch metric stream records (JSON and OpenTelemetry 1.0) and the Firehose contract."""

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skytune.ingestion.errors import MalformedPayload
from skytune.ingestion.metric_stream import (
    DROPPED,
    OK,
    PROCESSING_FAILED,
    OutputFormat,
    RecordResult,
    StreamDatapoint,
    cloudwatch_unit,
    firehose_records,
    firehose_transformation_response,
    parse_record_data,
    sagemaker_training_job_from_dimensions,
)
from tests.support.aws_events import (
    MetricDatum,
    firehose_metric_stream_event,
    firehose_transformation_event,
    metric_stream_opentelemetry,
)

SAGEMAKER_CPU = MetricDatum(
    namespace="/aws/sagemaker/TrainingJobs",
    metric_name="CPUUtilization",
    dimensions={"Host": "job-1/algo-1"},
    timestamp_ms=1_700_000_040_000,
    unit="Percent",
    max=93.5,
    min=12.25,
    sum=211.0,
    count=3.0,
)
EXPECTED_CPU = StreamDatapoint(
    namespace="/aws/sagemaker/TrainingJobs",
    metric_name="CPUUtilization",
    dimensions={"Host": "job-1/algo-1"},
    timestamp_ms=1_700_000_040_000,
    unit="Percent",
    max=93.5,
    min=12.25,
    sum=211.0,
    count=3.0,
    account_id="123456789012",
    region="us-east-1",
    metric_stream_name="skytune-stream",
)


def _only_record_data(event):
    (record,) = firehose_records(event)
    return record.data()


@pytest.mark.parametrize("output_format", ["json", "opentelemetry1.0"])
def test_one_datapoint_parses_identically_from_both_formats(output_format):
    event = firehose_metric_stream_event([[SAGEMAKER_CPU]], format=output_format)
    assert parse_record_data(_only_record_data(event), output_format) == [EXPECTED_CPU]


def test_the_json_format_as_documented_by_aws():
    line = (
        '{"metric_stream_name":"MyMetricStream","account_id":"1234567890","region":"us-east-1",'
        '"namespace":"AWS/EC2","metric_name":"DiskWriteOps","dimensions":{"InstanceId":"i-123456789012"},'
        '"timestamp":1611929698000,"value":{"max":0.0,"min":0.0,"sum":0.0,"count":1.0},"unit":"Seconds"}\n'
    )
    (point,) = parse_record_data(line.encode(), OutputFormat.JSON)
    assert point == StreamDatapoint(
        "AWS/EC2", "DiskWriteOps", {"InstanceId": "i-123456789012"}, 1611929698000, "Seconds",
        0.0, 0.0, 0.0, 1.0, "1234567890", "us-east-1", "MyMetricStream",
    )
    assert point.average == 0.0


def test_average_is_sum_over_count_and_none_for_an_empty_period():
    assert EXPECTED_CPU.average == pytest.approx(211.0 / 3.0)
    empty = StreamDatapoint("n", "m", {}, 0, "None", None, None, 0.0, 0.0)
    assert empty.average is None


@pytest.mark.parametrize(
    ("ucum", "cloudwatch"),
    [("s", "Seconds"), ("us", "Microseconds"), ("By", "Bytes"), ("kBy", "Kilobytes"), ("MBit", "Megabits"),
     ("{Count}", "Count"), ("%", "Percent"), ("1", "None"), ("NoneTranslated", "None"),
     ("By/s", "Bytes/Second"), ("{Count}/s", "Count/Second"), ("furlongs", "furlongs")],
)
def test_opentelemetry_units_map_back_to_cloudwatch_units(ucum, cloudwatch):
    assert cloudwatch_unit(ucum) == cloudwatch


def test_several_requests_in_one_record_and_several_records():
    points = [
        MetricDatum("AWS/SageMaker", f"m{i}", {"TrainingJobName": "j"}, 60_000 * i, "Count", i, 0.0, i * 2.0, 2.0)
        for i in range(7)
    ]
    event = firehose_metric_stream_event([points[:5], points[5:]], format="opentelemetry1.0")
    records = firehose_records(event)
    parsed = [parse_record_data(record.data(), "opentelemetry1.0") for record in records]
    assert [[p.metric_name for p in batch] for batch in parsed] == [["m0", "m1", "m2", "m3", "m4"], ["m5", "m6"]]
    assert parsed[1][1].timestamp_ms == 360_000 and parsed[1][1].max == 6.0


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b'{"namespace": "n"\n', "line 1 is not JSON"),
        (b"\xff\n", "not UTF-8"),
        (b"[1]\n", "not a JSON object"),
        (b'{"namespace":"n","metric_name":"m","timestamp":1}\n', "value must be an object"),
        (b'{"namespace":"n","metric_name":"m","timestamp":"1","value":{"sum":1,"count":1}}\n', "timestamp"),
        (b'{"namespace":"n","metric_name":"m","timestamp":1,"value":{"sum":"1","count":1}}\n', "value.sum"),
        (b'{"namespace":"","metric_name":"m","timestamp":1,"value":{"sum":1,"count":1}}\n', "namespace"),
        (b'{"namespace":"n","metric_name":"m","timestamp":1,"dimensions":{"a":1},"value":{"sum":1,"count":1}}\n', "dimensions"),
    ],
)
def test_malformed_json_records(data, fragment):
    with pytest.raises(MalformedPayload, match=fragment):
        parse_record_data(data, "json")


def test_malformed_opentelemetry_records():
    good = metric_stream_opentelemetry([SAGEMAKER_CPU])
    with pytest.raises(MalformedPayload, match="truncated"):
        parse_record_data(good[:-3], "opentelemetry1.0")
    with pytest.raises(MalformedPayload, match="truncated length prefix"):
        parse_record_data(b"\x80", "opentelemetry1.0")
    with pytest.raises(MalformedPayload, match="longer than 32 bits"):
        parse_record_data(b"\xff\xff\xff\xff\xff\x01", "opentelemetry1.0")
    with pytest.raises(MalformedPayload, match="ExportMetricsServiceRequest"):
        parse_record_data(b"\x03\xff\xff\xff", "opentelemetry1.0")
    with pytest.raises(ValueError):
        parse_record_data(good, "opentelemetry0.7")


def test_opentelemetry_without_cloudwatch_attributes_or_with_a_gauge_is_rejected():
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    def delimited(request):
        body = request.SerializeToString()
        assert len(body) < 128
        return bytes([len(body)]) + body

    gauge = ExportMetricsServiceRequest()
    metric = gauge.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = "g"
    metric.gauge.data_points.add().as_double = 1.0
    with pytest.raises(MalformedPayload, match="is a gauge"):
        parse_record_data(delimited(gauge), "opentelemetry1.0")

    bare = ExportMetricsServiceRequest()
    metric = bare.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = "amazonaws.com/N/M"
    metric.summary.data_points.add().sum = 1.0
    with pytest.raises(MalformedPayload, match="Namespace/MetricName"):
        parse_record_data(delimited(bare), "opentelemetry1.0")


def test_raw_unicode_line_separators_inside_values_do_not_split_lines():
    line = {"namespace": "n", "metric_name": "m\u2028x\u0085y", "dimensions": {"d": "a\u2029b"},
            "timestamp": 1, "value": {"max": 1, "min": 1, "sum": 1, "count": 1}, "unit": "None"}
    data = (json.dumps(line, ensure_ascii=False) + "\r\n").encode("utf-8")
    (point,) = parse_record_data(data, "json")
    assert point.metric_name == "m\u2028x\u0085y" and point.dimensions == {"d": "a\u2029b"}


def test_empty_record_has_no_datapoints():
    assert parse_record_data(b"", "json") == []
    assert parse_record_data(b"", "opentelemetry1.0") == []


# --- Firehose contract --------------------------------------------------------------------------


def test_transformation_response_has_the_exact_firehose_shape():
    event = firehose_transformation_event([b"a", b"b", b"c"])
    ids = [record["recordId"] for record in event["records"]]
    response = firehose_transformation_response(
        [RecordResult(ids[0], OK, b"kept"), RecordResult(ids[1], DROPPED), RecordResult(ids[2], PROCESSING_FAILED, b"c")],
        expected_record_ids=ids,
    )
    assert response == {
        "records": [
            {"recordId": ids[0], "result": "Ok", "data": base64.b64encode(b"kept").decode()},
            {"recordId": ids[1], "result": "Dropped", "data": ""},
            {"recordId": ids[2], "result": "ProcessingFailed", "data": base64.b64encode(b"c").decode()},
        ]
    }
    json.dumps(response)  # must be serialisable as the Lambda response


@pytest.mark.parametrize(
    "answers",
    [
        [("r1", OK)],  # r2 missing
        [("r1", OK), ("r2", OK), ("r3", OK)],  # r3 unknown
        [("r1", OK), ("r1", OK), ("r2", OK)],  # r1 twice
    ],
)
def test_every_record_must_be_answered_exactly_once(answers):
    with pytest.raises(ValueError, match="exactly once"):
        firehose_transformation_response([RecordResult(i, r) for i, r in answers], expected_record_ids=["r1", "r2"])


def test_unknown_result_is_refused():
    with pytest.raises(ValueError, match="result must be one of"):
        firehose_transformation_response([RecordResult("r1", "Failed")])


def test_one_corrupt_record_does_not_hide_the_others():
    event = firehose_transformation_event([b"good", b"also good"])
    event["records"][1]["data"] = "%%% not base64"
    first, second = firehose_records(event)
    assert first.data() == b"good"
    with pytest.raises(MalformedPayload, match=second.record_id):
        second.data()


def test_firehose_event_without_records_is_malformed():
    with pytest.raises(MalformedPayload):
        firehose_records({"invocationId": "x"})


# --- properties: build -> parse round trip ---------------------------------------------------

NAMES = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=24)
VALUES = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)
UNITS = st.sampled_from(["Seconds", "Milliseconds", "Bytes", "Gigabytes", "Percent", "Count", "None",
                         "Bytes/Second", "Count/Second", "Megabits/Second"])
DATUM = st.builds(
    MetricDatum,
    namespace=NAMES,
    metric_name=NAMES,
    dimensions=st.dictionaries(NAMES, NAMES, max_size=4),
    timestamp_ms=st.integers(0, 2**42).map(lambda t: t - t % 1000),
    unit=UNITS,
    max=VALUES,
    min=VALUES,
    sum=VALUES,
    count=st.integers(0, 10**6).map(float),
    account_id=st.from_regex(r"\A[0-9]{12}\Z"),
    region=st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2"]),
    metric_stream_name=st.from_regex(r"\A[A-Za-z0-9_-]{1,20}\Z"),
)


def _expected(datum: MetricDatum) -> StreamDatapoint:
    return StreamDatapoint(
        datum.namespace, datum.metric_name, dict(datum.dimensions), datum.timestamp_ms, datum.unit,
        datum.max, datum.min, datum.sum, datum.count, datum.account_id, datum.region, datum.metric_stream_name,
    )


@settings(max_examples=100, deadline=None)
@given(records=st.lists(st.lists(DATUM, max_size=6), min_size=1, max_size=4),
       output_format=st.sampled_from(["json", "opentelemetry1.0"]))
def test_round_trip_build_then_parse_gives_the_same_datapoints(records, output_format):
    event = firehose_metric_stream_event(records, format=output_format)
    parsed = [parse_record_data(record.data(), output_format) for record in firehose_records(event)]
    assert parsed == [[_expected(datum) for datum in record] for record in records]
    answered = firehose_transformation_response(
        [RecordResult(record.record_id, DROPPED) for record in firehose_records(event)],
        expected_record_ids=[record["recordId"] for record in event["records"]],
    )
    assert [r["recordId"] for r in answered["records"]] == [r["recordId"] for r in event["records"]]


@pytest.mark.parametrize(
    ("dimensions", "job"),
    [({"TrainingJobName": "j1"}, "j1"), ({"Host": "j2/algo-1"}, "j2"), ({"Host": "i-0abc"}, None),
     ({"Host": "/algo-1"}, None), ({"InstanceId": "i-1"}, None), ({}, None)],
)
def test_training_job_from_dimensions(dimensions, job):
    assert sagemaker_training_job_from_dimensions(dimensions) == job
