"""Alarms that reach someone (issue 13): every alarm has the topic as its action, every function and every
asynchronous path has an alarm, the dashboard is switchable. Generic over the template, so a function,
queue or event source added later without an alarm fails here."""
from __future__ import annotations

import json

from aws_cdk import App, Stack, aws_sqs as sqs
from aws_cdk.assertions import Template
from constructs import Construct

from tests.conftest import NO_ASSET_COPIES
from tests.infra.conftest import synth_stack


def _ref(value) -> str | None:
    """The logical id a Ref / Fn::GetAtt points at."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


def alarms(template: Template) -> dict[str, dict]:
    return {lid: a["Properties"] for lid, a in template.find_resources("AWS::CloudWatch::Alarm").items()}


def alarmed(template: Template, namespace: str, metric: str, dimension: str) -> set[str]:
    """Logical ids of the resources an alarm on (namespace, metric) watches through ``dimension``,
    whether the alarm uses the metric directly or inside a math expression."""
    found = set()
    for props in alarms(template).values():
        stats = [props] if "MetricName" in props else [
            q["MetricStat"]["Metric"] for q in props.get("Metrics", []) if "MetricStat" in q]
        for stat in stats:
            if stat.get("Namespace") == namespace and stat.get("MetricName") == metric:
                found |= {_ref(d["Value"]) or d["Value"] for d in stat.get("Dimensions", []) if d["Name"] == dimension}
    return found


def skytune_functions(template: Template) -> set[str]:
    return {lid for lid, f in template.find_resources("AWS::Lambda::Function").items()
            if "POWERTOOLS_SERVICE_NAME" in f["Properties"].get("Environment", {}).get("Variables", {})}


def test_every_alarm_notifies_the_alarm_topic(template):
    topic = next(iter(template.find_resources("AWS::SNS::Topic")))
    found = alarms(template)
    assert len(found) >= 30
    for lid, props in found.items():
        assert props["AlarmActions"] == [{"Ref": topic}], lid
        assert props["AlarmDescription"], lid
        assert props["TreatMissingData"] == "notBreaching", lid


def test_alarm_email_subscribes_to_the_topic(tmp_path, template):
    assert not template.find_resources("AWS::SNS::Subscription")
    with_email = Template.from_stack(synth_stack(tmp_path, alarmEmail="ops@example.com"))
    with_email.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"})


def test_every_skytune_function_has_error_and_throttle_alarms(template):
    functions = skytune_functions(template)
    assert len(functions) >= 10
    assert functions <= alarmed(template, "AWS/Lambda", "Errors", "FunctionName")
    assert functions <= alarmed(template, "AWS/Lambda", "Throttles", "FunctionName")


def dead_letter_queues(template: Template) -> set[str]:
    """Every queue the template uses as a dead letter: SQS redrive, Lambda on-failure destinations
    (asynchronous invocations and event source mappings), EventBridge target DLQs."""
    resources = template.to_json()["Resources"]
    found = set()
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in props:
            found.add(_ref(props["RedrivePolicy"]["deadLetterTargetArn"]))
        if resource["Type"] in ("AWS::Lambda::EventInvokeConfig", "AWS::Lambda::EventSourceMapping"):
            destination = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            if destination is not None:
                found.add(_ref(destination))
        if resource["Type"] == "AWS::Events::Rule":
            found |= {_ref(t["DeadLetterConfig"]["Arn"]) for t in props.get("Targets", []) if "DeadLetterConfig" in t}
    return {lid for lid in found if lid and resources[lid]["Type"] == "AWS::SQS::Queue"}


def test_every_dead_letter_queue_has_a_depth_alarm(template):
    queues = dead_letter_queues(template)
    assert len(queues) >= 4  # three ingestion paths and the trials' queue
    assert any(q.startswith("TuningTrialDeadLetters") for q in queues)
    assert queues <= alarmed(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName")


def test_every_asynchronous_event_source_has_an_alarm(template):
    resources = template.to_json()["Resources"]
    errors = alarmed(template, "AWS/Lambda", "Errors", "FunctionName")
    # Lambda's asynchronous invocations (log subscriptions), event source mappings, EventBridge targets
    targets = set()
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::Lambda::EventInvokeConfig", "AWS::Lambda::EventSourceMapping"):
            targets.add(_ref(props["FunctionName"]))
        if resource["Type"] == "AWS::Logs::SubscriptionFilter":
            targets.add(_ref(props["DestinationArn"]))
        if resource["Type"] == "AWS::Events::Rule":
            targets |= {_ref(t["Arn"]) for t in props.get("Targets", [])
                        if resources.get(_ref(t["Arn"]), {}).get("Type") == "AWS::Lambda::Function"}
    assert len(targets) >= 2 and targets <= errors
    # Firehose: delivery and transformation failures
    streams = set(template.find_resources("AWS::KinesisFirehose::DeliveryStream"))
    assert streams <= alarmed(template, "AWS/Firehose", "DeliveryToS3.Success", "DeliveryStreamName")
    assert streams <= alarmed(template, "AWS/Firehose", "ExecuteProcessing.Success", "DeliveryStreamName")
    # Step Functions: failed and timed-out executions
    machines = set(template.find_resources("AWS::StepFunctions::StateMachine"))
    assert machines <= alarmed(template, "AWS/States", "ExecutionsFailed", "StateMachineArn")
    assert machines <= alarmed(template, "AWS/States", "ExecutionsTimedOut", "StateMachineArn")


def test_api_and_tables_are_alarmed(template):
    apis = set(template.find_resources("AWS::ApiGatewayV2::Api"))
    assert apis <= alarmed(template, "AWS/ApiGateway", "5xx", "ApiId")
    assert apis <= alarmed(template, "AWS/ApiGateway", "Latency", "ApiId")
    latency = next(p for p in alarms(template).values() if p.get("MetricName") == "Latency")
    assert latency["ExtendedStatistic"] == "p99"
    tables = set(template.find_resources("AWS::DynamoDB::GlobalTable"))
    assert tables <= alarmed(template, "AWS/DynamoDB", "WriteThrottleEvents", "TableName")
    assert tables <= alarmed(template, "AWS/DynamoDB", "ReadThrottleEvents", "TableName")


def test_dashboard_shows_the_signals_and_is_switchable(tmp_path, template):
    dashboards = template.find_resources("AWS::CloudWatch::Dashboard")
    assert len(dashboards) == 1
    body = json.dumps(next(iter(dashboards.values()))["Properties"]["DashboardBody"])
    for title in ("API 5xx rate", "Function errors", "Dead-letter queue depth", "Ingestion rate",
                  "Tuning jobs in progress", "DynamoDB throttled requests", "Metric stream (Firehose)"):
        assert title in body, title
    without = Template.from_stack(synth_stack(tmp_path, operationsDashboard="false"))
    assert not without.find_resources("AWS::CloudWatch::Dashboard")
    assert len(alarms(without)) == len(alarms(template))  # the alarms stay


def test_log_ingestion_has_reserved_concurrency(tmp_path, template):
    logs_fn = template.find_resources("AWS::Lambda::Function", {
        "Properties": {"Handler": "skytune_ingest.logs.lambda_handler"}})
    assert next(iter(logs_fn.values()))["Properties"]["ReservedConcurrentExecutions"] == 10
    api_fn = template.find_resources("AWS::Lambda::Function", {
        "Properties": {"Handler": "skytune_api.handler.lambda_handler"}})
    assert "ReservedConcurrentExecutions" not in next(iter(api_fn.values()))["Properties"]
    off = Template.from_stack(synth_stack(tmp_path, logsIngestionConcurrency=0))
    logs_fn = off.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": "skytune_ingest.logs.lambda_handler"}})
    assert "ReservedConcurrentExecutions" not in next(iter(logs_fn.values()))["Properties"]


def test_a_function_added_anywhere_in_the_stack_is_watched_without_registration(tmp_path):
    """What another construct gets for free: watch_stack finds every SkytuneFunction."""
    from infra.config import StageConfig
    from infra.constructs.function import SharedLayers, SkytuneFunction
    from infra.constructs.monitoring import Monitoring

    app = App(context=NO_ASSET_COPIES, outdir=str(tmp_path))
    stack = Stack(app, "probe")
    config = StageConfig()
    layers = SharedLayers(stack, "Layers", config=config)
    holder = Construct(stack, "SomeoneElses")  # two constructs deep, as in another helper's construct
    SkytuneFunction(holder, "NewConsumer", source_folder="api", handler="x.handler", layers=layers, config=config,
                    environment={})
    sqs.Queue(holder, "ConsumerDeadLetters")
    monitoring = Monitoring(stack, "Monitoring", config=config)
    monitoring.watch_stack(stack)
    template = Template.from_stack(stack)
    function = next(iter(template.find_resources("AWS::Lambda::Function")))
    assert function in alarmed(template, "AWS/Lambda", "Errors", "FunctionName")
    assert function in alarmed(template, "AWS/Lambda", "Throttles", "FunctionName")
    queue = next(iter(template.find_resources("AWS::SQS::Queue")))
    assert queue in alarmed(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName")
