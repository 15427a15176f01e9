"""cdk-nag findings we acknowledge, each with the reason it is acceptable.

Acknowledgements are scoped to the exact finding (`applies_to`) on the exact role, never stack-wide,
so a new wildcard elsewhere still fails tests/infra.
"""
from __future__ import annotations

from aws_cdk import Stack
from cdk_nag import NagPackSuppression, NagSuppressions

XRAY_REASON = (
    "X-Ray's PutTraceSegments/PutTelemetryRecords do not support resource-level permissions; "
    "AWS documents Resource '*' for them (Tracer needs them)."
)
GSI_REASON = (
    "Access to this table's own global secondary indexes (table-ARN/index/*); the wildcard never "
    "reaches another table."
)


def acknowledge_function_role(stack: Stack, role, tables) -> None:
    suppressions = [NagPackSuppression(id="AwsSolutions-IAM5", reason=XRAY_REASON, applies_to=["Resource::*"])]
    index_wildcards = [f"Resource::<{stack.get_logical_id(t.node.default_child)}.Arn>/index/*" for t in tables]
    if index_wildcards:
        suppressions.append(NagPackSuppression(id="AwsSolutions-IAM5", reason=GSI_REASON, applies_to=index_wildcards))
    NagSuppressions.add_resource_suppressions(role, suppressions, apply_to_children=True)


def acknowledge_ingestion(stack: Stack, ingestion) -> None:
    for queue in ingestion.dead_letter_queues:
        NagSuppressions.add_resource_suppressions(queue, [NagPackSuppression(
            id="AwsSolutions-SQS3",
            reason="This queue is itself the dead-letter queue of an asynchronous invocation; a DLQ of a DLQ adds nothing "
                   "(its depth alarm pages instead).",
        )], apply_to_children=True)
    NagSuppressions.add_resource_suppressions(ingestion.stream_bucket, [NagPackSuppression(
        id="AwsSolutions-S1",
        reason="The bucket only receives Firehose's copy of metric-stream records (no user access); server access "
               "logs would need a second bucket for no audit value. CloudTrail data events can be enabled per account.",
    )], apply_to_children=True)
    bucket = stack.get_logical_id(ingestion.stream_bucket.node.default_child)
    transform = stack.get_logical_id(ingestion.stream_function.function.node.default_child)
    NagSuppressions.add_resource_suppressions(ingestion.firehose_role, [
        NagPackSuppression(
            id="AwsSolutions-IAM5",
            reason="Firehose writes and retries multipart uploads of objects it names itself inside this one bucket "
                   "(its documented S3 destination actions on bucket/*).",
            applies_to=[f"Resource::<{bucket}.Arn>/*"],
        ),
        NagPackSuppression(
            id="AwsSolutions-IAM5",
            reason="Firehose invokes the transformation function by version/alias ARN (function-ARN:*), this function only.",
            applies_to=[f"Resource::<{transform}.Arn>:*"],
        ),
    ], apply_to_children=True)

    NagSuppressions.add_resource_suppressions(ingestion.logs_function.role, [NagPackSuppression(
        id="AwsSolutions-IAM5",
        reason="Early stopping stops the SageMaker training jobs of tuning trials, whose names are chosen at run "
               "time; the permission is StopTrainingJob only, on jobs tagged skytune:tuning-job.",
        applies_to=["Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/*"],
    )], apply_to_children=True)


def acknowledge_mlflow(stack: Stack, mlflow) -> None:
    NagSuppressions.add_resource_suppressions(mlflow.artifacts, [NagPackSuppression(
        id="AwsSolutions-S1",
        reason="Artifacts are written and read only through the MLflow function (its role, logged by CloudTrail "
               "management events and the API's access log); server access logs would need a second bucket.",
    )], apply_to_children=True)
    bucket = stack.get_logical_id(mlflow.artifacts.node.default_child)
    NagSuppressions.add_resource_suppressions(mlflow.handler.role, [NagPackSuppression(
        id="AwsSolutions-IAM5",
        reason="The MLflow artifact proxy reads, writes and lists objects whose keys the client chooses inside this "
               "one bucket (grant_read_write: s3:GetObject*, s3:PutObject*, s3:Abort*, s3:DeleteObject*, s3:List* on "
               "bucket/*).",
        applies_to=["Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*", "Action::s3:DeleteObject*",
                    "Action::s3:Abort*", f"Resource::<{bucket}.Arn>/*"],
    )], apply_to_children=True)


def acknowledge_artifact_uploads(stack: Stack, uploads, role) -> None:
    """The API function presigns uploads and downloads of run artifacts (infra/constructs/artifacts.py)."""
    bucket = stack.get_logical_id(uploads.bucket.node.default_child)
    NagSuppressions.add_resource_suppressions(role, [NagPackSuppression(
        id="AwsSolutions-IAM5",
        reason="Presigned artifact URLs name keys the client chooses, but only under a run's artifact prefix "
               "(<experiment>/<run id>/artifacts/...); the bucket policy denies this role every other key.",
        applies_to=[f"Resource::<{bucket}.Arn>/*/*/artifacts/*"],
    )], apply_to_children=True)
