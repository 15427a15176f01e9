from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, Field

from skytune import limits
from skytune.tracking import experiments
from skytune.tracking.records import Experiment, ExperimentInput, ExperimentUpdate
from skytune_api.context import index, repository
from skytune_api.routes._common import errors
from skytune_api.routes._params import ExperimentName

router = APIGatewayHttpRouter()


class ExperimentListed(Experiment):
    run_count: int | None = Field(default=None, description="Number of runs (with stats=true)")
    last_activity: datetime | None = Field(
        default=None, description="Latest of the experiment's update and its newest run's update (with stats=true)")


class ExperimentPage(BaseModel):
    experiments: list[ExperimentListed]
    next_cursor: str | None = None


class ExperimentDeleted(BaseModel):
    experiment: str
    trials: int
    runs: int


@router.post("/experiments", summary="Create an experiment", tags=["experiments"],
             responses=errors(400, 409, 415, s201={"description": "Created"}))
def create_experiment(body: ExperimentInput) -> tuple[Experiment, int]:
    return experiments.create_experiment(repository(), body), 201


@router.get("/experiments/<name>", summary="Get an experiment", tags=["experiments"], responses=errors(400, 404))
def get_experiment(name: ExperimentName) -> Experiment:
    return experiments.get_experiment(repository(), name)


@router.get("/experiments", summary="List experiments (by name)", tags=["experiments"], responses=errors(400))
def list_experiments(
    limit: Annotated[int, Query(ge=1, le=limits.PAGE_SIZE_MAX)] = 100,
    cursor: Annotated[str | None, Query()] = None,
    stats: Annotated[bool, Query(description="Add run_count and last_activity to each experiment "
                                             "(run_count from the experiment index, as fresh as search)")] = False,
) -> ExperimentPage:
    items, next_cursor = repository().list_experiments(limit, cursor)
    listed = [ExperimentListed(**item.model_dump(),
                               **(experiments.experiment_activity(repository(), item, index()) if stats else {}))
              for item in items]
    return ExperimentPage(experiments=listed, next_cursor=next_cursor)


@router.patch("/experiments/<name>", summary="Update an experiment (JSON merge patch of description and tags)",
              tags=["experiments"], responses=errors(400, 404, 409, 415))
def update_experiment(name: ExperimentName, body: ExperimentUpdate) -> Experiment:
    return experiments.update_experiment(repository(), name, body)


@router.delete("/experiments/<name>", summary="Delete an experiment (409 while it has trials or runs, unless cascade=true)",
               tags=["experiments"], responses=errors(400, 404, 409))
def delete_experiment(name: ExperimentName, cascade: Annotated[bool, Query()] = False) -> ExperimentDeleted:
    return ExperimentDeleted(**experiments.delete_experiment(repository(), name, cascade=cascade))
