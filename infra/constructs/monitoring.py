"""Alarms that reach someone, and one dashboard of the same signals (README "Deploy", docs/security.md).

Every alarm publishes to one SNS topic (an e-mail subscription when the stage config names
``alarmEmail``). What is watched:

- the HTTP API: 5xx rate and p99 latency;
- every skytune function: errors and throttles. ``watch_stack`` finds every :class:`SkytuneFunction`
  in the stack, so a function added by another construct is watched without a line of its own;
  ``watch_function`` registers any other function explicitly (one call);
- the tuning state machine: failed and timed-out executions;
- every dead-letter queue (``watch_dead_letter_queue``, or found by its name: ``…DeadLetters``, ``…Dlq``):
  its depth;
- the Firehose delivery stream: delivery and transformation failures;
- every table: throttled reads and writes.

The dashboard adds the ingestion rate and the tuning executions in progress. A CloudWatch dashboard
costs $3 per month beyond an account's first three; ``-c operationsDashboard=false`` leaves it out.
"""
from __future__ import annotations

import re

from aws_cdk import Duration, Stack, aws_cloudwatch as cloudwatch, aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb, aws_kinesisfirehose as firehose, aws_lambda as lambda_
from aws_cdk import aws_sns as sns, aws_sns_subscriptions as subscriptions, aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_apigatewayv2 as apigw
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra import constants
from infra.config import StageConfig
from infra.constructs.function import SkytuneFunction

PERIOD = Duration.minutes(5)
API_5XX_PERCENT = 5  # alarm when more than 5 % of requests fail on the server side for 10 minutes
API_P99_LATENCY_MS = 5000  # alarm when p99 latency stays above 5 s for 15 minutes
WIDTH = 8  # three graphs per dashboard row (24 columns)


