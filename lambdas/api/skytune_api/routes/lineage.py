"""Lineage of artifacts and runs."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from skytune.tracking import lineage
from skytune.tracking import limits as tracking_limits
from skytune_api.context import repository
from skytune_api.routes._common import errors
from skytune_api.routes._params import RunId

router = APIGatewayHttpRouter()

Depth = Annotated[int, Query(ge=1, le=tracking_limits.LINEAGE_DEPTH_MAX, description="Run levels to walk")]


class RunRef(BaseModel):
    run_id: str
    name: str
    experiment: str
    status: str
    depth: int


class ArtifactRef(BaseModel):
    uri: str
    media_type: str | None = None
    digest: str | None = None
    size: int | None = None
    depth: int | None = None


class Side(BaseModel):
    runs: list[RunRef]
    artifacts: list[ArtifactRef]


class Edge(BaseModel):
    run_id: str
    uri: str
    name: str
    direction: str  # "input": the run consumed the artifact; "output": it produced it


class Lineage(BaseModel):
    run_id: str | None = None
    uri: str | None = None
    artifact: ArtifactRef | None = None
    upstream: Side
    downstream: Side
    edges: list[Edge]


@router.get("/lineage", summary="Upstream and downstream runs and artifacts of an artifact URI", tags=["lineage"],
            responses=errors(400, 404))
def artifact_lineage(uri: Annotated[str, Query(min_length=1, max_length=tracking_limits.ARTIFACT_URI_MAX_LENGTH)],
                     depth: Depth = 1) -> Lineage:
    return Lineage(**lineage.of_artifact(repository(), uri, depth))


@router.get("/runs/<run_id>/lineage", summary="Upstream and downstream runs and artifacts of a run", tags=["lineage"],
            responses=errors(400, 404))
def run_lineage(run_id: RunId, depth: Depth = 1) -> Lineage:
    return Lineage(**lineage.of_run(repository(), run_id, depth))


