"""Where a run's metrics come from besides the SDK: log streams scraped with metric definitions,
and metric-stream dimensions (docs/ingestion.md)."""
from __future__ import annotations

from typing import Annotated


from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from skytune.errors import InvalidInput
from skytune.ingestion import MetricDefinitionError
from skytune.ingestion.sources import register_dimension_source, register_log_source
from skytune.tracking import runs
from skytune_api.context import repository
from skytune_api.routes._common import errors
from skytune_api.routes._params import RunId

router = APIGatewayHttpRouter()


class MetricDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    Name: str = Field(examples=["train:loss"])
    Regex: str = Field(examples=["Train Loss: ([0-9\\\\.]+)"])


class LogSourceInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    log_group: str = Field(min_length=1, max_length=512, examples=["/my/training/jobs"])
    stream_prefix: str = Field(default="", max_length=512, description="Streams starting with this belong to the run")
    metric_definitions: list[MetricDefinition] = Field(min_length=1, description="SageMaker-compatible Name/Regex pairs")


class DimensionSourceInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=255, examples=["RunId"])
    value: str = Field(min_length=1, max_length=1024)
    namespace: str | None = Field(default=None, max_length=255, description="Only datapoints of this namespace (default: any)")


@router.post("/runs/<run_id>/log-sources", summary="Scrape a log group/stream prefix into this run's metrics", tags=["ingestion"],
             responses=errors(400, 404, 415, s201={"description": "Registered"}))
def add_log_source(run_id: RunId, body: LogSourceInput) -> tuple[LogSourceInput, int]:
    runs.get_run(repository(), run_id)
    try:
        register_log_source(run_id, body.log_group, body.stream_prefix, [d.model_dump() for d in body.metric_definitions])
    except MetricDefinitionError as error:
        raise InvalidInput(error.message, field=error.field.replace("MetricDefinitions", "metric_definitions", 1)) from None
    return body, 201


@router.post("/runs/<run_id>/metric-stream-sources", summary="Route metric-stream datapoints with this dimension to this run",
             tags=["ingestion"], responses=errors(400, 404, 415, s201={"description": "Registered"}))
def add_dimension_source(run_id: RunId, body: DimensionSourceInput) -> tuple[DimensionSourceInput, int]:
    runs.get_run(repository(), run_id)
    register_dimension_source(run_id, body.name, body.value, body.namespace)
    return body, 201
