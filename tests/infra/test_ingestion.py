"""Ingestion plumbing in the template: three functions, their triggers, dead letters and alarms."""
from __future__ import annotations

from aws_cdk.assertions import Match, Template

from tests.infra.conftest import synth_stack


def function_logical_id(template: Template, handler: str) -> str:
    found = template.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": handler}})
    assert len(found) == 1, handler
    return next(iter(found))


def test_log_groups_from_context_and_the_trials_group_are_subscribed(tmp_path):
    template = Template.from_stack(synth_stack(tmp_path, subscribedLogGroups=["/aws/sagemaker/TrainingJobs", "/my/jobs"]))
    logs_fn = function_logical_id(template, "skytune_ingest.logs.lambda_handler")
    filters = template.find_resources("AWS::Logs::SubscriptionFilter")
    groups = sorted(str(f["Properties"]["LogGroupName"]) for f in filters.values())
    assert "/aws/sagemaker/TrainingJobs" in groups and "/my/jobs" in groups and len(filters) == 3
    for resource in filters.values():
        assert resource["Properties"]["DestinationArn"] == {"Fn::GetAtt": [logs_fn, "Arn"]}
        assert resource["Properties"]["FilterPattern"] == ""
    template.has_resource_properties("AWS::Logs::LogGroup", {"LogGroupName": "/skytune/dev/trials"})


def test_sagemaker_state_changes_go_to_the_events_function_with_a_dead_letter_queue(template):
    events_fn = function_logical_id(template, "skytune_ingest.events.lambda_handler")
    template.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Training Job State Change"]},
        "Targets": [Match.object_like({
            "Arn": {"Fn::GetAtt": [events_fn, "Arn"]},
            "DeadLetterConfig": {"Arn": Match.any_value()},
            "RetryPolicy": {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 86400},
        })],
    })


def test_every_asynchronously_invoked_function_has_a_dead_letter_destination(template):
    configs = template.find_resources("AWS::Lambda::EventInvokeConfig")
    targets = {c["Properties"]["FunctionName"]["Ref"] for c in configs.values()}
    for handler in ("skytune_ingest.logs.lambda_handler", "skytune_ingest.events.lambda_handler"):
        assert function_logical_id(template, handler) in targets
    for config in configs.values():
        assert config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][1] == "Arn"
        assert config["Properties"]["MaximumRetryAttempts"] == 2


def test_metric_stream_feeds_firehose_with_the_transformation_function(template):
    transform = function_logical_id(template, "skytune_ingest.metric_stream.lambda_handler")
    template.has_resource_properties("AWS::KinesisFirehose::DeliveryStream", {
        "DeliveryStreamEncryptionConfigurationInput": {"KeyType": "AWS_OWNED_CMK"},
        "ExtendedS3DestinationConfiguration": Match.object_like({
            "ErrorOutputPrefix": Match.string_like_regexp("processing-failed/"),
            "ProcessingConfiguration": {"Enabled": True, "Processors": [Match.object_like({
                "Type": "Lambda",
                "Parameters": Match.array_with([{"ParameterName": "LambdaArn", "ParameterValue": {"Fn::GetAtt": [transform, "Arn"]}}]),
            })]},
        }),
    })
    template.has_resource_properties("AWS::CloudWatch::MetricStream", {
        "OutputFormat": "json",
        "IncludeFilters": [{"Namespace": "/aws/sagemaker/TrainingJobs"}],
    })
    functions = template.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": "skytune_ingest.metric_stream.lambda_handler"}})
    assert next(iter(functions.values()))["Properties"]["Environment"]["Variables"]["METRIC_STREAM_FORMAT"] == "json"


def test_opentelemetry_format_is_selectable(tmp_path):
    template = Template.from_stack(synth_stack(tmp_path, metricStreamFormat="opentelemetry1.0"))
    template.has_resource_properties("AWS::CloudWatch::MetricStream", {"OutputFormat": "opentelemetry1.0"})


def test_errors_and_dead_letters_raise_alarms(template):
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    error_alarms = [a for a in alarms.values() if a["Properties"].get("MetricName") == "Errors"]
    depth_alarms = [a for a in alarms.values() if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"]
    assert len(error_alarms) >= 3
    ingestion_queues = [q for q in template.find_resources("AWS::SQS::Queue") if q.startswith("Ingestion")]
    alarmed = {a["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for a in depth_alarms}
    assert set(ingestion_queues) <= alarmed and len(ingestion_queues) == 3


def test_queues_are_encrypted_and_refuse_plain_http(template):
    for queue in template.find_resources("AWS::SQS::Queue").values():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in queue["Properties"]
    policies = template.find_resources("AWS::SQS::QueuePolicy")
    assert any("aws:SecureTransport" in str(p) for p in policies.values())
