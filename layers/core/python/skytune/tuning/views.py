"""API views of tuning jobs, shaped like SageMaker's answers:
``DescribeHyperParameterTuningJob`` and ``ListTrainingJobsForHyperParameterTuningJob``."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

import numpy as np

from skytune.errors import InvalidInput
from skytune.optimize.constraints import OutcomeConstraint
from skytune.optimize.multiobjective import pareto_mask
from skytune.tuning.records import TrialStatus, Trial, TuningJob, format_hyperparameters
from skytune.tuning.spec import to_sagemaker_config

SORT_KEYS = ("Name", "CreationTime", "Status", "FinalObjectiveMetricValue")
TRIAL_STATUSES = tuple(s.value for s in TrialStatus)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def describe_job(job: TuningJob, trials: list[Trial], now: datetime) -> dict[str, Any]:
    counters = job.counters
    best = next((t for t in trials if t.name == job.best_trial), None)
    ended = job.ended_at or now
    view: dict[str, Any] = {
        "HyperParameterTuningJobName": job.name,
        "HyperParameterTuningJobStatus": job.status.value,
        "HyperParameterTuningJobConfig": to_sagemaker_config(job.spec),
        "CreationTime": _time(job.created_at),
        "LastModifiedTime": _time(job.updated_at),
        "HyperParameterTuningEndTime": _time(job.ended_at),
        "TrainingJobStatusCounters": {
            "Completed": counters.completed,
            "InProgress": counters.in_progress,
            "RetryableError": 0,
            "NonRetryableError": counters.failed,
            "Stopped": counters.stopped,
        },
        "ObjectiveStatusCounters": {
            "Succeeded": counters.objective_succeeded,
            "Pending": counters.in_progress,
            "Failed": counters.objective_failed,
        },
        "ConsumedResources": {"RuntimeInSeconds": int((ended - job.created_at).total_seconds()),
                              "TrainingJobsStarted": counters.started},
        "Runner": job.spec.trial.runner,
        "Spec": job.spec.model_dump(mode="json"),
    }
    if best is not None and not job.spec.is_multi_objective:
        view["BestTrainingJob"] = trial_summary(job, best)
    if job.spec.is_multi_objective:
        # skytune extension: the Pareto set (of the feasible trials, with outcome constraints)
        view["ParetoFrontTrainingJobs"] = [trial_summary(job, t) for t in pareto_trials(job, trials)]
    if job.spec.outcome_constraints:
        finished = [t for t in trials if t.feasible is not None]
        view["OutcomeConstraintCounters"] = {"Feasible": sum(1 for t in finished if t.feasible),
                                             "Infeasible": sum(1 for t in finished if not t.feasible)}
    if job.completion_reason:
        view["TuningJobCompletionDetails"] = _completion_details(job, trials)
    if job.failure_reason:
        view["FailureReason"] = job.failure_reason
    if job.ignored_history and job.ignored_history.get("count"):
        # skytune extension: history (own or warm-start parents' trials) the optimiser could not use
        view["IgnoredHistory"] = {
            "Count": job.ignored_history["count"],
            "Observations": [{"Source": o["source"], "Reason": o["reason"]}
                             for o in job.ignored_history.get("observations", [])],
        }
    return view


def _completion_details(job: TuningJob, trials: list[Trial]) -> dict[str, Any]:
    details: dict[str, Any] = {"CompletionReason": job.completion_reason}
    if job.completion_reason == "BestObjectiveNotImproving":
        finished = sorted((t for t in trials if t.objective_value is not None),
                          key=lambda t: (t.ended_at or t.created_at, t.number))
        best_index = max(range(len(finished)), key=lambda i: _signed(job, finished[i].objective_value), default=-1)
        details["NumberOfTrainingJobsObjectiveNotImproving"] = len(finished) - 1 - best_index
    if job.completion_reason == "ConvergenceDetected":
        details["ConvergenceDetectedTime"] = _time(job.updated_at)
    return details


def _signed(job: TuningJob, value: float) -> float:
    return value if job.spec.objective.type == "Maximize" else -value


def trial_summary(job: TuningJob, trial: Trial) -> dict[str, Any]:
    """One ``HyperParameterTrainingJobSummary``."""
    summary: dict[str, Any] = {
        "TrainingJobName": trial.name,
        "TrainingJobNumber": trial.number,
        "TrainingJobStatus": trial.status.value,
        "TunedHyperParameters": format_hyperparameters(_tuned(job, trial)),
        "CreationTime": _time(trial.created_at),
        "TrainingStartTime": _time(trial.started_at),
        "TrainingEndTime": _time(trial.ended_at),
        "ObjectiveStatus": trial.objective_status.value,
        "RunId": trial.run_id,
    }
    if trial.objective_value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": job.spec.objective.type, "MetricName": job.spec.objective.metric_name,
            "Value": trial.objective_value}
    spec = job.spec
    if spec.is_multi_objective and trial.final_metrics:
        summary["FinalObjectiveMetrics"] = [
            {"Type": o.type, "MetricName": o.metric_name, "Value": trial.final_metrics.get(o.metric_name)}
            for o in spec.all_objectives]
    if spec.outcome_constraints and trial.feasible is not None:
        summary["Feasible"] = trial.feasible
        summary["OutcomeConstraintValues"] = [
            {"MetricName": c.metric_name, "Operator": c.operator, "Value": c.value,
             "Observed": (trial.final_metrics or {}).get(c.metric_name),
             "Satisfied": OutcomeConstraint(c.metric_name, c.operator, c.value).satisfied(
                 (trial.final_metrics or {}).get(c.metric_name))}
            for c in spec.outcome_constraints]
    if trial.failure_reason:
        summary["FailureReason"] = trial.failure_reason
    if trial.stop_reason:
        summary["StopReason"] = trial.stop_reason
    return summary


def pareto_trials(job: TuningJob, trials: list[Trial]) -> list[Trial]:
    """The trials no other trial dominates on every objective (feasible ones only when the job
    has outcome constraints), in trial order."""
    objectives = job.spec.all_objectives
    scored = [t for t in trials if t.final_metrics and all(o.metric_name in t.final_metrics for o in objectives)
              and (not job.spec.outcome_constraints or t.feasible)]
    if not scored:
        return []
    signs = [-1.0 if o.type == "Maximize" else 1.0 for o in objectives]
    values = np.array([[s * t.final_metrics[o.metric_name] for s, o in zip(signs, objectives)] for t in scored])
    return sorted((t for t, keep in zip(scored, pareto_mask(values)) if keep), key=lambda t: t.number)


def importance_metric(job: TuningJob, metric: str | None) -> str:
    """The metric whose importance is asked for: the objective by default, else one of the job's
    objectives or constrained metrics (400 naming `metric` otherwise)."""
    allowed = [o.metric_name for o in job.spec.all_objectives] + [c.metric_name for c in job.spec.outcome_constraints]
    if metric is None:
        return job.spec.objective.metric_name
    if metric not in allowed:
        raise InvalidInput(f"metric must be one of the job's objectives or constrained metrics: {', '.join(allowed)}",
                           field="metric")
    return metric


def trial_metric(job: TuningJob, trial: Trial, metric: str) -> float | None:
    """A trial's final value of one of the job's metrics (the objective's is `objective_value`)."""
    if metric == job.spec.objective.metric_name:
        return trial.objective_value
    return (trial.final_metrics or {}).get(metric) if trial.objective_value is not None else None


def _tuned(job: TuningJob, trial: Trial) -> dict[str, Any]:
    static = job.spec.trial.static_hyperparameters
    return {k: v for k, v in (trial.hyperparameters or {}).items() if k not in static}


def list_trials(job: TuningJob, trials: list[Trial], *, status: str | None = None, sort_by: str = "CreationTime",
                sort_order: str = "Ascending", limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
    """Filter, sort and page a job's trials (a job holds at most 750, read from one partition)."""
    if status is not None and status not in TRIAL_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(TRIAL_STATUSES)}", field="status")
    if sort_by not in SORT_KEYS:
        raise InvalidInput(f"sort_by must be one of {', '.join(SORT_KEYS)}", field="sort_by")
    if sort_order not in ("Ascending", "Descending"):
        raise InvalidInput("sort_order must be Ascending or Descending", field="sort_order")
    selected = [t for t in trials if status is None or t.status.value == status]
    descending = sort_order == "Descending"
    if sort_by == "FinalObjectiveMetricValue":
        # Trials without an objective come last in either order (as AMT lists them).
        scored = sorted((t for t in selected if t.objective_value is not None),
                        key=lambda t: (t.objective_value, t.number), reverse=descending)
        selected = scored + sorted((t for t in selected if t.objective_value is None), key=lambda t: t.number)
    else:
        key = {"Name": lambda t: t.name, "CreationTime": lambda t: (t.created_at, t.number),
               "Status": lambda t: (t.status.value, t.number)}[sort_by]
        selected = sorted(selected, key=key, reverse=descending)
    listing = _listing(job, status, sort_by, sort_order)
    offset = _offset(cursor, listing)
    page = selected[offset:offset + limit]
    next_offset = offset + len(page)
    return {
        "TrainingJobSummaries": [trial_summary(job, t) for t in page],
        "NextToken": _cursor(next_offset, listing) if next_offset < len(selected) else None,
    }


def _listing(job: TuningJob, status: str | None, sort_by: str, sort_order: str) -> bytes:
    """What a trials cursor is bound to: the job and the filter and order that made the page."""
    return json.dumps([job.name, status, sort_by, sort_order]).encode()


def _cursor(offset: int, listing: bytes) -> str:
    """"<offset>.<check>": the check value (BLAKE2b of listing and offset) makes an altered
    cursor, or one used with another job, filter or order, a 400 (the same scheme as the
    tracking list cursors, skytune.storage.repository)."""
    check = hashlib.blake2b(listing + b"\x00" + str(offset).encode(), key=_CURSOR_CHECK, digest_size=12).digest()
    return f"{offset}.{base64.urlsafe_b64encode(check).decode().rstrip('=')}"


_CURSOR_CHECK = b"skytune-tuning-trials-cursor-v1"


def _offset(cursor: str | None, listing: bytes) -> int:
    if cursor is None or cursor == "":
        return 0
    offset_text, _, _check = cursor.partition(".")
    if not (offset_text.isascii() and offset_text.isdigit() and len(offset_text) <= 6):
        raise InvalidInput("cursor is not one this listing returned; pass back NextToken unchanged", field="cursor")
    if not hmac.compare_digest(cursor, _cursor(int(offset_text), listing)):
        raise InvalidInput("cursor is not one this listing returned (altered, or made for another job, status, "
                           "sort_by or sort_order); pass back NextToken unchanged", field="cursor")
    return int(offset_text)