class Monitoring(Construct):
    def __init__(self, scope: Construct, id: str, *, config: StageConfig) -> None:
        super().__init__(scope, id)
        self.config = config
        self.topic = sns.Topic(self, "AlarmTopic", display_name=f"skytune {config.stage} alarms", enforce_ssl=True)
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        NagSuppressions.add_resource_suppressions(self.topic, [NagPackSuppression(
            id="AwsSolutions-SNS2",
            reason="Alarm notifications carry alarm names and states only, no data. CloudWatch cannot publish to a "
                   "topic encrypted with the AWS-managed SNS key, and a customer-managed key costs $1/month.",
        )])
        self._action = actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []
        self._watched: set[str] = set()
        self._widgets: dict[str, list[cloudwatch.IMetric]] = {"errors": [], "throttles": [], "dead_letters": []}
        self._rows: list[list[cloudwatch.IWidget]] = []
        self.dashboard: cloudwatch.Dashboard | None = None

    # -- registration ------------------------------------------------------------------------------
    def alarm(self, id: str, metric: cloudwatch.IMetric, *, threshold: float, description: str,
              evaluation_periods: int = 1,
              comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
              ) -> cloudwatch.Alarm:
        """An alarm whose action is the alarm topic (every alarm of the stack is made here)."""
        alarm = cloudwatch.Alarm(
            self, id, metric=metric, threshold=threshold, evaluation_periods=evaluation_periods,
            comparison_operator=comparison, alarm_description=description,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        self.alarms.append(alarm)
        return alarm

    def adopt(self, alarm: cloudwatch.Alarm) -> None:
        """An alarm made elsewhere: give it the topic as its action."""
        alarm.add_alarm_action(self._action)
        self.alarms.append(alarm)

    def watch_function(self, function: SkytuneFunction | lambda_.Function, name: str | None = None) -> None:
        """Errors and throttles of one function (idempotent)."""
        fn = function.function if isinstance(function, SkytuneFunction) else function
        if fn.node.path in self._watched:
            return
        self._watched.add(fn.node.path)
        name = name or _name(fn)
        # Alarms on plain metrics (MetricName in the template); the dashboard's copies carry labels.
        errors = fn.metric_errors(period=PERIOD)
        throttles = fn.metric_throttles(period=PERIOD)
        self.alarm(f"{name}Errors", errors, threshold=1, description=f"{name} failed (see its log group)")
        # A function with reserved concurrency is throttled by design during bursts (asynchronous
        # deliveries wait and retry); only sustained throttling (15 minutes) means it cannot keep up.
        reserved = fn.node.default_child.reserved_concurrent_executions is not None
        self.alarm(f"{name}Throttles", throttles, threshold=1, evaluation_periods=3 if reserved else 1,
                   description=f"{name} was throttled" + (" for 15 minutes: raise its reserved concurrency" if reserved
                                                          else ": the account's concurrency is exhausted"))
        self._widgets["errors"].append(errors.with_(label=name))
        self._widgets["throttles"].append(throttles.with_(label=name))

    def watch_dead_letter_queue(self, queue: sqs.IQueue, what: str) -> None:
        """Depth of a dead-letter queue: anything parked there was not processed."""
        name = _name(queue)
        if queue.node.path in self._watched:
            return
        self._watched.add(queue.node.path)
        depth = queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum")
        self.alarm(f"{name}Depth", depth, threshold=1,
                   description=f"{what} parked in {name}: inspect the messages, fix the cause, redrive")
        self._widgets["dead_letters"].append(depth.with_(label=name))

    def watch_api(self, http_api: apigw.HttpApi) -> None:
        requests = http_api.metric_count(period=PERIOD, statistic="Sum", label="requests")
        errors = http_api.metric_server_error(period=PERIOD, statistic="Sum", label="5xx")
        rate = cloudwatch.MathExpression(
            expression="IF(requests > 0, 100 * errors / requests, 0)", using_metrics={"requests": requests, "errors": errors},
            period=PERIOD, label="5xx %")
        latency = http_api.metric_latency(period=PERIOD, statistic="p99")
        self.alarm("Api5xxRate", rate, threshold=API_5XX_PERCENT, evaluation_periods=2,
                   comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                   description=f"more than {API_5XX_PERCENT}% of API requests failed with 5xx for 10 minutes")
        self.alarm("ApiLatencyP99", latency, threshold=API_P99_LATENCY_MS, evaluation_periods=3,
                   comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                   description=f"API p99 latency above {API_P99_LATENCY_MS} ms for 15 minutes")
        self._rows.append([
            _graph("API requests", [requests]), _graph("API 5xx rate (%)", [rate]), _graph("API latency p99 (ms)", [latency])])

    def watch_state_machine(self, state_machine: sfn.StateMachine) -> None:
        failed = state_machine.metric_failed(period=PERIOD, statistic="Sum")
        timed_out = state_machine.metric_timed_out(period=PERIOD, statistic="Sum")
        started = state_machine.metric_started(period=PERIOD, statistic="Sum", label="started")
        ended = {"succeeded": state_machine.metric_succeeded(period=PERIOD, statistic="Sum"),
                 "failed": failed, "timedout": timed_out,
                 "aborted": state_machine.metric_aborted(period=PERIOD, statistic="Sum")}
        self.alarm("TuningExecutionsFailed", failed, threshold=1,
                   description="a tuning state-machine execution failed: its tuning job may be stuck InProgress")
        self.alarm("TuningExecutionsTimedOut", timed_out, threshold=1,
                   description="a tuning state-machine execution timed out")
        # Step Functions publishes no "running executions" metric: started minus ended, summed over the
        # displayed range, is the change in executions in progress (exact when the range starts idle;
        # continue-as-new ends one execution and starts the next, so it counts once).
        in_progress = cloudwatch.MathExpression(
            expression="RUNNING_SUM(started - succeeded - failed - timedout - aborted)",
            using_metrics={"started": started, **ended}, period=PERIOD, label="tuning jobs in progress (net over range)")
        self._rows.append([
            _graph("Tuning executions", [started, *ended.values()]),
            _graph("Tuning jobs in progress", [in_progress]),
        ])

    def watch_delivery_stream(self, stream: firehose.CfnDeliveryStream, transform: lambda_.IFunction | None = None) -> None:
        def metric(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace="AWS/Firehose", metric_name=name, period=PERIOD, statistic="Average",
                                     dimensions_map={"DeliveryStreamName": stream.ref})
        delivery, processing = metric("DeliveryToS3.Success"), metric("ExecuteProcessing.Success")
        below_one = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
        self.alarm("FirehoseDeliveryFailures", delivery, threshold=1, comparison=below_one,
                   description="Firehose failed to deliver metric-stream records to S3")
        self.alarm("FirehoseTransformationFailures", processing, threshold=1, comparison=below_one,
                   description="Firehose failed to invoke the metric-stream transformation (records go to "
                               "processing-failed/ in the bucket)")
        # Records the transformation itself rejects (ProcessingFailed): its own EMF metric.
        rejected = cloudwatch.Metric(namespace=constants.METRICS_NAMESPACE, metric_name="RecordsFailed", period=PERIOD,
                                     statistic="Sum", dimensions_map={"service": constants.SERVICE_NAME})
        self.alarm("FirehoseRecordsRejected", rejected, threshold=1,
                   description="the metric-stream transformation marked records ProcessingFailed")
        self._rows.append([_graph("Metric stream (Firehose)", [delivery, processing]), _graph("Rejected records", [rejected])])

    def watch_table(self, table: dynamodb.TableV2) -> None:
        name = _name(table)
        def metric(metric_name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace="AWS/DynamoDB", metric_name=metric_name, period=PERIOD, statistic="Sum",
                                     dimensions_map={"TableName": table.table_name})
        n = len(self._widgets.setdefault("tables", []))  # metric ids must differ within one dashboard graph
        throttled = cloudwatch.MathExpression(
            expression=f"reads{n} + writes{n}", period=PERIOD, label=name,
            using_metrics={f"reads{n}": metric("ReadThrottleEvents"), f"writes{n}": metric("WriteThrottleEvents")})
        self.alarm(f"{name}Throttled", throttled, threshold=1,
                   description=f"DynamoDB throttled requests on {name}: a hot partition or an account limit")
        self._widgets["tables"].append(throttled)

    # -- the whole stack ---------------------------------------------------------------------------
    def watch_stack(self, stack: Stack) -> None:
        """Watch every skytune function of ``stack`` not yet watched, then build the dashboard.
        Call once, last, after every construct exists."""
        for construct in stack.node.find_all():
            if isinstance(construct, SkytuneFunction):
                self.watch_function(construct)
            # Queues named as dead letters (…DeadLetters, …Dlq) by convention; tests/infra/test_monitoring.py
            # finds every queue the template really uses as one and fails on any left without an alarm.
            elif isinstance(construct, sqs.Queue) and re.search(r"dead.?letter|dlq", construct.node.id, re.I):
                self.watch_dead_letter_queue(construct, "failed deliveries")
        ingestion_rate = cloudwatch.Metric(
            namespace=constants.METRICS_NAMESPACE, metric_name="PointsWritten", period=Duration.minutes(1),
            statistic="Sum", dimensions_map={"service": constants.SERVICE_NAME}, label="points/minute (log ingestion)")
        if not self.config.operations_dashboard:
            return
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{stack.stack_name}-operations",
                                              default_interval=Duration.hours(6))
        for row in self._rows:
            self.dashboard.add_widgets(*row)
        self.dashboard.add_widgets(
            _graph("Function errors", self._widgets["errors"]), _graph("Function throttles", self._widgets["throttles"]),
            _graph("Dead-letter queue depth", self._widgets["dead_letters"]))
        self.dashboard.add_widgets(
            _graph("Ingestion rate", [ingestion_rate]), _graph("DynamoDB throttled requests", self._widgets.get("tables", [])),
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=WIDTH, height=6))


def _graph(title: str, metrics: list[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=metrics, width=WIDTH, height=6)


def _name(construct: Construct) -> str:
    """A readable, unique id from the construct path: Ingestion/Logs/Function -> IngestionLogs."""
    parts = [p for p in construct.node.path.split("/")[1:] if p not in ("Function", "Resource", "Default")]
    return re.sub(r"[^A-Za-z0-9]", "", "".join(parts))
