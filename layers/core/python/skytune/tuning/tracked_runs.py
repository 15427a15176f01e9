"""Every trial is also a tracked run: experiment = the tuning job's name, trial = the tuning job,
run name = the trial's name, params = its hyperparameters, metrics = what it reported.

Kept behind one small class so the tuning engine does not depend on how tracking stores runs; the
tracking use cases are idempotent (same body again returns the existing entity), which makes these
calls safe in retried steps.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any, Protocol

from skytune.errors import Conflict, NotFound

log = logging.getLogger(__name__)


class RunTracker(Protocol):
    def start(self, job_name: str, trial_name: str, hyperparameters: dict[str, Any], tags: dict[str, str],
              now: datetime) -> str | None: ...
    def log_metrics(self, run_id: str, points: list[dict[str, Any]], now: datetime) -> None: ...
    def finish(self, run_id: str, status: str, now: datetime) -> None: ...


class NoTracking:
    """For tests of the tuning logic alone."""

    def start(self, job_name, trial_name, hyperparameters, tags, now):
        return None

    def log_metrics(self, run_id, points, now):
        return None

    def finish(self, run_id, status, now):
        return None


class TrackingRuns:
    """The tracking use cases on the tracking repository (``skytune.storage.repository``)."""

    def __init__(self, repo, metric_store=None) -> None:
        self.repo = repo
        self.metric_store = metric_store

    def start(self, job_name: str, trial_name: str, hyperparameters: dict[str, Any], tags: dict[str, str],
              now: datetime) -> str | None:
        from skytune.tracking import experiments, runs, trials
        from skytune.tracking.records import ExperimentInput, RunInput, TrialInput

        description = f"tuning job {job_name}"
        _idempotent(lambda: experiments.create_experiment(
            self.repo, ExperimentInput(name=job_name, description=description, tags={"skytune:tuning-job": job_name}), now))
        _idempotent(lambda: trials.create_trial(self.repo, job_name, TrialInput(name=job_name, description=description), now))
        run = runs.create_run(self.repo, RunInput(
            experiment=job_name, name=trial_name, trials=[job_name], source=f"skytune:tuning-job/{job_name}",
            params={k: v for k, v in hyperparameters.items() if isinstance(v, (str, int, float, bool))},
            tags={"skytune.tuning_job": job_name, **tags}), now)
        return run.run_id

    def log_metrics(self, run_id: str, points: list[dict[str, Any]], now: datetime) -> None:
        if not points or self.metric_store is None:
            return
        from skytune.tracking import runs
        from skytune.tracking.records import LogBatch

        batch = LogBatch.model_validate({"metrics": [
            {"name": p["name"], "value": p["value"], "step": p.get("step"), "timestamp": p.get("timestamp_ms")}
            for p in points]})
        runs.log_batch(self.repo, self.metric_store, run_id, batch, now)

    def finish(self, run_id: str, status: str, now: datetime) -> None:
        from skytune.tracking import runs
        from skytune.tracking.records import RunStatus, RunUpdate

        runs.update_run(self.repo, run_id, RunUpdate(status=RunStatus(status)), now)


def _idempotent(create, attempts: int = 4) -> None:
    """Create unless it exists. Parallel trials of a job create the same experiment and trial at the
    same moment; a transaction that lost that race is cancelled (reported as NotFound by the tracking
    repository), so it is tried again after a short pause."""
    for attempt in range(attempts):
        try:
            create()
            return
        except Conflict:
            return  # already there (made by an earlier trial of the job)
        except NotFound:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
