"""The builders' events validate against Powertools' independent models of the same AWS shapes."""

import base64
import json

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventV2Model,
    CloudWatchLogsModel,
    EventBridgeModel,
    KinesisFirehoseModel,
)

from tests.support.aws_events import (
    MetricDatum,
    cloudwatch_logs_control_event,
    cloudwatch_logs_event,
    firehose_metric_stream_event,
    http_api_event,
    jwt_authorizer,
    lambda_context,
    sagemaker_training_job_state_change,
)


def test_cloudwatch_logs_event_matches_the_powertools_model():
    event = cloudwatch_logs_event("/aws/sagemaker/TrainingJobs", "j/algo-1-1700000000", [("loss=1", 1_700_000_000_000)])
    decoded = CloudWatchLogsModel.model_validate(event).awslogs.decoded_data
    assert decoded.messageType == "DATA_MESSAGE"
    assert decoded.logEvents[0].message == "loss=1"
    assert len(decoded.logEvents[0].id) == 56
    control = CloudWatchLogsModel.model_validate(cloudwatch_logs_control_event()).awslogs.decoded_data
    assert control.messageType == "CONTROL_MESSAGE"


def test_firehose_event_matches_the_powertools_model():
    datum = MetricDatum("AWS/SageMaker", "GPUUtilization", {"Host": "j/algo-1"}, 60_000, "Percent", 90, 10, 100, 2)
    for output_format in ("json", "opentelemetry1.0"):
        event = firehose_metric_stream_event([[datum], [datum, datum]], format=output_format, seed=5)
        model = KinesisFirehoseModel.model_validate(event)
        assert len(model.records) == 2
        assert model.deliveryStreamArn.startswith("arn:aws:firehose:us-east-1:123456789012:deliverystream/")
        assert all(len(record.recordId) == 56 for record in model.records)
    json_event = firehose_metric_stream_event([[datum]], format="json")
    assert json.loads(base64.b64decode(json_event["records"][0]["data"]))["metric_name"] == "GPUUtilization"


def test_sagemaker_event_matches_the_eventbridge_model():
    event = sagemaker_training_job_state_change("j", "Completed", end_ms=1_700_000_500_000)
    model = EventBridgeModel.model_validate(event)
    assert model.detail_type == "SageMaker Training Job State Change"
    assert model.source == "aws.sagemaker"
    assert model.resources == [event["detail"]["TrainingJobArn"]]
    # A re-sent event is byte-identical, ids included.
    assert sagemaker_training_job_state_change("j", "Completed", end_ms=1_700_000_500_000) == event


def test_http_api_event_is_a_complete_payload_v2():
    event = http_api_event(
        "post",
        "/v1/runs/r-1/metrics",
        body={"metrics": [{"key": "loss", "value": 0.5}]},
        query={"tag": ["a", "b"], "limit": "10"},
        headers={"X-Client": "sdk"},
        route_key="POST /v1/runs/{run_id}/metrics",
        path_parameters={"run_id": "r-1"},
    )
    model = APIGatewayProxyEventV2Model.model_validate(event)
    assert model.version == "2.0"
    assert model.routeKey == "POST /v1/runs/{run_id}/metrics"
    assert model.rawQueryString == "tag=a&tag=b&limit=10"
    assert model.queryStringParameters == {"tag": "a,b", "limit": "10"}
    assert model.requestContext.stage == "$default"
    assert model.requestContext.http.method == "POST"
    assert model.requestContext.authorizer.iam.accountId == "123456789012"
    assert model.pathParameters == {"run_id": "r-1"}
    assert json.loads(model.body) == {"metrics": [{"key": "loss", "value": 0.5}]}
    assert model.headers["x-client"] == "sdk" and model.headers["content-type"] == "application/json"
    wrapped = APIGatewayProxyEventV2(event)
    assert wrapped.json_body == {"metrics": [{"key": "loss", "value": 0.5}]}
    assert wrapped.request_context.time_epoch == 1_700_000_000_000


def test_http_api_event_binary_body_and_jwt():
    event = http_api_event("GET", "/v1/experiments", body=b"\x00\x01", authorizer=jwt_authorizer({"sub": "u1"}, ["read"]))
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\x01"
    assert event["requestContext"]["authorizer"] == {"jwt": {"claims": {"sub": "u1"}, "scopes": ["read"]}}
    assert "queryStringParameters" not in event and event["rawQueryString"] == ""
    unauthorised = http_api_event("GET", "/v1/health", authorizer=None)
    assert "authorizer" not in unauthorised["requestContext"] and "body" not in unauthorised


def test_lambda_context_has_what_powertools_reads():
    context = lambda_context(function_name="ingest-logs", remaining_time_ms=1234)
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:ingest-logs"
    assert context.log_group_name == "/aws/lambda/ingest-logs"
    assert context.get_remaining_time_in_millis() == 1234
    assert (context.memory_limit_in_mb, context.function_version) == (512, "$LATEST")
