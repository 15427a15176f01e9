"""The skytune stack: one construct per concern, wired together here."""
from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra import constants
from infra.config import StageConfig
from infra.constructs.api import Api
from infra.constructs.function import SharedLayers
from infra.constructs.ingestion import Ingestion
from infra.constructs.mlflow import MlflowApi
from infra.constructs.storage import Storage
from infra.constructs.tuning import Tuning
from infra.nag import acknowledge_function_role, acknowledge_ingestion, acknowledge_mlflow
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

        self.functions = [self.api.handler, *self.ingestion.functions, *self.tuning.functions, self.mlflow.handler]
        for function in self.functions:
            acknowledge_function_role(self, function.role, self.storage.all_tables)
        acknowledge_ingestion(self, self.ingestion)
        acknowledge_mlflow(self, self.mlflow)
        record_bundle_sizes(
            {f.node.path: [f.code_dir, constants.CORE_LAYER_DIR, self.layers.deps_dir] for f in self.functions}
        )
        CfnOutput(self, "ApiUrl", value=self.api.http_api.api_endpoint)
