"""Trials of an experiment, and run <-> trial associations."""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from skytune import limits
from skytune.tracking import trials
from skytune.tracking.records import Run, Trial, TrialInput, TrialUpdate
from skytune_api.context import repository
from skytune_api.routes._common import errors
from skytune_api.routes._params import ExperimentName, RunId, TrialName

router = APIGatewayHttpRouter()

Experiment = ExperimentName
Limit = Annotated[int, Query(ge=1, le=limits.PAGE_SIZE_MAX)]


class TrialPage(BaseModel):
    trials: list[Trial]
    next_cursor: str | None = None


class TrialRunPage(BaseModel):
    runs: list[Run]
    next_cursor: str | None = None


class TrialDeleted(BaseModel):
    experiment: str
    trial: str
    runs_removed: int


class Membership(BaseModel):
    experiment: str
    trial: str
    run_id: str
    added: bool | None = None


@router.post("/experiments/<experiment>/trials", summary="Create a trial", tags=["trials"],
             responses=errors(400, 404, 409, 415, s201={"description": "Created"}))
def create_trial(experiment: Experiment, body: TrialInput) -> tuple[Trial, int]:
    return trials.create_trial(repository(), experiment, body), 201


@router.get("/experiments/<experiment>/trials", summary="List the trials of an experiment (by name)",
            tags=["trials"], responses=errors(400, 404))
def list_trials(experiment: Experiment, limit: Limit = 100, cursor: Annotated[str | None, Query()] = None) -> TrialPage:
    items, next_cursor = trials.list_trials(repository(), experiment, limit, cursor)
    return TrialPage(trials=items, next_cursor=next_cursor)


@router.get("/experiments/<experiment>/trials/<trial>", summary="Get a trial", tags=["trials"], responses=errors(400, 404))
def get_trial(experiment: Experiment, trial: TrialName) -> Trial:
    return trials.get_trial(repository(), experiment, trial)


@router.patch("/experiments/<experiment>/trials/<trial>", summary="Update a trial (merge patch)", tags=["trials"],
              responses=errors(400, 404, 409, 415))
def update_trial(experiment: Experiment, trial: TrialName, body: TrialUpdate) -> Trial:
    return trials.update_trial(repository(), experiment, trial, body)


@router.delete("/experiments/<experiment>/trials/<trial>", summary="Delete a trial (its runs stay)", tags=["trials"],
               responses=errors(400, 404))
def delete_trial(experiment: Experiment, trial: TrialName) -> TrialDeleted:
    removed = trials.delete_trial(repository(), experiment, trial)
    return TrialDeleted(experiment=experiment, trial=trial, runs_removed=removed)


@router.get("/experiments/<experiment>/trials/<trial>/runs", summary="List the runs of a trial (oldest first)",
            tags=["trials"], responses=errors(400, 404))
def list_trial_runs(experiment: Experiment, trial: TrialName, limit: Limit = 100,
                    cursor: Annotated[str | None, Query()] = None) -> TrialRunPage:
    runs, next_cursor = trials.list_trial_runs(repository(), experiment, trial, limit, cursor)
    return TrialRunPage(runs=runs, next_cursor=next_cursor)


@router.put("/experiments/<experiment>/trials/<trial>/runs/<run_id>", summary="Add a run to a trial (idempotent)",
            tags=["trials"], responses=errors(400, 404, 409))
def add_run(experiment: Experiment, trial: TrialName, run_id: RunId) -> Membership:
    added = trials.add_run(repository(), experiment, trial, run_id)
    return Membership(experiment=experiment, trial=trial, run_id=run_id, added=added)


@router.delete("/experiments/<experiment>/trials/<trial>/runs/<run_id>", summary="Remove a run from a trial",
               tags=["trials"], responses=errors(400, 404))
def remove_run(experiment: Experiment, trial: TrialName, run_id: RunId) -> Membership:
    trials.remove_run(repository(), experiment, trial, run_id)
    return Membership(experiment=experiment, trial=trial, run_id=run_id)
