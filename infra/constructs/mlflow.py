"""The MLflow tracking REST facade: its own function (lambdas/mlflow/) on the same HTTP API, so
`MLFLOW_TRACKING_URI=<api url>` points an unmodified MLflow client at skytune. The routes take
every `/api/...` and `/ajax-api/...` path: the resolver inside answers what skytune serves and
MLflow's own ENDPOINT_NOT_FOUND for the rest (model registry, artifacts, traces), so the client
shows MLflow's error rather than an unknown shape. The API's default authoriser applies."""
from __future__ import annotations

from aws_cdk import aws_iam as iam, RemovalPolicy, aws_apigatewayv2 as apigw, aws_apigatewayv2_integrations as integrations, aws_s3 as s3
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.api import WRITE_METHODS, Api
from infra.constructs.function import SharedLayers, SkytuneFunction
from infra.constructs.storage import Storage

MLFLOW_ROUTE_PATHS = ("/api/{proxy+}", "/ajax-api/{proxy+}")


class MlflowApi(Construct):
    def __init__(self, scope: Construct, id: str, *, config: StageConfig, layers: SharedLayers, storage: Storage,
                 api: Api) -> None:
        super().__init__(scope, id)
        self.handler = SkytuneFunction(
            self, "Handler",
            source_folder="mlflow",
            handler="skytune_mlflow.handler.lambda_handler",
            layers=layers,
            config=config,
            description="skytune MLflow tracking REST API",
            environment=storage.environment(),
        )
        storage.grant_read_write(self.handler.function)
        # MLflow's proxied artifacts (log_artifact, autolog's files): private, encrypted, TLS only, kept
        # when the stack is deleted, like the tables.
        self.artifacts = s3.Bucket(
            self, "Artifacts",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Named actions, no s3:GetObject*/List*/DeleteObject* wildcards (tests/infra/test_security.py).
        self.handler.function.add_to_role_policy(iam.PolicyStatement(
            actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            resources=[self.artifacts.arn_for_objects("*")]))
        self.handler.function.add_to_role_policy(iam.PolicyStatement(
            actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=[self.artifacts.bucket_arn]))
        self.handler.function.add_environment("ARTIFACTS_BUCKET", self.artifacts.bucket_name)
        integration = integrations.HttpLambdaIntegration("MlflowLambda", self.handler.function)
        for path in MLFLOW_ROUTE_PATHS:
            # One route class (docs/security.md): an MLflow client reads and writes through the same
            # routes, so with auth=jwt it needs skytune/write.
            api.add_routes(path, [apigw.HttpMethod.GET, apigw.HttpMethod.HEAD, *WRITE_METHODS], "write",
                           integration=integration)
