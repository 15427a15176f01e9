"""DynamoDB tables. The local runtime creates the same tables from the synthesised template."""
from aws_cdk import RemovalPolicy, aws_dynamodb as dynamodb
from constructs import Construct

from infra import constants


# Item reads and writes, without the stream actions (GetRecords, GetShardIterator) that CDK's
# grant_read_write_data adds: only a stream consumer needs those, and it gets them from grant_stream_read.
DATA_ACTIONS = (
    "dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:ConditionCheckItem",
    "dynamodb:BatchWriteItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
)


def grant_data(table: dynamodb.TableV2, grantee) -> None:
    """Read and write items of ``table`` and its indexes (no stream access)."""
    table.grant(grantee, *DATA_ACTIONS)


def _table(scope: Construct, id: str, *, ttl: str | None = None, indexes: int = 0, pk: str = "pk", sk: str | None = "sk",
           stream: dynamodb.StreamViewType | None = None) -> dynamodb.TableV2:
    table = dynamodb.TableV2(
        scope,
        id,
        partition_key=dynamodb.Attribute(name=pk, type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name=sk, type=dynamodb.AttributeType.STRING) if sk else None,
        billing=dynamodb.Billing.on_demand(),
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
        removal_policy=RemovalPolicy.RETAIN,
        time_to_live_attribute=ttl,
        deletion_protection=True,
        dynamo_stream=stream,
        global_secondary_indexes=[
            # Overloaded GSIs (gsiNpk/gsiNsk): each item type decides what it projects into them.
            dynamodb.GlobalSecondaryIndexPropsV2(
                index_name=f"gsi{n}",
                partition_key=dynamodb.Attribute(name=f"gsi{n}pk", type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=f"gsi{n}sk", type=dynamodb.AttributeType.STRING),
            )
            for n in range(1, indexes + 1)
        ],
    )
    return table


class Storage(Construct):
    """Three tables:

    - tracking: experiments, trials, runs, params, artifacts, tuning jobs (single-table design, two GSIs
      for listing by parent and looking up by name / artifact URI);
    - metrics: compact metric series chunks and per-metric summaries (kept apart so ingestion's write
      cost is measurable on its own);
    - idempotency: powertools idempotency records for retried deliveries (TTL-expired).
    """

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        # Streams feed the experiment index (infra/constructs/index.py); both images, so a deleted
        # run's record still names its experiment.
        self.tracking = _table(self, "TrackingTable", indexes=2, stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES)
        self.metrics = _table(self, "MetricsTable", stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES)
        self.idempotency = _table(self, "IdempotencyTable", ttl="expiration", pk="id", sk=None)

    @property
    def all_tables(self) -> list[dynamodb.TableV2]:
        return [self.tracking, self.metrics, self.idempotency]

    def environment(self) -> dict[str, str]:
        """The variables skytune.settings.Settings reads."""
        return {
            constants.ENV_TRACKING_TABLE: self.tracking.table_name,
            constants.ENV_METRICS_TABLE: self.metrics.table_name,
            constants.ENV_IDEMPOTENCY_TABLE: self.idempotency.table_name,
        }

    def grant_read_write(self, grantee) -> None:
        for table in self.all_tables:
            grant_data(table, grantee)
