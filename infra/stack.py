"""The skytune stack: one construct per concern, wired together here."""
from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Stack
from constructs import Construct

from infra import constants
from infra.config import StageConfig
from infra.constructs.api import Api
from infra.constructs.artifacts import ArtifactUploads
from infra.constructs.function import SharedLayers
from infra.constructs.index import ExperimentIndex
from infra.constructs.ingestion import Ingestion
from infra.constructs.mlflow import MlflowApi
from infra.constructs.monitoring import Monitoring
from infra.constructs.storage import Storage
from infra.constructs.tuning import Tuning
from infra.nag import acknowledge_artifact_uploads, acknowledge_function_role, acknowledge_ingestion, acknowledge_mlflow
from infra.packaging import record_bundle_sizes


class SkytuneStack(Stack):
    def __init__(self, scope: Construct, config: StageConfig, **kwargs) -> None:
        super().__init__(scope, constants.stack_name(config.stage), **kwargs)
        self.config = config
        self.storage = Storage(self, "Storage")
        self.layers = SharedLayers(self, "Layers", config=config)
        self.api = Api(self, "Api", config=config, layers=self.layers, storage=self.storage)
        self.ingestion = Ingestion(self, "Ingestion", config=config, layers=self.layers, storage=self.storage)
        # Ingestion (CloudWatch Logs, metric streams, EventBridge) and tuning (Step Functions)
        # constructs are added here, each in infra/constructs/<concern>.py.
        self.tuning = Tuning(self, "Tuning", config=config, layers=self.layers, storage=self.storage, api=self.api)
        # The MLflow tracking REST facade on the same HTTP API (infra/constructs/mlflow.py).
        self.mlflow = MlflowApi(self, "Mlflow", config=config, layers=self.layers, storage=self.storage, api=self.api)
        # Presigned artifact uploads: the API function signs URLs for the same bucket (infra/constructs/artifacts.py).
        self.artifacts = ArtifactUploads(self, "ArtifactUploads", bucket=self.mlflow.artifacts,
                                         function=self.api.handler.function)

        # The experiment index: stream consumer + table; the API and the MLflow facade read it (infra/constructs/index.py).
        self.index = ExperimentIndex(self, "Index", config=config, layers=self.layers, storage=self.storage,
                                     readers=[self.api.handler, self.mlflow.handler])

        self.functions = [self.api.handler, *self.ingestion.functions, *self.tuning.functions, *self.index.functions,
                          self.mlflow.handler]
        for function in self.functions:
            acknowledge_function_role(self, function.role, [*self.storage.all_tables, self.index.table])
        acknowledge_ingestion(self, self.ingestion)
        acknowledge_mlflow(self, self.mlflow)
        acknowledge_artifact_uploads(self, self.artifacts, self.api.handler.role)
        record_bundle_sizes(
            {f.node.path: [f.code_dir, constants.CORE_LAYER_DIR, self.layers.deps_dir] for f in self.functions}
        )
        # -- dashboard (context flag `dashboard`) --
        self.dashboard = None
        if config.dashboard:
            from infra.constructs.dashboard import Dashboard

            self.dashboard = Dashboard(self, "Dashboard", config=config, http_api=self.api.http_api)
        self._monitor()
        self._outputs()

    # -- operations (infra/constructs/monitoring.py): keep this the last thing the stack builds -----
    def _monitor(self) -> None:
        self.monitoring = Monitoring(self, "Monitoring", config=self.config)
        self.monitoring.watch_api(self.api.http_api)
        self.monitoring.watch_state_machine(self.tuning.state_machine)
        self.monitoring.watch_delivery_stream(self.ingestion.delivery_stream)
        for queue in self.ingestion.dead_letter_queues:
            self.monitoring.watch_dead_letter_queue(queue, "failed ingestion deliveries")
        self.monitoring.watch_dead_letter_queue(self.tuning.dead_letters, "trials no worker could run")
        for table in [*self.storage.all_tables, self.index.table]:
            self.monitoring.watch_table(table)
        for alarm in self.index.alarms:
            self.monitoring.adopt(alarm)
        self.monitoring.watch_stack(self)  # every SkytuneFunction, whoever added it; then the dashboard

    # -- what `cdk deploy` prints (README "Deploy"; tests/infra/test_outputs.py) ----------------------
    def _outputs(self) -> None:
        CfnOutput(self, "ApiUrl", value=self.api.http_api.api_endpoint,
                  description="SKYTUNE_URL: the HTTP API's base URL")
        CfnOutput(self, "Region", value=Aws.REGION, description="AWS_REGION for SigV4-signed requests")
        for name, table in (("TrackingTableName", self.storage.tracking), ("MetricsTableName", self.storage.metrics),
                            ("IdempotencyTableName", self.storage.idempotency)):
            CfnOutput(self, name, value=table.table_name, description="retained when the stack is deleted")
        CfnOutput(self, "MetricStreamBucketName", value=self.ingestion.stream_bucket.bucket_name,
                  description="retained when the stack is deleted (versioned: empty it before deleting)")
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn,
                  description="every alarm publishes here: subscribe e-mail, chat or paging")
        CfnOutput(self, "TrainingRoleArns", value=",".join(self.config.training_role_arns) or
                  self.tuning.training_role.role_arn,
                  description="the RoleArn values SageMaker trials may use (TrainingJobDefinition.RoleArn)")
        if self.monitoring.dashboard is not None:
            CfnOutput(self, "OperationsDashboardUrl", description="CloudWatch dashboard of the alarms' signals",
                      value=f"https://console.aws.amazon.com/cloudwatch/home?region={Aws.REGION}#dashboards:name="
                            f"{self.monitoring.dashboard.dashboard_name}")
