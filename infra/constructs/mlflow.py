"""The MLflow tracking REST facade: its own function (lambdas/mlflow/) on the same HTTP API, so
`MLFLOW_TRACKING_URI=<api url>` points an unmodified MLflow client at skytune. The routes take
every `/api/...` and `/ajax-api/...` path: the resolver inside answers what skytune serves and
MLflow's own ENDPOINT_NOT_FOUND for the rest (model registry, artifacts, traces), so the client
shows MLflow's error rather than an unknown shape. The API's default authoriser applies."""
from __future__ import annotations

from aws_cdk import RemovalPolicy, aws_apigatewayv2 as apigw, aws_apigatewayv2_integrations as integrations, aws_s3 as s3
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.api import Api
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
        self.artifacts.grant_read_write(self.handler.function)
        self.handler.function.add_environment("ARTIFACTS_BUCKET", self.artifacts.bucket_name)
        integration = integrations.HttpLambdaIntegration("MlflowLambda", self.handler.function)
        for path in MLFLOW_ROUTE_PATHS:
            api.http_api.add_routes(path=path, methods=[apigw.HttpMethod.ANY], integration=integration)
