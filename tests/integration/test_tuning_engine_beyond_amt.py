"""Beyond AMT against DynamoDB Local through the engine's steps and the worker protocol: further
objectives and constrained metrics reported by heartbeats (retried deliveries never change the
final values), a trial missing one of several objectives, infeasible trials never becoming the
best trial, and a non-number for a job metric named as the field."""
from __future__ import annotations


import pytest

from skytune.errors import InvalidInput
from skytune.tuning import engine, views
from tests.support.tuning_engine import finish_trial, job_specs, start_trial

spec = job_specs("beyond", strategy="Bayesian", trial={"runner": "external"},
                 resource_limits={"max_number_of_training_jobs": 8, "max_parallel_training_jobs": 2})


def run_trial(tuning_repo, name, iteration, metrics, status="Completed", repeat=1):
    number, request = start_trial(tuning_repo, name, iteration)
    for _ in range(repeat):  # a re-delivered heartbeat
        engine.heartbeat(tuning_repo, name, request["trial_name"], metrics)
    finish_trial(tuning_repo, name, number, status, records=2)  # a retried record step
    return tuning_repo.get_trial(name, number)


def test_several_objectives_are_kept_per_trial_and_a_missing_one_fails_the_objective(tuning_repo):
    job, _ = engine.create_job(tuning_repo, spec(objectives=[{"metric_name": "acc", "type": "Maximize"},
                                                      {"metric_name": "latency", "type": "Minimize"}]))
    first = run_trial(tuning_repo, job.name, 0, [{"name": "acc", "value": 0.8, "step": 1},
                                          {"name": "latency", "value": 30.0, "step": 1},
                                          {"name": "latency", "value": 20.0, "step": 2}], repeat=2)
    assert first.final_metrics == {"acc": 0.8, "latency": 20.0}
    assert first.objective_value == 0.8 and first.metric_points == {"latency": [(1, 30.0), (2, 20.0)]}
    second = run_trial(tuning_repo, job.name, 1, [{"name": "acc", "value": 0.9, "step": 1}])
    assert second.objective_value is None and second.objective_status.value == "Failed"
    assert "never reported the objective metric 'latency'" in second.failure_reason
    third = run_trial(tuning_repo, job.name, 2, [{"name": "acc", "value": 0.7, "step": 1}, {"name": "latency", "value": 5, "step": 1}])
    stored = tuning_repo.get_job(job.name)
    assert stored.counters.objective_succeeded == 2 and stored.counters.objective_failed == 1
    view = views.describe_job(stored, tuning_repo.list_trials(job.name), engine.utcnow())
    assert {t["TrainingJobName"] for t in view["ParetoFrontTrainingJobs"]} == {first.name, third.name}
    assert "BestTrainingJob" not in view


def test_infeasible_trials_never_become_the_best_trial(tuning_repo):
    job, _ = engine.create_job(tuning_repo, spec(outcome_constraints=[{"metric_name": "latency", "operator": "<=", "value": 10}]))
    feasible = run_trial(tuning_repo, job.name, 0, [{"name": "acc", "value": 0.5, "step": 1}, {"name": "latency", "value": 9, "step": 1}])
    infeasible = run_trial(tuning_repo, job.name, 1, [{"name": "acc", "value": 0.9, "step": 1}, {"name": "latency", "value": 11, "step": 1}])
    unreported = run_trial(tuning_repo, job.name, 2, [{"name": "acc", "value": 0.95, "step": 1}])
    assert (feasible.feasible, infeasible.feasible, unreported.feasible) == (True, False, False)
    stored = tuning_repo.get_job(job.name)
    assert stored.best_trial == feasible.name and stored.best_value == 0.5
    view = views.describe_job(stored, tuning_repo.list_trials(job.name), engine.utcnow())
    assert view["BestTrainingJob"]["TrainingJobName"] == feasible.name
    assert view["OutcomeConstraintCounters"] == {"Feasible": 1, "Infeasible": 2}
    listed = views.list_trials(stored, tuning_repo.list_trials(job.name), sort_by="FinalObjectiveMetricValue",
                               sort_order="Descending")["TrainingJobSummaries"]
    assert [(t["TrainingJobName"], t["Feasible"]) for t in listed] == [
        (unreported.name, False), (infeasible.name, False), (feasible.name, True)]
    # the next suggestions still work from this history (constraint GP + EI on the feasible best)
    for iteration in range(3, 7):
        trial = run_trial(tuning_repo, job.name, iteration, [{"name": "acc", "value": 0.1, "step": 1},
                                                      {"name": "latency", "value": 1, "step": 1}])
        assert trial.hyperparameters["lr"] > 0


def test_a_job_metric_that_is_not_a_number_is_a_400_naming_it(tuning_repo):
    job, _ = engine.create_job(tuning_repo, spec(outcome_constraints=[{"metric_name": "latency", "operator": "<=", "value": 10}]))
    claim = engine.claim_slot(tuning_repo, job.name, "exec", 0, 0, 0)
    request = engine.suggest_for_trial(tuning_repo, job.name, claim["trial_number"], 0)
    with pytest.raises(InvalidInput) as error:
        engine.heartbeat(tuning_repo, job.name, request["trial_name"],
                         [{"name": "acc", "value": 0.5, "step": 1}, {"name": "latency", "value": "fast", "step": 1}])
    assert error.value.field == "metrics[1].value" and "'latency'" in error.value.message
    with pytest.raises(InvalidInput) as error:
        engine.heartbeat(tuning_repo, job.name, request["trial_name"], [{"name": "latency", "value": 3.0}])
    assert error.value.field == "metrics[0].step"


def test_objective_references_reach_the_optimiser(tuning_repo, monkeypatch):
    from skytune.optimize import extended

    seen = []
    real = engine.suggest_extended
    monkeypatch.setattr(engine, "suggest_extended",
                        lambda *a, **k: seen.append(k["objectives"]) or real(*a, **k))
    first = {"metric_name": "acc", "type": "Maximize", "reference": 0.5}
    job, _ = engine.create_job(tuning_repo, spec(objective=first, objectives=[first, {"metric_name": "latency", "type": "Minimize"}]))
    run_trial(tuning_repo, job.name, 0, [{"name": "acc", "value": 0.8, "step": 1}, {"name": "latency", "value": 9, "step": 1}])
    assert seen[0] == [extended.Goal("acc", "Maximize", 0.5), extended.Goal("latency", "Minimize", None)]
    assert tuning_repo.get_job(job.name).spec.objectives[0].reference == 0.5
