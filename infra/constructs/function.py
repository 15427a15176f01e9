"""One way to build a skytune Lambda function: code asset, shared layers, observability, own log group."""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, aws_iam as iam, aws_lambda as lambda_, aws_logs as logs
from constructs import Construct

from infra import constants
from infra.config import StageConfig
from infra.constants import CORE_LAYER_DIR
from infra.packaging import ASSET_EXCLUDES, deps_layer_dir

RUNTIME = lambda_.Runtime.PYTHON_3_14


class SharedLayers(Construct):
    """The core layer (skytune domain package) and the third-party deps layer, built once per app."""

    def __init__(self, scope: Construct, id: str, *, config: StageConfig) -> None:
        super().__init__(scope, id)
        self.architecture = (
            lambda_.Architecture.ARM_64 if config.lambda_architecture == "arm64" else lambda_.Architecture.X86_64
        )
        self.deps_dir = deps_layer_dir(config.lambda_architecture)
        self.core = lambda_.LayerVersion(
            self, "Core",
            code=lambda_.Code.from_asset(str(CORE_LAYER_DIR), exclude=ASSET_EXCLUDES),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[self.architecture],
            description="skytune domain core",
        )
        self.deps = lambda_.LayerVersion(
            self, "Deps",
            code=lambda_.Code.from_asset(str(self.deps_dir)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[self.architecture],
            description="skytune third-party runtime dependencies",
        )


class SkytuneFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        source_folder: str,
        handler: str,
        layers: SharedLayers,
        config: StageConfig,
        environment: dict[str, str],
        memory_mb: int = 512,
        timeout: Duration = Duration.seconds(29),
        description: str = "",
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.code_dir = constants.LAMBDAS_DIR / source_folder
        self.log_group = log_group(self, "Logs", config)
        # An own role instead of AWSLambdaBasicExecutionRole: it may write to this function's log group only.
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self, "Function",
            runtime=RUNTIME,
            architecture=layers.architecture,
            code=lambda_.Code.from_asset(str(self.code_dir), exclude=ASSET_EXCLUDES),
            handler=handler,
            layers=[layers.deps, layers.core],
            memory_size=memory_mb,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            role=self.role,
            logging_format=lambda_.LoggingFormat.JSON,
            description=description,
            reserved_concurrent_executions=reserved_concurrency or None,
            environment={
                "POWERTOOLS_SERVICE_NAME": constants.SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": constants.METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                # Never log whole events nor trace whole responses: requests carry trials' environments and
                # hyperparameters, step outputs carry them too (docs/security.md, "What is never logged").
                "POWERTOOLS_LOGGER_LOG_EVENT": "false",
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
                constants.ENV_STAGE: config.stage,
                **environment,
            },
        )


def log_group(scope: Construct, id: str, config: StageConfig) -> logs.LogGroup:
    group = logs.LogGroup(scope, id, removal_policy=RemovalPolicy.DESTROY)
    # RetentionDays is a name-keyed enum in Python; CloudFormation takes the number of days directly.
    group.node.default_child.retention_in_days = config.log_retention_days
    return group
