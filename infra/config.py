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

    @field_validator("jwt_audience", "subscribed_log_groups", "metric_stream_namespaces", mode="before")
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
            "dashboard": "dashboard",
        }
        values = {field: app.node.try_get_context(key) for field, key in keys.items()}
        return cls.model_validate({k: v for k, v in values.items() if v is not None})
