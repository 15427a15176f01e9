"""Metric ingestion: CloudWatch Logs subscriptions, a CloudWatch metric stream through Firehose, and
SageMaker training-job state changes from EventBridge, each into its own Lambda function.

Every asynchronous invocation has a dead-letter queue; errors and dead letters raise alarms
(infra/constructs/monitoring.py).
"""
from __future__ import annotations

from aws_cdk import (
    Duration,
    Stack,
    RemovalPolicy,
    aws_cloudwatch as cloudwatch,
    aws_events as events,
    aws_events_targets as targets,
    aws_iam as iam,
    aws_kinesisfirehose as firehose,
    aws_lambda as lambda_,
    aws_lambda_destinations as destinations,
    aws_logs as logs,
    aws_logs_destinations as log_destinations,
    aws_s3 as s3,
    aws_sqs as sqs,
)
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.function import SharedLayers, SkytuneFunction
from infra.constructs.storage import Storage
from infra.constructs.tuning import stop_skytune_training_jobs

SAGEMAKER_STATE_CHANGE = "SageMaker Training Job State Change"


def trials_log_group_name(stage: str) -> str:
    """Where trials that are not SageMaker jobs (Lambda, external workers, local processes) log."""
    return f"/skytune/{stage}/trials"


class Ingestion(Construct):
    def __init__(self, scope: Construct, id: str, *, config: StageConfig, layers: SharedLayers, storage: Storage) -> None:
        super().__init__(scope, id)
        common = dict(source_folder="ingest", layers=layers, config=config, environment=storage.environment())
        # Reserved concurrency: a burst of training logs (asynchronous deliveries, retried when throttled)
        # cannot take the account's whole concurrency from the API (docs/security.md, README "Deploy").
        self.logs_function = SkytuneFunction(self, "Logs", handler="skytune_ingest.logs.lambda_handler",
                                             description="skytune: CloudWatch Logs subscription → metrics",
                                             reserved_concurrency=config.logs_ingestion_concurrency, **common)
        self.events_function = SkytuneFunction(self, "Events", handler="skytune_ingest.events.lambda_handler",
                                               description="skytune: SageMaker training job state → runs", **common)
        self.stream_function = SkytuneFunction(
            self, "MetricStreamTransform", handler="skytune_ingest.metric_stream.lambda_handler",
            description="skytune: metric stream (Firehose transformation) → metrics",
            timeout=Duration.minutes(3),  # Firehose allows a transformation up to 5 minutes
            **{**common, "environment": {**storage.environment(), "METRIC_STREAM_FORMAT": config.metric_stream_format}},
        )
        self.functions = [self.logs_function, self.events_function, self.stream_function]
        for function in self.functions:
            storage.grant_read_write(function.function)

        self.dead_letter_queues: list[sqs.Queue] = []
        self._logs_subscriptions(config)
        self._training_job_events()
        self._metric_stream(config)

    def _dead_letter_queue(self, id: str) -> sqs.Queue:
        queue = sqs.Queue(
            self, id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.dead_letter_queues.append(queue)
        return queue

    def _async_failures_to(self, function: SkytuneFunction, id: str) -> None:
        """Lambda's own retries (2) for asynchronous invocations, then the dead-letter queue."""
        queue = self._dead_letter_queue(id)
        lambda_.EventInvokeConfig(
            self, f"{id}InvokeConfig", function=function.function, retry_attempts=2,
            max_event_age=Duration.hours(6),
            on_failure=destinations.SqsDestination(queue),
        )
        queue.grant_send_messages(function.role)

    def _logs_subscriptions(self, config: StageConfig) -> None:
        self._async_failures_to(self.logs_function, "LogsDeadLetters")
        # Early stopping of tuning trials that run as SageMaker training jobs (skytune_ingest.early_stopping).
        self.logs_function.role.add_to_policy(stop_skytune_training_jobs(Stack.of(self)))
        self.trials_log_group = logs.LogGroup(
            self, "TrialLogs", log_group_name=trials_log_group_name(config.stage),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.trials_log_group.node.default_child.retention_in_days = config.log_retention_days
        groups = [self.trials_log_group] + [
            logs.LogGroup.from_log_group_name(self, f"Subscribed{i}", name)
            for i, name in enumerate(config.subscribed_log_groups)
        ]
        for i, group in enumerate(groups):
            logs.SubscriptionFilter(
                self, f"Subscription{i}", log_group=group,
                destination=log_destinations.LambdaDestination(self.logs_function.function),
                filter_pattern=logs.FilterPattern.all_events(),
            )

    def _training_job_events(self) -> None:
        self._async_failures_to(self.events_function, "EventsDeadLetters")
        delivery_failures = self._dead_letter_queue("EventDeliveryDeadLetters")
        events.Rule(
            self, "TrainingJobStateChange",
            description="SageMaker training jobs become tracked runs",
            event_pattern=events.EventPattern(source=["aws.sagemaker"], detail_type=[SAGEMAKER_STATE_CHANGE]),
            targets=[targets.LambdaFunction(
                self.events_function.function, dead_letter_queue=delivery_failures,
                retry_attempts=8, max_event_age=Duration.hours(24),
            )],
        )

    def _metric_stream(self, config: StageConfig) -> None:
        self.stream_bucket = s3.Bucket(
            self, "MetricStreamBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(config.metric_stream_archive_days),
                                              noncurrent_version_expiration=Duration.days(1))],
        )
        self.firehose_role = firehose_role = iam.Role(self, "FirehoseRole", assumed_by=iam.ServicePrincipal("firehose.amazonaws.com"))
        # Firehose's documented S3 destination permissions, named one by one (no s3:DeleteObject*/Abort* wildcards).
        firehose_role.add_to_policy(iam.PolicyStatement(
            actions=["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
                     "s3:ListBucketMultipartUploads", "s3:PutObject"],
            resources=[self.stream_bucket.bucket_arn, self.stream_bucket.arn_for_objects("*")]))
        self.stream_function.function.grant_invoke(firehose_role)
        self.delivery_stream = firehose.CfnDeliveryStream(
            self, "DeliveryStream",
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                key_type="AWS_OWNED_CMK"),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=self.stream_bucket.bucket_arn,
                role_arn=firehose_role.role_arn,
                prefix="metric-stream/",
                error_output_prefix="processing-failed/!{firehose:error-output-type}/",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(interval_in_seconds=60, size_in_m_bs=5),
                compression_format="GZIP",
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[firehose.CfnDeliveryStream.ProcessorProperty(
                        type="Lambda",
                        parameters=[
                            firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                parameter_name="LambdaArn", parameter_value=self.stream_function.function.function_arn),
                            firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                parameter_name="BufferSizeInMBs", parameter_value="1"),
                            firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                parameter_name="BufferIntervalInSeconds", parameter_value="60"),
                        ],
                    )],
                ),
            ),
        )
        self.delivery_stream.node.add_dependency(firehose_role)
        stream_role = iam.Role(self, "MetricStreamRole", assumed_by=iam.ServicePrincipal("streams.metrics.cloudwatch.amazonaws.com"))
        stream_role.add_to_policy(iam.PolicyStatement(
            actions=["firehose:PutRecord", "firehose:PutRecordBatch"], resources=[self.delivery_stream.attr_arn]))
        self.metric_stream = cloudwatch.CfnMetricStream(
            self, "MetricStream",
            firehose_arn=self.delivery_stream.attr_arn,
            role_arn=stream_role.role_arn,
            output_format=config.metric_stream_format,
            include_filters=[cloudwatch.CfnMetricStream.MetricStreamFilterProperty(namespace=n)
                             for n in config.metric_stream_namespaces] or None,
        )
