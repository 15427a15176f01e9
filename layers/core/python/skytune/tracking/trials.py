"""Trial use cases. A trial groups runs of one experiment (e.g. one algorithm); a run may belong
to several trials.

Cascade rule: deleting a trial removes its memberships only; its runs stay (they may belong to
other trials, and a run is the record of work done).
"""
from __future__ import annotations

from datetime import datetime, timezone

from skytune.errors import Conflict, NotFound
from skytune.tracking import limits
from skytune.tracking._checks import checked_tags
from skytune.tracking.experiments import get_experiment
from skytune.tracking.records import Run, Trial, TrialInput, TrialUpdate


def create_trial(repo, experiment: str, request: TrialInput, now: datetime | None = None) -> Trial:
    now = now or datetime.now(timezone.utc)
    trial = Trial(**request.model_dump(), experiment=experiment, created_at=now, updated_at=now)
    if not repo.insert_trial(trial):
        existing = repo.get_trial(experiment, request.name)
        if existing is not None and existing.model_dump(include=set(TrialInput.model_fields)) == request.model_dump():
            return existing  # a retried create
        raise Conflict(f"trial {request.name!r} already exists in experiment {experiment!r}", field="name")
    return trial


def get_trial(repo, experiment: str, name: str) -> Trial:
    trial = repo.get_trial(experiment, name)
    if trial is None:
        raise NotFound(f"trial {name!r} does not exist in experiment {experiment!r}", field="trial")
    return trial


def list_trials(repo, experiment: str, limit: int, cursor: str | None) -> tuple[list[Trial], str | None]:
    get_experiment(repo, experiment)
    return repo.list_trials(experiment, limit, cursor)


def update_trial(repo, experiment: str, name: str, update: TrialUpdate, now: datetime | None = None) -> Trial:
    return repo.update_trial(experiment, name, update.description, update.tags, now or datetime.now(timezone.utc),
                             checked_tags)


def delete_trial(repo, experiment: str, name: str) -> int:
    """Deletes the trial and its memberships; returns how many runs left it."""
    get_trial(repo, experiment, name)
    run_ids, _ = repo.trial_run_ids(experiment, name)
    for run_id in run_ids:
        repo.remove_from_trial(run_id, experiment, name)
    repo.delete_trial_item(experiment, name)
    return len(run_ids)


def list_trial_runs(repo, experiment: str, name: str, limit: int, cursor: str | None) -> tuple[list[Run], str | None]:
    get_trial(repo, experiment, name)
    run_ids, next_cursor = repo.trial_run_ids(experiment, name, limit, cursor)
    return repo.get_runs(run_ids), next_cursor


def add_run(repo, experiment: str, trial: str, run_id: str) -> bool:
    """True when the run joined the trial, False when it was already in it (idempotent)."""
    return repo.add_to_trial(run_id, experiment, trial, limits.TRIALS_PER_RUN)


def remove_run(repo, experiment: str, trial: str, run_id: str) -> None:
    if not repo.remove_from_trial(run_id, experiment, trial):
        raise NotFound(f"run {run_id!r} is not in trial {trial!r} of experiment {experiment!r}", field="run_id")
