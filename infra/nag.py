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
