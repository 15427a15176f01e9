"""The tuning use cases: what the API and each state-machine step do, over a repository.

The state machine (infra/constructs/tuning.py) runs ``workers`` loops in parallel, each:

    claim_slot -> suggest_for_trial -> (runner) -> record_trial -> claim_slot -> ...

and then ``finish_execution``. External and local workers talk to ``heartbeat`` and
``complete_trial`` through the API; ``stop_job`` comes from the API too. Every function here is
safe to run twice with the same input (Step Functions retries steps; clients retry requests).
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from skytune.errors import Conflict, InvalidInput, NotFound
from skytune.optimize import (
    Hyperband,
    Observation,
    median_stopping_rule,
    should_complete,
    suggest,
    usable_history,
    warm_start_report,
)
from skytune.optimize.constraints import OutcomeConstraint, is_feasible
from skytune.optimize.extended import Goal, Outcome, suggest_extended
from skytune.tuning import limits
from skytune.tuning.names import execution_name
from skytune.tuning.records import (
    TERMINAL_JOB,
    TERMINAL_TRIAL,
    JobStatus,
    Trial,
    TrialStatus,
    TuningJob,
    end_status,
    final_objective,
    format_hyperparameters,
    outcome_of_run,
)
from skytune.tuning.spec import TuningJobSpec, parse_request
from skytune.tuning.tracked_runs import NoTracking, RunTracker

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------------------------------------
# API: create, get, stop
# ---------------------------------------------------------------------------------------------
def create_job(repo, body: Any, now: datetime | None = None) -> tuple[TuningJob, bool]:
    """Validate and store a job; returns (job, created). The same body again returns the existing job
    (created=False, so the caller does not start a second execution); a different body is a 409."""
    spec = parse_request(body)
    now = now or utcnow()
    for index, parent in enumerate(spec.warm_start.parent_jobs if spec.warm_start else []):
        if repo.get_job(parent) is None:
            raise InvalidInput(f"parent tuning job {parent!r} does not exist", field=f"warm_start.parent_jobs[{index}]")
    job = TuningJob(name=spec.name, spec=spec, created_at=now, updated_at=now)
    if repo.insert_job(job):
        return job, True
    if repo.job_fingerprint(spec.name) == spec.fingerprint():
        return repo.get_job(spec.name), False
    raise Conflict(f"tuning job {spec.name!r} already exists with a different definition", field="name")


def get_job(repo, name: str) -> TuningJob:
    job = repo.get_job(name)
    if job is None:
        raise NotFound(f"tuning job {name!r} does not exist", field="name")
    return job


def stop_job(repo, name: str, now: datetime | None = None,
             stop_runner: Callable[[TuningJob, Trial], None] | None = None) -> TuningJob:
    """InProgress -> Stopping: no new trials start and running ones are told to stop; the state
    machine moves the job to Stopped once its workers have drained. Stopping a stopped job is a no-op."""
    now = now or utcnow()
    job = get_job(repo, name)
    if job.status in TERMINAL_JOB:
        return job
    repo.set_job_status(name, JobStatus.STOPPING, now, expected=(JobStatus.IN_PROGRESS,))
    job = get_job(repo, name)
    for trial in repo.list_trials(name):
        if trial.status == TrialStatus.IN_PROGRESS and repo.request_trial_stop(name, trial.number, "tuning job stopped"):
            if stop_runner is not None:
                stop_runner(job, trial)
    return job


# ---------------------------------------------------------------------------------------------
# State-machine steps
# ---------------------------------------------------------------------------------------------
def start_execution(repo, name: str, generation: int) -> dict[str, Any]:
    """First step of every execution: the worker list for the Map state."""
    job = get_job(repo, name)
    if generation > 0:
        repo.next_generation(name, generation)
    return {"job_name": name, "generation": generation, "workers": list(range(job.spec.workers))}


def claim_slot(repo, name: str, execution: str, worker: int, iteration: int, generation: int,
               now: datetime | None = None) -> dict[str, Any]:
    """Take the next trial slot (or learn there is none). The idempotency key is the execution,
    worker and iteration: a retried step gets the same trial back."""
    now = now or utcnow()
    job = get_job(repo, name)
    if job.status == JobStatus.IN_PROGRESS and _runtime_exceeded(job, now):
        _complete_early(repo, job, "MaxRuntimeInSeconds reached", now)
        return {"action": "done", "reason": "MaxRuntimeInSeconds reached"}
    claim = repo.claim(job, f"{execution}#{worker}#{iteration}", generation, limits.TRIALS_PER_EXECUTION, now)
    return {"action": claim.action, "trial_number": claim.trial_number, "reason": claim.reason}


def suggest_for_trial(repo, name: str, number: int, worker: int, now: datetime | None = None,
                      tracker: RunTracker | None = None) -> dict[str, Any]:
    """Choose the trial's hyperparameters with the job's strategy, given finished and pending trials,
    and describe the run for the runner step. A job that began stopping meanwhile gets no new run."""
    now = now or utcnow()
    tracker = tracker or NoTracking()
    job = get_job(repo, name)
    trial = repo.get_trial(name, number)
    if trial is None:
        raise NotFound(f"trial {number} of {name!r} does not exist", field="trial_number")
    skip = {"action": "skip", "runner": job.spec.trial.runner}
    if trial.status in TERMINAL_TRIAL:
        return {**skip, "reason": f"trial is {trial.status.value}"}
    if job.status != JobStatus.IN_PROGRESS or job.completion_reason:
        repo.finish_trial(job, number, TrialStatus.STOPPED, None, "the tuning job stopped before the trial started", now)
        return {**skip, "reason": f"job is {job.status.value}"}

    hyperparameters = trial.hyperparameters
    if hyperparameters is None:
        config = _suggest(repo, job, number, now)
        if config is None:
            repo.finish_trial(job, number, TrialStatus.FAILED, None, "the search space is exhausted", now)
            return {**skip, "reason": "search space exhausted"}
        # First suggestion wins: a retried step (with a history that moved on) keeps the first one.
        hyperparameters = repo.set_hyperparameters(name, number, config, worker, now)
    if trial.run_id is None:
        run_id = _quietly(lambda: tracker.start(name, trial.name, hyperparameters,
                                                {"skytune.trial_number": str(number)}, now))
        if run_id:
            repo.set_run_id(name, number, run_id)
    trial = repo.get_trial(name, number)
    return {"action": "run", **runner_request(job.spec, trial, hyperparameters)}


def _suggest(repo, job: TuningJob, number: int, now: datetime | None = None,
             attempts: int | None = None) -> dict[str, Any] | None:
    """A suggestion no other trial holds. The strategies never repeat a completed or pending
    configuration (unless the space is exhausted), but workers suggesting at the same moment see
    the same history and a model-based strategy gives them the same point. So the point is
    reserved atomically for this trial (a conditional write); if another trial reserved it first,
    the choice is redone with that point added as pending: the inputs change, so the retry moves
    elsewhere. After ``attempts`` the repeat is accepted (the space is exhausted). With W workers
    suggesting at once, the last may lose to each of the others in turn, so it gets W + 1 attempts
    (a fixed 3 let the 4th of 4 racing workers through with a repeat, seen in CI)."""
    now = now or utcnow()
    if attempts is None:
        attempts = job.spec.resource_limits.max_parallel_training_jobs + 1
    space = job.spec.search_space()
    extra_pending: list[dict[str, Any]] = []
    config = None
    for _ in range(attempts):
        config = _suggest_once(repo, job, number, extra_pending)
        if config is None or job.spec.strategy == "Grid":
            return config  # Grid: trial n owns the n-th grid point, no race to settle
        if repo.reserve_point(job.name, point_digest(space, config), number, now) == number:
            return config
        extra_pending.append(config)
    return config


# A continuous value is reserved to this fraction of its (scaled) range: two workers suggesting at
# the same moment get the same acquisition optimum perturbed in the 7th digit (seen in `make demo`:
# learning rates 0.0069500737 and 0.0069500730), which exact keys would let both run.
RESERVATION_RESOLUTION = 1e-4


def point_digest(space, config: Mapping[str, Any]) -> str:
    """A short, stable identity of a configuration in ``space`` for reserving it: numbers compared as
    numbers, integers and categories exactly, continuous values to ``RESERVATION_RESOLUTION`` of
    their range on the unit scale (log ranges in log space), inactive parameters as None."""
    import numpy as np

    coerced = space.coerce(config)
    active = space.active(coerced)
    key = []
    for parameter, exact in zip(space.parameters, space.key(coerced)):
        if parameter.name in active and getattr(parameter, "is_integer", True) is False:
            unit = float(parameter.to_unit(np.array([float(coerced[parameter.name])]))[0])
            key.append(round(unit / RESERVATION_RESOLUTION))
        else:
            key.append(exact)
    return hashlib.sha256(json.dumps(key, default=str).encode()).hexdigest()[:32]


def _suggest_once(repo, job: TuningJob, number: int,
                  extra_pending: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    spec = job.spec
    space = spec.search_space()
    trials = [t for t in repo.list_trials(job.name) if t.hyperparameters is not None and t.number != number]
    finished = [t for t in sorted(trials, key=lambda t: t.ended_at or t.created_at) if t.status in TERMINAL_TRIAL]
    completed = [_observation(t) for t in finished]
    pending = [t.hyperparameters for t in trials if t.status not in TERMINAL_TRIAL] + list(extra_pending or [])
    completed, dropped = usable_history(space, completed)
    ignored = [{"source": f"trial {d.trial_id}", "reason": d.reason} for d in dropped]
    inherited: list[Observation] = []
    if spec.warm_start:
        parents = []
        for parent_name in spec.warm_start.parent_jobs:
            parents += [_observation(t, source=f"parent job {parent_name} trial {t.number}")
                        for t in repo.list_trials(parent_name)
                        if t.hyperparameters is not None and t.status in TERMINAL_TRIAL]
        inherited, dropped = warm_start_report(parents, space, defaults=spec.trial.static_hyperparameters)
        ignored += [{"source": d.trial_id, "reason": d.reason} for d in dropped]
    _report_ignored(repo, job, ignored)
    seed = spec.random_seed
    if spec.strategy == "Grid":
        # Trial n takes the n-th grid point not covered by warm-start parents: trial numbers are
        # unique (atomic claims), so parallel workers can never pick the same point.
        points = suggest("Grid", space, inherited, [], number, seed, objective=spec.objective.type)
        return points[number - 1] if len(points) >= number else None
    completed = inherited + completed
    if spec.strategy == "Bayesian" and spec.uses_extended_optimizer:
        picks = suggest_extended(space, [_outcome(job, t) for t in finished], pending, 1, seed, index=number - 1,
                                 objectives=[Goal(o.metric_name, o.type, o.reference) for o in spec.all_objectives],
                                 constraints=outcome_constraints(spec))
        return picks[0] if picks else None
    options: dict[str, Any] = {}
    if spec.strategy == "Hyperband":
        options["base"] = "Random"
    # The job's seed keys the Sobol scramble (one low-discrepancy sequence per job); trial n takes
    # position n - 1 of it, and its own random stream, so parallel workers draw differently.
    picks = suggest(spec.strategy, space, completed, pending, 1, seed, index=number - 1,
                    objective=spec.objective.type, **options)
    return picks[0] if picks else None


MAX_REPORTED_IGNORED = 20


def _report_ignored(repo, job: TuningJob, ignored: list[dict[str, str]]) -> None:
    """History the optimiser could not use goes to the logs and the job's description (the first
    ``MAX_REPORTED_IGNORED`` observations and the count); written only when it changes."""
    if not ignored and not job.ignored_history:
        return
    report = {"count": len(ignored), "observations": ignored[:MAX_REPORTED_IGNORED]}
    if report == job.ignored_history:
        return
    if ignored:
        log.warning("tuning job %s: the optimiser ignores %d history observation(s): %s",
                    job.name, len(ignored), "; ".join(f"{i['source']}: {i['reason']}" for i in ignored[:5]))
    repo.set_ignored_history(job.name, report)


def trial_seed(job_seed: int, number: int) -> int:
    """A per-trial seed derived from the job's (kept for callers that want one stream per trial;
    the engine passes the job seed and the trial's index instead, see ``_suggest_once``)."""
    return int.from_bytes(hashlib.sha256(f"{job_seed}:{number}".encode()).digest()[:4], "big")


