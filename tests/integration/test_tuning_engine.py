"""Tuning state changes against DynamoDB Local: atomic claims, retried steps, stop, completion.

Fault injection: concurrent and retried claims, retried record steps, a stop arriving mid-suggest,
trials without objective. Counters are asserted exactly.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from skytune.errors import Conflict
from skytune.tuning import engine
from skytune.tuning.records import JobStatus, TrialStatus
from tests.support.tuning_engine import finish_trial, job_specs, start_trial

spec = job_specs("it")


def run_trial(tuning_repo, name: str, worker: int, iteration: int, value: float | None, status: str = "Completed") -> int:
    number, request = start_trial(tuning_repo, name, iteration, worker)
    metrics = [] if value is None else [{"name": "acc", "value": value, "step": 1}]
    engine.report_metrics(tuning_repo, name, request["trial_name"], metrics)
    finish_trial(tuning_repo, name, number, status)
    return number


def test_concurrent_claims_never_exceed_the_budget(tuning_repo):
    job, created = engine.create_job(tuning_repo, spec(resource_limits={"max_number_of_training_jobs": 5, "max_parallel_training_jobs": 8}))
    assert created
    barrier = threading.Barrier(8)

    def claim(worker: int) -> dict:
        barrier.wait()
        return engine.claim_slot(tuning_repo, job.name, "exec", worker, 0, 0)

    with ThreadPoolExecutor(8) as pool:
        claims = list(pool.map(claim, range(8)))
    numbers = sorted(c["trial_number"] for c in claims if c["action"] == "run")
    assert numbers == [1, 2, 3, 4, 5]
    assert [c["reason"] for c in claims if c["action"] == "done"] == ["MaxNumberOfTrainingJobs reached"] * 3
    stored = tuning_repo.get_job(job.name)
    assert stored.counters.started == 5 and stored.counters.in_progress == 5


def test_a_retried_claim_gets_the_same_trial_and_counts_once(tuning_repo):
    job, _ = engine.create_job(tuning_repo, spec())
    first = engine.claim_slot(tuning_repo, job.name, "exec", 0, 0, 0)
    again = engine.claim_slot(tuning_repo, job.name, "exec", 0, 0, 0)
    assert first == {**again, "reason": first["reason"]} and first["trial_number"] == 1
    assert tuning_repo.get_job(job.name).counters.started == 1
    assert engine.claim_slot(tuning_repo, job.name, "exec", 0, 1, 0)["trial_number"] == 2


def test_a_retried_suggest_keeps_its_first_suggestion(tuning_repo):
    job, _ = engine.create_job(tuning_repo, spec())
    number = engine.claim_slot(tuning_repo, job.name, "exec", 0, 0, 0)["trial_number"]
    first = engine.suggest_for_trial(tuning_repo, job.name, number, 0)
    run_trial(tuning_repo, job.name, 1, 0, 0.5)  # the history moves on meanwhile
    assert engine.suggest_for_trial(tuning_repo, job.name, number, 0)["hyperparameters"] == first["hyperparameters"]


def test_records_count_once_and_failed_trials_carry_their_reason(tuning_repo):
    job, _ = engine.create_job(tuning_repo, spec())
    ok = run_trial(tuning_repo, job.name, 0, 0, 0.7)
    engine.record_trial(tuning_repo, job.name, ok, "external", {"status": "Completed"})  # retried record step
    crashed = run_trial(tuning_repo, job.name, 1, 0, None, status="Failed")
    silent = run_trial(tuning_repo, job.name, 2, 0, None)
    timed_out_claim = engine.claim_slot(tuning_repo, job.name, "exec", 0, 1, 0)["trial_number"]
    engine.suggest_for_trial(tuning_repo, job.name, timed_out_claim, 0)
    engine.record_trial(tuning_repo, job.name, timed_out_claim, "external", {"Error": "States.HeartbeatTimeout", "Cause": ""})
    counters = tuning_repo.get_job(job.name).counters
    assert (counters.started, counters.in_progress, counters.completed, counters.failed, counters.stopped) == (4, 0, 2, 2, 0)
    assert (counters.objective_succeeded, counters.objective_failed) == (1, 3)
    assert tuning_repo.get_trial(job.name, silent).failure_reason == "the trial never reported the objective metric 'acc'"
    assert "heartbeats" in tuning_repo.get_trial(job.name, timed_out_claim).failure_reason
    assert tuning_repo.get_trial(job.name, crashed).status == TrialStatus.FAILED
    assert tuning_repo.get_job(job.name).best_value == 0.7


def test_best_trial_only_improves(tuning_repo):
    job, _ = engine.create_job(tuning_repo, spec(objective={"metric_name": "acc", "type": "Minimize"}))
    for worker, value in enumerate([0.5, 0.3, 0.4]):
        run_trial(tuning_repo, job.name, worker, 0, value)
    stored = tuning_repo.get_job(job.name)
    assert stored.best_value == 0.3 and stored.best_trial.endswith(("-002-" + stored.best_trial.rsplit("-", 1)[1]))


def test_a_stop_arriving_mid_suggest_starts_no_trial_and_ends_stopped(tuning_repo):
    job, _ = engine.create_job(tuning_repo, spec())
    number = engine.claim_slot(tuning_repo, job.name, "exec", 0, 0, 0)["trial_number"]
    running = run_trial(tuning_repo, job.name, 1, 0, 0.5)
    engine.stop_job(tuning_repo, job.name)
    assert tuning_repo.get_job(job.name).status == JobStatus.STOPPING
    assert engine.suggest_for_trial(tuning_repo, job.name, number, 0)["action"] == "skip"
    assert engine.claim_slot(tuning_repo, job.name, "exec", 2, 0, 0)["action"] == "done"
    assert engine.finish_execution(tuning_repo, job.name, 0, [])["status"] == "Stopped"
    stored = tuning_repo.get_job(job.name)
    assert stored.status == JobStatus.STOPPED and stored.counters.stopped == 1 and stored.counters.completed == 1
    assert tuning_repo.get_trial(job.name, running).status == TrialStatus.COMPLETED


def test_stop_marks_running_trials_and_their_heartbeat_says_stop(tuning_repo):
    job, _ = engine.create_job(tuning_repo, spec())
    number = engine.claim_slot(tuning_repo, job.name, "exec", 0, 0, 0)["trial_number"]
    name = engine.suggest_for_trial(tuning_repo, job.name, number, 0)["trial_name"]
    assert engine.heartbeat(tuning_repo, job.name, name)["stop"] is False
    engine.stop_job(tuning_repo, job.name)
    assert engine.heartbeat(tuning_repo, job.name, name) == {"stop": True, "reason": "tuning job stopped"}
    engine.record_trial(tuning_repo, job.name, number, "external", {"status": "Completed"})
    assert tuning_repo.get_trial(job.name, number).status == TrialStatus.STOPPED  # it was being stopped


def test_target_value_completes_the_job_early(tuning_repo):
    job, _ = engine.create_job(tuning_repo, spec(completion_criteria={"target_objective_metric_value": 0.9}))
    waiting = engine.claim_slot(tuning_repo, job.name, "exec", 0, 0, 0)["trial_number"]
    engine.suggest_for_trial(tuning_repo, job.name, waiting, 0)
    run_trial(tuning_repo, job.name, 1, 0, 0.95)
    stored = tuning_repo.get_job(job.name)
    assert stored.completion_reason == "TargetObjectiveMetricValueReached"
    assert tuning_repo.get_trial(job.name, waiting).status == TrialStatus.STOPPING
    assert engine.claim_slot(tuning_repo, job.name, "exec", 2, 0, 0)["action"] == "done"
    engine.record_trial(tuning_repo, job.name, waiting, "external", {"status": "Stopped"})
    assert engine.finish_execution(tuning_repo, job.name, 0, [])["status"] == "Completed"


def test_a_job_whose_trials_all_fail_is_failed(tuning_repo):
    job, _ = engine.create_job(tuning_repo, spec(resource_limits={"max_number_of_training_jobs": 2, "max_parallel_training_jobs": 1}))
    run_trial(tuning_repo, job.name, 0, 0, None, status="Failed")
    run_trial(tuning_repo, job.name, 0, 1, None, status="Failed")
    assert engine.claim_slot(tuning_repo, job.name, "exec", 0, 2, 0)["action"] == "done"
    assert engine.finish_execution(tuning_repo, job.name, 0, [])["status"] == "Failed"
    assert "no trial reported" in tuning_repo.get_job(job.name).failure_reason


def test_max_runtime_completes_the_job(tuning_repo):
    job, _ = engine.create_job(tuning_repo, spec(resource_limits={"max_number_of_training_jobs": 5, "max_parallel_training_jobs": 1,
                                                           "max_runtime_in_seconds": 120}))
    later = datetime.now(timezone.utc) + timedelta(seconds=121)
    assert engine.claim_slot(tuning_repo, job.name, "exec", 0, 0, 0, now=later)["action"] == "done"
    assert tuning_repo.get_job(job.name).completion_reason == "MaxRuntimeInSeconds reached"


def test_continue_as_new_after_the_execution_share(tuning_repo, monkeypatch):
    from skytune.tuning import limits

    monkeypatch.setattr(limits, "TRIALS_PER_EXECUTION", 2)
    job, _ = engine.create_job(tuning_repo, spec())
    run_trial(tuning_repo, job.name, 0, 0, 0.1)
    run_trial(tuning_repo, job.name, 0, 1, 0.2)
    claim = engine.claim_slot(tuning_repo, job.name, "exec", 0, 2, 0)
    assert claim["action"] == "continue_as_new"
    decision = engine.finish_execution(tuning_repo, job.name, 0, [{"worker": 0, "claim": claim}])
    assert decision["action"] == "continue" and decision["generation"] == 1
    assert engine.start_execution(tuning_repo, job.name, 1)["workers"] == [0, 1, 2]
    assert engine.claim_slot(tuning_repo, job.name, "exec-g1", 0, 0, 1)["trial_number"] == 3
    # the old execution can no longer claim
    assert engine.claim_slot(tuning_repo, job.name, "exec", 1, 5, 0)["action"] == "done"


def test_create_is_idempotent_and_conflicts_on_a_different_body(tuning_repo):
    body = spec()
    _, created = engine.create_job(tuning_repo, body)
    assert created
    assert engine.create_job(tuning_repo, body)[1] is False
    with pytest.raises(Conflict) as caught:
        engine.create_job(tuning_repo, {**body, "random_seed": 9})
    assert caught.value.field == "name"


def test_parallel_grid_suggestions_never_take_the_same_point(tuning_repo):
    job, _ = engine.create_job(tuning_repo, spec(strategy="Grid", parameter_ranges={
        "IntegerParameterRanges": [{"Name": "x", "MinValue": "1", "MaxValue": "4"}]},
        resource_limits={"max_number_of_training_jobs": 4, "max_parallel_training_jobs": 4}))
    numbers = [engine.claim_slot(tuning_repo, job.name, "exec", worker, 0, 0)["trial_number"] for worker in range(4)]
    barrier = threading.Barrier(4)

    def suggest(worker_and_number):
        worker, number = worker_and_number
        barrier.wait()
        return engine.suggest_for_trial(tuning_repo, job.name, number, worker)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(suggest, enumerate(numbers)))
    points = sorted(int(tuning_repo.get_trial(job.name, n).hyperparameters["x"]) for n in numbers)
    assert points == [1, 2, 3, 4]
