"""After a crash: tuning jobs whose state machine died with `skytune local`.

Locally the state machine runs in memory (moto), so a kill -9 loses every execution while the
tables still say InProgress. On start, for each job still InProgress or Stopping:

1. its trials still running are ended as Step Functions ends a task whose worker went silent: a
   running trial becomes Failed, one asked to stop becomes Stopped, each with the reason; a trial
   process that outlived the crash (trials run in their own session) is stopped first;
2. a new execution (the next generation) is started: it resumes an InProgress job with the rest
   of its budget (the claim step counts trials already started), and ends a Stopping one as
   Stopped — so every job reaches a terminal state, and `stop` works on it again.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

from skytune.local.runners import PID_FILE

log = logging.getLogger("skytune.local")

CRASH_REASON = "skytune local stopped while the trial ran (crash or kill); ended when it restarted"


def bind_storage(stack) -> None:
    """Bind the PynamoDB models to the template's tables, as the functions do at cold start."""
    from skytune import storage
    from skytune.settings import Settings

    environment = next(f.environment for f in stack.functions.specs.values() if "TRACKING_TABLE" in f.environment)
    storage.bind(Settings.model_validate(environment))


def unfinished_jobs(repo) -> list:
    from skytune.tuning.records import JobStatus

    jobs, cursor = [], None
    while True:
        page, cursor = repo.list_jobs(100, cursor)
        jobs += [job for job in page if job.status in (JobStatus.IN_PROGRESS, JobStatus.STOPPING)]
        if not cursor:
            return jobs


def stop_orphan(trial_dir: Path, trial_name: str, grace_s: float = 5.0) -> int | None:
    """Stop the process group of a trial left running by a crashed `skytune local`, if its pid file
    names a live process of that trial (checked in its environment, so a reused pid is left alone)."""
    try:
        pid = int((trial_dir / PID_FILE).read_text().strip())
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    if f"SKYTUNE_TRIAL_NAME={trial_name}".encode() not in environ:
        return None
    try:
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            time.sleep(0.1)
        if Path(f"/proc/{pid}").exists():
            os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    (trial_dir / PID_FILE).unlink(missing_ok=True)
    return pid


def recover_tuning_jobs(stack, tuning, now: datetime | None = None) -> list[str]:
    """Steps 1 and 2 above for every unfinished job; returns the names of the jobs recovered."""
    from skytune.metrics import MetricStore
    from skytune.storage.repository import DynamoRepository
    from skytune.tuning.names import execution_name
    from skytune.tuning.records import TrialStatus, final_objective
    from skytune.tuning.repository import TuningRepository
    from skytune.tuning.tracked_runs import TrackingRuns

    bind_storage(stack)
    repo = TuningRepository()
    tracker = TrackingRuns(DynamoRepository(), MetricStore())
    now = now or datetime.now(timezone.utc)
    sfn = tuning.stepfunctions.client("stepfunctions")
    machine = tuning.stepfunctions.state_machine_arn("tuning")
    recovered = []
    for job in unfinished_jobs(repo):
        for trial in repo.list_trials(job.name):
            if trial.status not in (TrialStatus.IN_PROGRESS, TrialStatus.STOPPING):
                continue
            orphan = stop_orphan(tuning.work_dir / job.name / trial.name, trial.name)
            if trial.status == TrialStatus.STOPPING:
                status, objective = TrialStatus.STOPPED, final_objective(trial.curve)
            else:
                status, objective = TrialStatus.FAILED, None
            reason = CRASH_REASON + (f" (its process {orphan} was stopped)" if orphan else "")
            if repo.finish_trial(job, trial.number, status, objective, reason, now) and trial.run_id:
                try:
                    tracker.finish(trial.run_id, status.value, now)
                except Exception:  # noqa: BLE001 - the run is a mirror; the trial's record is what counts
                    log.exception("ending the run of %s failed", trial.name)
        generation = job.generation + 1
        sfn.start_execution(stateMachineArn=machine, name=execution_name(job.name, generation),
                            input=json.dumps({"job_name": job.name, "generation": generation}))
        recovered.append(job.name)
    return recovered