def _observation(trial: Trial, source: Any = None) -> Observation:
    value = trial.objective_value if trial.status in (TrialStatus.COMPLETED, TrialStatus.STOPPED) else None
    return Observation(trial.hyperparameters, value, tuple(trial.curve),
                       trial.number if source is None else source)


def outcome_constraints(spec: TuningJobSpec) -> list[OutcomeConstraint]:
    return [OutcomeConstraint(c.metric_name, c.operator, c.value) for c in spec.outcome_constraints]


def _outcome(job: TuningJob, trial: Trial) -> Outcome:
    """A finished trial for the extended optimiser: its final metrics (objectives, constrained
    metrics); without an objective value it counts as failed."""
    metrics = dict(trial.final_metrics or {})
    if trial.objective_value is not None:
        metrics.setdefault(job.spec.objective.metric_name, trial.objective_value)
    return Outcome(trial.hyperparameters, metrics, trial.objective_value is None, trial.number)


def runner_request(spec: TuningJobSpec, trial: Trial, hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """What the run step needs, per runner (the state machine routes on ``runner``)."""
    definition = spec.trial
    request: dict[str, Any] = {
        "runner": definition.runner,
        "job_name": spec.name,
        "trial_number": trial.number,
        "trial_name": trial.name,
        "run_id": trial.run_id,
        "hyperparameters": dict(hyperparameters),
        "objective": spec.objective.model_dump(),
        "metric_definitions": definition.metric_definitions,
        "max_runtime_in_seconds": definition.max_runtime_in_seconds,
        "heartbeat_seconds": definition.heartbeat_seconds,
        # Step Functions' own deadline for the run step: the trial's limit plus time to report.
        "timeout_seconds": definition.max_runtime_in_seconds + 2 * definition.heartbeat_seconds,
    }
    if definition.runner == "local":
        request.update(command=definition.command, working_dir=definition.working_dir,
                       environment=definition.environment)
    elif definition.runner == "lambda":
        request.update(function_name=definition.function_name)
    elif definition.runner == "sagemaker":
        request["training_job"] = sagemaker_training_job(spec, trial, hyperparameters)
    return request


def sagemaker_training_job(spec: TuningJobSpec, trial: Trial, hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """CreateTrainingJob parameters: the job's TrainingJobDefinition with this trial's name and
    hyperparameters (as strings, as SageMaker requires) and tags linking it to the tuning job and run."""
    definition = dict(spec.trial.training_job_definition or {})
    definition.pop("DefinitionName", None)
    definition.pop("TuningObjective", None)
    definition.pop("HyperParameterRanges", None)
    tags = [{"Key": "skytune:tuning-job", "Value": spec.name}, {"Key": "skytune:trial", "Value": trial.name}]
    # The same names the local runner sets, so `skytune.sagemaker.load_run()` in the training script
    # finds the trial's run (every trial shares one definition: the user cannot set a per-trial id).
    environment = {**(definition.get("Environment") or {}), "SKYTUNE_TUNING_JOB": spec.name,
                   "SKYTUNE_TRIAL_NAME": trial.name}
    if trial.run_id:
        tags.append({"Key": "skytune:run-id", "Value": trial.run_id})
        environment["SKYTUNE_RUN_ID"] = trial.run_id
    # SageMaker training job names are at most 63 characters of [a-zA-Z0-9-].
    name = "".join(c if c.isalnum() or c == "-" else "-" for c in trial.name)
    if len(name) > 63:
        name = name[:50].rstrip("-") + "-" + trial.name[-12:]
    return {
        **definition,
        "TrainingJobName": name,
        "HyperParameters": format_hyperparameters(hyperparameters),
        "StoppingCondition": {**(definition.get("StoppingCondition") or {}),
                              "MaxRuntimeInSeconds": spec.trial.max_runtime_in_seconds},
        "Tags": [*(definition.get("Tags") or []), *tags],
        "Environment": environment,
    }


def record_trial(repo, name: str, number: int, runner: str, run_output: Any, now: datetime | None = None,
                 tracker: RunTracker | None = None) -> dict[str, Any]:
    """End the trial from what its run step returned, count it, keep the best, and check the job's
    completion criteria. A trial already ended (retried step, or skipped) changes nothing."""
    now = now or utcnow()
    tracker = tracker or NoTracking()
    job = get_job(repo, name)
    trial = repo.get_trial(name, number)
    if trial is None or trial.status in TERMINAL_TRIAL:
        return {"action": "next", "status": trial.status.value if trial else None}

    outcome = outcome_of_run(runner, run_output)
    metric = job.spec.objective.metric_name
    if metric in outcome.final_metrics and not trial.curve:
        # The runner returned the final value without intermediate reports (Lambda, SageMaker).
        repo.add_curve_points(name, number, [(0, outcome.final_metrics[metric])])
        trial = repo.get_trial(name, number)
    status = outcome.status
    if trial.status == TrialStatus.STOPPING and status == TrialStatus.COMPLETED:
        status = TrialStatus.STOPPED  # it finished while the stop was on its way: stopped early all the same
    extra = job.spec.reported_metrics
    returned = [(m, 0, outcome.final_metrics[m]) for m in extra if m in outcome.final_metrics
                and not trial.metric_points.get(m)]
    if returned:  # further objectives / constrained metrics the runner returned as final values
        repo.add_metric_points(name, number, returned)
        trial = repo.get_trial(name, number)
    objective = final_objective(trial.curve) if status != TrialStatus.FAILED else None
    reason = outcome.failure_reason
    if status == TrialStatus.COMPLETED and objective is None:
        if metric in outcome.rejected_metrics:
            reason = reason or (f"the objective metric {metric!r} is not a number: "
                                f"metrics.{metric} = {outcome.rejected_metrics[metric]}")
        reason = reason or f"the trial never reported the objective metric {metric!r}"
    extended: dict[str, Any] = {}
    if extra or job.spec.outcome_constraints:
        objective, reason, extended = _final_metrics(job.spec, trial, status, objective, reason, outcome)
    ended = repo.finish_trial(job, number, status, objective, reason, now, **extended)
    if ended and trial.run_id:
        _quietly(lambda: tracker.finish(trial.run_id, status.value, now))
    _check_completion(repo, name, now)
    return {"action": "next", "status": status.value, "objective": objective}


def _final_metrics(spec: TuningJobSpec, trial: Trial, status: TrialStatus, objective: float | None,
                   reason: str | None, outcome) -> tuple[float | None, str | None, dict[str, Any]]:
    """Beyond AMT: every job metric's final value (its value at the largest step), whether the
    trial satisfies the outcome constraints, and whether it may be the best trial. A trial that
    misses one of several objectives has no objective (as one missing its only objective)."""
    finals: dict[str, float] = {}
    if objective is not None:
        finals[spec.objective.metric_name] = objective
        for metric in spec.reported_metrics:
            value = final_objective(trial.metric_points.get(metric, []))
            if value is not None:
                finals[metric] = value
        for extra in spec.all_objectives[1:]:
            if extra.metric_name not in finals:
                objective, finals = None, {}
                if status == TrialStatus.COMPLETED:
                    rejected = outcome.rejected_metrics.get(extra.metric_name)
                    reason = reason or (f"the objective metric {extra.metric_name!r} is not a number: "
                                        f"metrics.{extra.metric_name} = {rejected}" if rejected else
                                        f"the trial never reported the objective metric {extra.metric_name!r}")
                break
    feasible = None
    if spec.outcome_constraints and objective is not None:
        feasible = is_feasible(outcome_constraints(spec), finals)
    return objective, reason, {"final_metrics": finals if objective is not None else None, "feasible": feasible,
                               "best_candidate": not spec.is_multi_objective and feasible is not False}


def _check_completion(repo, name: str, now: datetime) -> None:
    job = get_job(repo, name)
    criteria = job.spec.completion_criteria
    if job.status != JobStatus.IN_PROGRESS or job.completion_reason:
        return
    if criteria.target_objective_metric_value is None and not criteria.max_number_of_training_jobs_not_improving \
            and not criteria.complete_on_convergence:
        return
    finished = sorted((t for t in repo.list_trials(name) if t.status in TERMINAL_TRIAL),
                      key=lambda t: (t.ended_at or t.created_at, t.number))
    observations = [Observation(t.hyperparameters or {}, t.objective_value) for t in finished]
    done, reason = should_complete(observations, job.spec.objective.type,
                                   target=criteria.target_objective_metric_value,
                                   max_no_improvement=criteria.max_number_of_training_jobs_not_improving,
                                   convergence=criteria.complete_on_convergence)
    if done:
        _complete_early(repo, job, reason, now)


def _complete_early(repo, job: TuningJob, reason: str, now: datetime) -> None:
    """A completion criterion (or the job's runtime limit) is met: start no trial, stop running ones."""
    repo.set_completion_reason(job.name, reason, now)
    for trial in repo.list_trials(job.name):
        if trial.status == TrialStatus.IN_PROGRESS:
            repo.request_trial_stop(job.name, trial.number, f"tuning job complete: {reason}")


def _runtime_exceeded(job: TuningJob, now: datetime) -> bool:
    limit = job.spec.resource_limits.max_runtime_in_seconds
    return limit is not None and (now - job.created_at).total_seconds() >= limit


def finish_execution(repo, name: str, generation: int, worker_results: list[Any], now: datetime | None = None,
                     failure: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """After every worker of an execution has stopped: continue as a new execution if the job only
    paused for the history limit, else set the final status. ``failure`` is the error a worker
    loop died of (after its retries): the job fails with it, unless it was being stopped anyway."""
    now = now or utcnow()
    job = get_job(repo, name)
    if failure:
        status = JobStatus.STOPPED if job.status == JobStatus.STOPPING else JobStatus.FAILED
        reason = None if status == JobStatus.STOPPED else \
            f"the tuning loop failed: {failure.get('Error')}: {str(failure.get('Cause', ''))[:500]}"
        repo.set_job_status(name, status, now, expected=(JobStatus.IN_PROGRESS, JobStatus.STOPPING),
                            failure_reason=reason, ended=True)
        return {"action": "end", "status": status.value}
    wants_more = any(isinstance(r, Mapping) and (r.get("claim") or {}).get("action") == "continue_as_new"
                     for r in worker_results or [])
    if (wants_more and job.status == JobStatus.IN_PROGRESS and not job.completion_reason
            and job.counters.started < job.spec.max_trials):
        return {"action": "continue", "job_name": name, "generation": generation + 1,
                "execution_name": execution_name(name, generation + 1)}
    status, failure_reason = end_status(job)
    repo.set_job_status(name, status, now, expected=(JobStatus.IN_PROGRESS, JobStatus.STOPPING),
                        failure_reason=failure_reason, ended=True)
    return {"action": "end", "status": status.value}


# ---------------------------------------------------------------------------------------------
# Workers (external and local) through the API
# ---------------------------------------------------------------------------------------------
def _trial_of(repo, name: str, trial_name: str) -> Trial:
    trial = repo.get_trial_by_name(name, trial_name)
    if trial is None:
        raise NotFound(f"tuning job {name!r} has no trial {trial_name!r}", field="trial_name")
    return trial


def objective_points(spec: TuningJobSpec, metrics: list[Mapping[str, Any]]) -> list[tuple[int, float]]:
    """The objective's (step, value) among reported metric points; points need a step."""
    points = [(step, value) for _, step, value in
              _job_metric_points(metrics, {spec.objective.metric_name}, "objective metric")]
    return points[-limits.MAX_CURVE_POINTS:]


def reported_points(spec: TuningJobSpec, metrics: list[Mapping[str, Any]]) -> list[tuple[str, int, float]]:
    """Beyond AMT: the (metric, step, value) points of further objectives and constrained metrics
    (the last ``MAX_CURVE_POINTS`` of each); they need a step, as the objective's do."""
    wanted = set(spec.reported_metrics)
    points = _job_metric_points(metrics, wanted, "metric") if wanted else []
    return [p for m in wanted for p in [q for q in points if q[0] == m][-limits.MAX_CURVE_POINTS:]]


def _job_metric_points(metrics: list[Mapping[str, Any]], names: set[str], what: str
                       ) -> list[tuple[str, int, float]]:
    points = []
    for index, point in enumerate(metrics or []):
        name = point.get("name")
        if name not in names:
            continue
        if point.get("step") is None:
            raise InvalidInput(f"{what} points need a step", field=f"metrics[{index}].step")
        step, value = point["step"], point.get("value")
        if isinstance(step, bool) or not isinstance(step, int) and not (isinstance(step, float) and step.is_integer()):
            raise InvalidInput(f"the step of the {what} must be an integer, not {step!r}",
                               field=f"metrics[{index}].step")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(f"the {what} {name!r} must be a number, not {value!r}",
                               field=f"metrics[{index}].value")
        points.append((name, int(step), float(value)))
    return points


def report_metrics(repo, name: str, trial_name: str, metrics: list[Mapping[str, Any]],
                   now: datetime | None = None, tracker: RunTracker | None = None) -> Trial:
    now = now or utcnow()
    job = get_job(repo, name)
    trial = _trial_of(repo, name, trial_name)
    points = objective_points(job.spec, metrics)
    extra = reported_points(job.spec, metrics)
    if points and trial.status not in TERMINAL_TRIAL:
        repo.add_curve_points(name, trial.number, points)
    if extra and trial.status not in TERMINAL_TRIAL:
        repo.add_metric_points(name, trial.number, extra)
    if trial.run_id and metrics:
        _quietly(lambda: (tracker or NoTracking()).log_metrics(trial.run_id, list(metrics), now))
    return repo.get_trial(name, trial.number)


def heartbeat(repo, name: str, trial_name: str, metrics: list[Mapping[str, Any]] | None = None,
              now: datetime | None = None, tracker: RunTracker | None = None) -> dict[str, Any]:
    """A worker is alive and reports metrics; answers whether it must stop (job stopped, job
    complete, or early stopping decided from the metrics so far)."""
    now = now or utcnow()
    trial = report_metrics(repo, name, trial_name, metrics or [], now, tracker)
    job = get_job(repo, name)
    if trial.status in TERMINAL_TRIAL:
        return {"stop": True, "reason": f"trial is {trial.status.value}"}
    if trial.status == TrialStatus.STOPPING:
        return {"stop": True, "reason": trial.stop_reason or "stop requested"}
    if _runtime_exceeded(job, now) and job.status == JobStatus.IN_PROGRESS:
        _complete_early(repo, job, "MaxRuntimeInSeconds reached", now)
        return {"stop": True, "reason": "the tuning job reached MaxRuntimeInSeconds"}
    decision = early_stopping_decision(job, trial, repo.list_trials(name))
    if decision and repo.request_trial_stop(name, trial.number, decision):
        return {"stop": True, "reason": decision}
    return {"stop": False, "reason": ""}


def early_stopping_decision(job: TuningJob, trial: Trial, trials: list[Trial]) -> str | None:
    """Why the running ``trial`` should stop now, or None. ``Auto``: the median rule against the
    trials that finished before it; Hyperband: its bracket's rung rule."""
    spec = job.spec
    if not trial.curve:
        return None
    if spec.strategy == "Hyperband" and spec.hyperband:
        hyperband = Hyperband(spec.hyperband.min_resource, spec.hyperband.max_resource)
        bracket = hyperband.bracket_of(trial.number - 1)
        peers = [t.curve for t in trials if t.number != trial.number and t.curve
                 and hyperband.bracket_of(t.number - 1) == bracket]
        decision = hyperband.should_stop(trial.curve, bracket, peers, spec.objective.type)
        return f"Hyperband: {decision.reason}" if decision.stop else None
    if spec.early_stopping == "Auto":
        earlier = [t.curve for t in trials if t.status in TERMINAL_TRIAL and t.curve and t.number != trial.number]
        if median_stopping_rule(trial.curve, earlier, spec.objective.type):
            return "early stopping (median rule): worse than the median of earlier trials at this step"
    return None


def complete_trial(repo, name: str, trial_name: str, status: str, failure_reason: str | None = None,
                   metrics: list[Mapping[str, Any]] | None = None, now: datetime | None = None,
                   tracker: RunTracker | None = None) -> tuple[str | None, dict[str, Any]]:
    """A worker finished a trial. Returns the task token to resume the state machine with, and the
    output to resume it with (the record step ends the trial from it). None token: already ended."""
    if status not in (TrialStatus.COMPLETED.value, TrialStatus.FAILED.value, TrialStatus.STOPPED.value):
        raise InvalidInput("status must be Completed, Failed or Stopped", field="status")
    trial = report_metrics(repo, name, trial_name, metrics or [], now, tracker)
    output = {"status": status, "failure_reason": failure_reason}
    if trial.status in TERMINAL_TRIAL:
        return None, output
    return repo.task_token(name, trial.number), output


def _quietly(action: Callable[[], Any]) -> Any:
    """Run-tracking side effects must never fail a tuning step: the trial's own record is the source
    of truth for tuning, the tracked run is its mirror for search and analytics."""
    try:
        return action()
    except Exception:  # noqa: BLE001
        log.exception("tracking a tuning trial failed")
        return None
