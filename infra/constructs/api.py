"""The HTTP API: API Gateway v2 in front of the api Lambda, every route authorised."""
from __future__ import annotations

from aws_cdk import (
    aws_apigatewayv2 as apigw,
    aws_apigatewayv2_authorizers as authorizers,
    aws_apigatewayv2_integrations as integrations,
)
from constructs import Construct

from infra import constants
from infra.config import StageConfig
from infra.constructs.function import SharedLayers, SkytuneFunction, log_group
from infra.constructs.storage import Storage

# One proxy route: the powertools resolver inside the function does the routing (and answers
# 404/405 as JSON), so new endpoints need no infrastructure change and stay authorised.
API_ROUTE_PATH = "/v1/{proxy+}"


class Api(Construct):
    def __init__(self, scope: Construct, id: str, *, config: StageConfig, layers: SharedLayers, storage: Storage) -> None:
        super().__init__(scope, id)
        self.handler = SkytuneFunction(
            self, "Handler",
            source_folder="api",
            handler="skytune_api.handler.lambda_handler",
            layers=layers,
            config=config,
            description="skytune HTTP API",
            environment=storage.environment(),
        )
        storage.grant_read_write(self.handler.function)

        self.http_api = apigw.HttpApi(
            self, "HttpApi",
            api_name=constants.stack_name(config.stage),
            description="skytune experiment tracking and tuning API",
            default_authorizer=_authorizer(config),
            create_default_stage=True,
        )
        self.http_api.add_routes(
            path=API_ROUTE_PATH,
            methods=[apigw.HttpMethod.ANY],
            integration=integrations.HttpLambdaIntegration("Lambda", self.handler.function),
        )
        access_logs = log_group(self, "AccessLogs", config)
        stage = self.http_api.default_stage.node.default_child
        stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=access_logs.log_group_arn,
            format='{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
            '"caller":"$context.identity.caller","user":"$context.identity.user",'
            '"requestTime":"$context.requestTime","routeKey":"$context.routeKey",'
            '"status":"$context.status","latency":"$context.responseLatency",'
            '"integrationError":"$context.integrationErrorMessage"}',
        )


def _authorizer(config: StageConfig):
    if config.auth == "jwt":
        return authorizers.HttpJwtAuthorizer("Jwt", config.jwt_issuer, jwt_audience=config.jwt_audience)
    return authorizers.HttpIamAuthorizer()
