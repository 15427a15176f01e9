from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from skytune import limits
from skytune.tracking import experiments
from skytune.tracking.records import Experiment, ExperimentInput
from skytune_api.context import repository

router = APIGatewayHttpRouter()


class ExperimentPage(BaseModel):
    experiments: list[Experiment]
    next_cursor: str | None = None


@router.post("/experiments", summary="Create an experiment", tags=["experiments"], responses={201: {"description": "Created"}})
def create_experiment(body: ExperimentInput) -> tuple[Experiment, int]:
    return experiments.create_experiment(repository(), body), 201


@router.get("/experiments/<name>", summary="Get an experiment", tags=["experiments"])
def get_experiment(name: Annotated[str, Path()]) -> Experiment:
    return experiments.get_experiment(repository(), name)


@router.get("/experiments", summary="List experiments (by name)", tags=["experiments"])
def list_experiments(
    limit: Annotated[int, Query(ge=1, le=limits.PAGE_SIZE_MAX)] = 100,
    cursor: Annotated[str | None, Query()] = None,
) -> ExperimentPage:
    items, next_cursor = repository().list_experiments(limit, cursor)
    return ExperimentPage(experiments=items, next_cursor=next_cursor)
