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

# Proxy routes: the powertools resolver inside the function does the routing (and answers 404/405 as
# JSON), so new endpoints need no infrastructure change and stay authorised. The routes are split only
# by *route class*, so that each class can be granted on its own (docs/security.md):
#   read   GET/HEAD anything, and the POST queries that only read (search, analytics);
#   write  POST/PUT/PATCH/DELETE on runs, experiments, trials, ...;
#   tune   creating, stopping and reporting on tuning jobs (trials run code under the stack's roles).
# With auth=jwt each class requires its OAuth scope; with auth=iam an execute-api:Invoke policy grants
# methods and paths (arn:...:execute-api:REGION:ACCOUNT:API/$default/METHOD/v1/...).
API_ROUTE_PATH = "/v1/{proxy+}"
SCOPE_READ, SCOPE_WRITE, SCOPE_TUNE = "skytune/read", "skytune/write", "skytune/tune"
READ_METHODS = [apigw.HttpMethod.GET, apigw.HttpMethod.HEAD]
WRITE_METHODS = [apigw.HttpMethod.POST, apigw.HttpMethod.PUT, apigw.HttpMethod.PATCH, apigw.HttpMethod.DELETE]
# route class -> [(path, methods)]; ROUTE_SCOPES: the scopes a token needs one of (who may write or tune
# may also read). Routes other constructs add go through Api.add_routes with one of these classes.
ROUTE_CLASSES = {
    "read": [(API_ROUTE_PATH, READ_METHODS), ("/v1/runs/search", [apigw.HttpMethod.POST]),
             ("/v1/analytics/{proxy+}", [apigw.HttpMethod.POST])],
    "write": [(API_ROUTE_PATH, WRITE_METHODS)],
    "tune": [("/v1/tuning-jobs", [apigw.HttpMethod.POST]), ("/v1/tuning-jobs/{proxy+}", WRITE_METHODS)],
}
ROUTE_SCOPES = {"read": [SCOPE_READ, SCOPE_WRITE, SCOPE_TUNE], "write": [SCOPE_WRITE], "tune": [SCOPE_TUNE]}


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
        self.config = config
        self.integration = integrations.HttpLambdaIntegration("Lambda", self.handler.function)
        for route_class, routes in ROUTE_CLASSES.items():
            for path, methods in routes:
                self.add_routes(path, methods, route_class)
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

    def add_routes(self, path: str, methods: list[apigw.HttpMethod], route_class: str,
                   integration: apigw.HttpRouteIntegration | None = None) -> None:
        """Routes of one class (read / write / tune): with auth=jwt they require that class's scopes."""
        self.http_api.add_routes(
            path=path, methods=methods, integration=integration or self.integration,
            authorization_scopes=ROUTE_SCOPES[route_class] if self.config.auth == "jwt" else None)


def _authorizer(config: StageConfig):
    if config.auth == "jwt":
        return authorizers.HttpJwtAuthorizer("Jwt", config.jwt_issuer, jwt_audience=config.jwt_audience)
    return authorizers.HttpIamAuthorizer()
