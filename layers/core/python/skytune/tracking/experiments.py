"""Experiment use cases: create, get, list, update, delete.

Cascade rule: deleting an experiment that still has trials or runs is a 409 (with their counts)
unless `cascade=True`, which deletes every run (with its metric series, trial memberships,
artifact links and child runs), then every trial, then the experiment.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol

from skytune.errors import Conflict, NotFound
from skytune.tracking._checks import checked_tags
from skytune.tracking.records import Experiment, ExperimentInput, ExperimentUpdate


class ExperimentRepository(Protocol):
    def insert_experiment(self, experiment: Experiment) -> bool: ...  # False when the name exists
    def get_experiment(self, name: str) -> Experiment | None: ...
    def list_experiments(self, limit: int, cursor: str | None) -> tuple[list[Experiment], str | None]: ...

    def experiment_stats(self, name: str, count_runs: bool = True) -> tuple[int | None, datetime | None]: ...


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def create_experiment(repo: ExperimentRepository, request: ExperimentInput, now: datetime | None = None) -> Experiment:
    now = _now(now)
    experiment = Experiment(**request.model_dump(), created_at=now, updated_at=now)
    if not repo.insert_experiment(experiment):
        existing = repo.get_experiment(request.name)
        # Same body again (a client retry) is not an error; a different body under the same name is.
        if existing is not None and existing.model_dump(include=set(ExperimentInput.model_fields)) == request.model_dump():
            return existing
        raise Conflict(f"experiment {request.name!r} already exists", field="name")
    return experiment


def experiment_activity(repo: ExperimentRepository, experiment: Experiment, index=None) -> dict:
    """Run count and last activity (the later of the experiment's own update and its newest run's).
    The count comes from the experiment's index (`index.run_count`: one read of its manifest, as
    fresh as search) when it has one; else a COUNT over its run-name items, whose read capacity grows
    with the runs (10,000 runs: 84 RCU and ~1 s on DynamoDB Local, against 0.5 RCU for the manifest),
    for every experiment on the dashboard's first page."""
    indexed = None if index is None else index.run_count(experiment.name)
    count, newest_run_update = repo.experiment_stats(experiment.name, count_runs=indexed is None)
    count = indexed if indexed is not None else count
    last = max(t for t in (experiment.updated_at, newest_run_update) if t is not None)
    return {"run_count": count, "last_activity": last}


def get_experiment(repo: ExperimentRepository, name: str) -> Experiment:
    experiment = repo.get_experiment(name)
    if experiment is None:
        raise NotFound(f"experiment {name!r} does not exist", field="name")
    return experiment


def update_experiment(repo, name: str, update: ExperimentUpdate, now: datetime | None = None) -> Experiment:
    return repo.update_experiment(name, update.description, update.tags, _now(now), checked_tags)


def delete_experiment(repo, name: str, cascade: bool = False) -> dict:
    """Returns what was deleted: {"experiment": name, "trials": n, "runs": n}."""
    from skytune.tracking import runs, trials  # runs/trials import experiments' helpers

    get_experiment(repo, name)
    trial_names, run_ids = repo.experiment_contents(name)
    if (trial_names or run_ids) and not cascade:
        raise Conflict(
            f"experiment {name!r} still has {len(trial_names)} trial(s) and {len(run_ids)} run(s); "
            "delete them first or pass cascade=true",
            field="cascade", details={"trials": len(trial_names), "runs": len(run_ids)},
        )
    deleted_runs = 0
    for run_id in run_ids:
        deleted_runs += runs.delete_run(repo, run_id, cascade=True)
    for trial in trial_names:
        trials.delete_trial(repo, name, trial)
    repo.delete_experiment_item(name)
    return {"experiment": name, "trials": len(trial_names), "runs": deleted_runs}
