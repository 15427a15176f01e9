"""Presigned artifact uploads (skytune.artifacts): the API function signs S3 URLs for the artifacts
bucket, so its role's rights are what a URL can do. They are scoped to the artifact prefix
(`<experiment>/<run id>/artifacts/...`, the keys MLflow's proxy uses too) and to the object
actions uploads and downloads need; a bucket policy denies the same role everything outside that
prefix, so a broader grant added later cannot widen what a URL reaches."""
from __future__ import annotations

from aws_cdk import aws_iam as iam, aws_lambda as lambda_, aws_s3 as s3
from constructs import Construct

#: Object keys the API may presign: a run's artifacts (`<experiment>/<run id>/artifacts/<path>`).
ARTIFACT_KEY_PATTERN = "*/*/artifacts/*"
#: PutObject also covers CreateMultipartUpload, UploadPart and CompleteMultipartUpload; GetObject
#: covers HeadObject (the size and checksum read back on completion).
OBJECT_ACTIONS = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]


class ArtifactUploads(Construct):
    def __init__(self, scope: Construct, id: str, *, bucket: s3.IBucket, function: lambda_.Function) -> None:
        super().__init__(scope, id)
        self.bucket = bucket
        self.objects = bucket.arn_for_objects(ARTIFACT_KEY_PATTERN)
        function.add_environment("ARTIFACTS_BUCKET", bucket.bucket_name)
        function.add_to_role_policy(iam.PolicyStatement(sid="PresignArtifacts", actions=OBJECT_ACTIONS,
                                                        resources=[self.objects]))
        # Without ListBucket, HeadObject on a missing key answers 403 instead of 404 (S3's rule);
        # the API lists nothing itself.
        function.add_to_role_policy(iam.PolicyStatement(sid="ArtifactsNotFound", actions=["s3:ListBucket"],
                                                        resources=[bucket.bucket_arn]))
        bucket.add_to_resource_policy(iam.PolicyStatement(
            sid="PresignOnlyArtifacts", effect=iam.Effect.DENY,
            principals=[iam.ArnPrincipal(function.role.role_arn)],
            actions=["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            not_resources=[self.objects]))
