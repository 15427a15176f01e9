"""Tuning-job and trial state, and the pure rules over it (no storage, no AWS).

Statuses and counters follow SageMaker AMT: a job is InProgress, Completed, Failed, Stopping or
Stopped; a trial (a "training job" in AMT) is InProgress, Completed, Failed, Stopping or Stopped and
its objective is Pending, Succeeded or Failed. A trial that completes without ever reporting the
objective metric is Completed with objective Failed, as in AMT.
"""
from __future__ import annotations

import hashlib
import math
from datetime import datetime
from enum import Enum
from typing import Any, Iterable, Mapping

from pydantic import BaseModel, Field

from skytune.tuning.spec import TuningJobSpec


class JobStatus(str, Enum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


class TrialStatus(str, Enum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"


class ObjectiveStatus(str, Enum):
    PENDING = "Pending"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


TERMINAL_TRIAL = {TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.STOPPED}
TERMINAL_JOB = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED}


class Counters(BaseModel):
    """Trial counters kept on the job item, each changed atomically with the trial it counts."""

    started: int = 0
    in_progress: int = 0
    completed: int = 0
    failed: int = 0
    stopped: int = 0
    objective_succeeded: int = 0
    objective_failed: int = 0


class TuningJob(BaseModel):
    name: str
    spec: TuningJobSpec
    status: JobStatus = JobStatus.IN_PROGRESS
    counters: Counters = Field(default_factory=Counters)
    best_trial: str | None = None
    best_value: float | None = None
    completion_reason: str | None = None  # why the job ended before its budget (AMT criteria)
    failure_reason: str | None = None
    generation: int = 0
    # history the optimiser could not use: {"count": n, "observations": [{"source", "reason"}]}
    ignored_history: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None = None


class Trial(BaseModel):
    job_name: str
    number: int  # 1-based launch order
    name: str
    status: TrialStatus = TrialStatus.IN_PROGRESS
    hyperparameters: dict[str, Any] | None = None  # None until suggested
    objective_value: float | None = None
    objective_status: ObjectiveStatus = ObjectiveStatus.PENDING
    curve: list[tuple[int, float]] = Field(default_factory=list)  # objective (step, value) as reported
    # Beyond AMT: further objectives' and constrained metrics' (step, value) points by metric, and
    # once the trial ended, every job metric's final value (the objective's too) and feasibility.
    metric_points: dict[str, list[tuple[int, float]]] = Field(default_factory=dict)
    final_metrics: dict[str, float] | None = None
    feasible: bool | None = None
    failure_reason: str | None = None
    stop_reason: str | None = None
    worker: int | None = None
    run_id: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None


def trial_name(job_name: str, number: int) -> str:
    """AMT-style ``<job>-<NNN>-<hash8>``; deterministic, so a retried step names the same trial."""
    digest = hashlib.sha256(f"{job_name}#{number}".encode()).hexdigest()[:8]
    return f"{job_name[:100]}-{number:03d}-{digest}"


def final_objective(curve: Iterable[tuple[int, float]]) -> float | None:
    """The objective of a trial is its last reported value (AMT uses the final metric), i.e. the
    value at the largest step; None when the trial never reported a finite one."""
    points = [(int(s), float(v)) for s, v in curve if v is not None and math.isfinite(float(v))]
    return max(points)[1] if points else None


def is_better(value: float, than: float | None, objective_type: str) -> bool:
    if than is None:
        return True
    return value > than if objective_type == "Maximize" else value < than


def format_hyperparameters(values: Mapping[str, Any]) -> dict[str, str]:
    """Hyperparameters as SageMaker passes them: every value a string (JSON-like for bools)."""
    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return repr(value)
        return str(value)

    return {name: text(value) for name, value in values.items()}


# ---------------------------------------------------------------------------------------------
# Outcome of a run, whatever runner produced it
# ---------------------------------------------------------------------------------------------
class RunOutcome(BaseModel):
    status: TrialStatus
    failure_reason: str | None = None
    # Final metric values the runner returned directly (Lambda result, SageMaker FinalMetricDataList).
    final_metrics: dict[str, float] = Field(default_factory=dict)
    # Metrics the runner returned that are not finite numbers (name -> the value as given, shortened).
    rejected_metrics: dict[str, str] = Field(default_factory=dict)


_ERROR_REASONS = {
    "States.Timeout": "the trial ran past its stopping condition (MaxRuntimeInSeconds) and was stopped",
    "States.HeartbeatTimeout": "the worker stopped sending heartbeats",
}


def outcome_of_run(runner: str, output: Any) -> RunOutcome:
    """Interpret what the run step left: its result, or the error a Catch recorded
    (``{"Error": ..., "Cause": ...}``). Pure, so every runner's edge cases are unit tested."""
    if not isinstance(output, Mapping) or not output:
        return RunOutcome(status=TrialStatus.FAILED, failure_reason="the trial never ran")
    if "Error" in output:
        error = str(output.get("Error"))
        reason = _ERROR_REASONS.get(error) or f"{error}: {_short(output.get('Cause'))}"
        if runner == "sagemaker" and "Stopped" in str(output.get("Cause", "")):
            return RunOutcome(status=TrialStatus.STOPPED, failure_reason=None)
        if error == "States.Timeout":
            return RunOutcome(status=TrialStatus.STOPPED, failure_reason=reason)
        return RunOutcome(status=TrialStatus.FAILED, failure_reason=reason)
    if runner == "sagemaker":
        status = {"Completed": TrialStatus.COMPLETED, "Stopped": TrialStatus.STOPPED}.get(
            output.get("TrainingJobStatus"), TrialStatus.FAILED)
        metrics = {m["MetricName"]: float(m["Value"]) for m in output.get("FinalMetricDataList") or []
                   if isinstance(m, Mapping) and "MetricName" in m and _finite(m.get("Value"))}
        return RunOutcome(status=status, failure_reason=output.get("FailureReason") if status == TrialStatus.FAILED else None,
                          final_metrics=metrics)
    if runner == "lambda":
        payload = output.get("Payload", output)
        if isinstance(payload, Mapping) and ("errorMessage" in payload or "errorType" in payload):
            return RunOutcome(status=TrialStatus.FAILED,
                              failure_reason=f"{payload.get('errorType', 'Error')}: {_short(payload.get('errorMessage'))}")
        metrics = payload.get("metrics", {}) if isinstance(payload, Mapping) else {}
        if isinstance(metrics, list):
            metrics = {m["name"]: m["value"] for m in metrics if isinstance(m, Mapping) and "name" in m}
        finite = {k: float(v) for k, v in (metrics or {}).items() if _finite(v)}
        rejected = {str(k): _short(repr(v)) for k, v in (metrics or {}).items() if not _finite(v)}
        return RunOutcome(status=TrialStatus.COMPLETED, final_metrics=finite, rejected_metrics=rejected)
    # external and local workers report {"status": ..., "failure_reason": ...} through the API
    status = TrialStatus(output.get("status", TrialStatus.COMPLETED.value))
    return RunOutcome(status=status, failure_reason=output.get("failure_reason"),
                      final_metrics={k: float(v) for k, v in (output.get("final_metrics") or {}).items() if _finite(v)})


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _short(text: Any, limit: int = 500) -> str:
    text = str(text or "").strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def end_status(job: TuningJob) -> tuple[JobStatus, str | None]:
    """The status a job ends in once no worker is left, and its failure reason.

    Stopping -> Stopped. A job none of whose trials produced an objective is Failed (nothing to
    recommend); otherwise Completed, whether the budget or a completion criterion ended it.
    """
    if job.status == JobStatus.STOPPING:
        return JobStatus.STOPPED, None
    if job.status in TERMINAL_JOB:
        return job.status, job.failure_reason
    counters = job.counters
    if counters.objective_succeeded == 0 and counters.started > 0:
        return JobStatus.FAILED, (
            f"no trial reported the objective metric {job.spec.objective.metric_name!r} "
            f"({counters.failed} failed, {counters.stopped} stopped, {counters.objective_failed} without objective)")
    return JobStatus.COMPLETED, None
