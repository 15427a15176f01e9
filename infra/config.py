"""Stage configuration read from CDK context (cdk.json defaults, `-c key=value` overrides)."""
from __future__ import annotations

import json
from typing import Literal

from aws_cdk import App
from pydantic import BaseModel, Field, field_validator, model_validator


CLOUDWATCH_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


class StageConfig(BaseModel):
    stage: str = Field(default="dev", pattern=r"^[a-z][a-z0-9-]{0,20}$")
    auth: Literal["iam", "jwt"] = "iam"
    jwt_issuer: str = ""
    jwt_audience: list[str] = []
    log_retention_days: int = 30
    lambda_architecture: Literal["arm64", "x86_64"] = "arm64"
    subscribed_log_groups: list[str] = []
    metric_stream_namespaces: list[str] = []
    metric_stream_format: Literal["json", "opentelemetry1.0"] = "json"
    metric_stream_archive_days: int = Field(default=30, ge=1)
    dashboard: bool = True  # S3 + CloudFront + Cognito (infra/constructs/dashboard.py); -c dashboard=false: none

    # -- what trials may run as (docs/security.md) -------------------------------------------------
    # Roles SageMaker trials may run as; empty: the stack creates one execution role and allows only it.
    training_role_arns: list[str] = []
    # What the stack-created training role may read (s3://bucket/prefix) and write (model output).
    training_data_s3_uri: str = Field(default="", pattern=r"^(s3://[a-z0-9.-]{3,63}(/.*)?)?$")
    training_output_s3_uri: str = Field(default="", pattern=r"^(s3://[a-z0-9.-]{3,63}(/.*)?)?$")
    # ECR repositories the stack-created role may pull from (ARNs); empty: this account's repositories.
    training_image_repository_arns: list[str] = []
    # Caps a caller cannot raise: instance types (empty: any), instances and runtime per trial.
    trial_instance_types: list[str] = []
    trial_max_instance_count: int = Field(default=4, ge=1)
    trial_max_runtime_seconds: int = Field(default=24 * 3600, ge=1, le=28 * 24 * 3600)

    # -- logs --------------------------------------------------------------------------------------
    # The state machine's own log: errors only, without execution data (inputs carry task tokens and
    # trial environments) unless an operator asks for more while debugging.
    state_machine_log_level: Literal["ALL", "ERROR", "FATAL", "OFF"] = "ERROR"
    state_machine_log_execution_data: bool = False

    # -- operations (infra/constructs/monitoring.py) ----------------------------------------------
    alarm_email: str = Field(default="", pattern=r"^([^@\s]+@[^@\s]+)?$")
    operations_dashboard: bool = True  # a CloudWatch dashboard: $3/month beyond an account's first 3
    # Reserved concurrency of the log-ingestion function (0: none). Throttled asynchronous deliveries
    # wait in Lambda's queue and are retried, so a burst of logs cannot starve the API.
    logs_ingestion_concurrency: int = Field(default=10, ge=0)

    @field_validator("jwt_audience", "subscribed_log_groups", "metric_stream_namespaces", "training_role_arns",
                     "training_image_repository_arns", "trial_instance_types", mode="before")
    @classmethod
    def _json_list(cls, value):
        # `-c key=value` on the command line always arrives as a string.
        if isinstance(value, str):
            return json.loads(value) if value.startswith("[") else [v for v in value.split(",") if v]
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _cloudwatch_retention(cls, days: int) -> int:
        if days not in CLOUDWATCH_RETENTION_DAYS:
            raise ValueError(f"logRetentionDays must be one of {CLOUDWATCH_RETENTION_DAYS}")
        return days

    @model_validator(mode="after")
    def _jwt_needs_issuer(self) -> "StageConfig":
        if self.auth == "jwt" and not (self.jwt_issuer and self.jwt_audience):
            raise ValueError("auth=jwt needs -c jwtIssuer=https://... and -c jwtAudience=client-id")
        return self

    @classmethod
    def from_app(cls, app: App) -> "StageConfig":
        keys = {
            "stage": "stage",
            "auth": "auth",
            "jwt_issuer": "jwtIssuer",
            "jwt_audience": "jwtAudience",
            "log_retention_days": "logRetentionDays",
            "lambda_architecture": "lambdaArchitecture",
            "subscribed_log_groups": "subscribedLogGroups",
            "metric_stream_namespaces": "metricStreamNamespaces",
            "metric_stream_format": "metricStreamFormat",
            "metric_stream_archive_days": "metricStreamArchiveDays",
            "training_role_arns": "trainingRoleArns",
            "training_data_s3_uri": "trainingDataS3Uri",
            "training_output_s3_uri": "trainingOutputS3Uri",
            "training_image_repository_arns": "trainingImageRepositoryArns",
            "trial_instance_types": "trialInstanceTypes",
            "trial_max_instance_count": "trialMaxInstanceCount",
            "trial_max_runtime_seconds": "trialMaxRuntimeSeconds",
            "state_machine_log_level": "stateMachineLogLevel",
            "state_machine_log_execution_data": "stateMachineLogExecutionData",
            "alarm_email": "alarmEmail",
            "operations_dashboard": "operationsDashboard",
            "logs_ingestion_concurrency": "logsIngestionConcurrency",
            "dashboard": "dashboard",
        }
        values = {field: app.node.try_get_context(key) for field, key in keys.items()}
        return cls.model_validate({k: v for k, v in values.items() if v is not None})
