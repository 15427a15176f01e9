"""Experiment use cases: create, get, list (update/delete arrive with the tracking issue)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol

from skytune.errors import Conflict, NotFound
from skytune.tracking.records import Experiment, ExperimentInput


class ExperimentRepository(Protocol):
    def insert_experiment(self, experiment: Experiment) -> bool: ...  # False when the name exists
    def get_experiment(self, name: str) -> Experiment | None: ...
    def list_experiments(self, limit: int, cursor: str | None) -> tuple[list[Experiment], str | None]: ...


def create_experiment(repo: ExperimentRepository, request: ExperimentInput, now: datetime | None = None) -> Experiment:
    now = now or datetime.now(timezone.utc)
    experiment = Experiment(**request.model_dump(), created_at=now, updated_at=now)
    if not repo.insert_experiment(experiment):
        existing = repo.get_experiment(request.name)
        # Same body again (a client retry) is not an error; a different body under the same name is.
        if existing is not None and existing.model_dump(include=set(ExperimentInput.model_fields)) == request.model_dump():
            return existing
        raise Conflict(f"experiment {request.name!r} already exists", field="name")
    return experiment


def get_experiment(repo: ExperimentRepository, name: str) -> Experiment:
    experiment = repo.get_experiment(name)
    if experiment is None:
        raise NotFound(f"experiment {name!r} does not exist", field="name")
    return experiment
