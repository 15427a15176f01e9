"""The experiment index (skytune.index): its table, and the function that keeps it up to date from
the tracking and metrics tables' DynamoDB Streams (lambdas/index).

The index is derived data: `skytune reindex` rebuilds it from the tracking table, so the stream
consumer's failures go to an on-failure queue (with an alarm) after retries and bisection, and a
lost batch costs a rebuild, never tracking data.
"""
from __future__ import annotations

from aws_cdk import Duration, aws_cloudwatch as cloudwatch, aws_lambda as lambda_, aws_sqs as sqs
from aws_cdk import aws_lambda_event_sources as sources
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.function import SharedLayers, SkytuneFunction
from infra.constructs.storage import Storage, _table, grant_data

ENV_INDEX_TABLE = "INDEX_TABLE"


class ExperimentIndex(Construct):
    def __init__(self, scope: Construct, id: str, *, config: StageConfig, layers: SharedLayers, storage: Storage,
                 readers: list[SkytuneFunction]) -> None:
        super().__init__(scope, id)
        self.table = _table(self, "IndexTable")
        environment = {**storage.environment(), ENV_INDEX_TABLE: self.table.table_name}
        self.function = SkytuneFunction(
            self, "Consumer", source_folder="index", handler="skytune_index.handler.lambda_handler",
            layers=layers, config=config, environment=environment, memory_mb=1024, timeout=Duration.seconds(60),
            description="skytune: tracking/metrics table streams → experiment indexes",
        )
        storage.grant_read_write(self.function.function)  # reads runs; a rebuild reads experiments
        grant_data(self.table, self.function.function)
        # Readers (the API) answer searches from the index and rebuild a missing or corrupt one.
        for reader in readers:
            reader.function.add_environment(ENV_INDEX_TABLE, self.table.table_name)
            grant_data(self.table, reader.function)

        self.dead_letters = sqs.Queue(self, "FailedBatches", encryption=sqs.QueueEncryption.SQS_MANAGED,
                                      enforce_ssl=True, retention_period=Duration.days(14))
        NagSuppressions.add_resource_suppressions(self.dead_letters, [NagPackSuppression(
            id="AwsSolutions-SQS3",
            reason="This queue is itself the on-failure destination of the index consumer's stream mappings; a DLQ "
                   "of a DLQ adds nothing (its depth alarm pages instead).")], apply_to_children=True)
        for table in (storage.tracking, storage.metrics):
            self.function.function.add_event_source(sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=1000,
                max_batching_window=Duration.seconds(1),  # part of the documented staleness bound
                bisect_batch_on_error=True,
                retry_attempts=5,
                max_record_age=Duration.hours(6),
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(self.dead_letters),
            ))
        self.functions = [self.function]
        self.alarms = [
            self.function.function.metric_errors(period=Duration.minutes(5)).create_alarm(
                self, "ConsumerErrors", threshold=1, evaluation_periods=1,
                alarm_description="the experiment index consumer failed (searches may be stale until it recovers)",
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING),
            self.dead_letters.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)).create_alarm(
                self, "FailedBatchesDepth", threshold=1, evaluation_periods=1,
                alarm_description="stream batches the index consumer gave up on: run `skytune reindex` for their experiments",
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING),
        ]
