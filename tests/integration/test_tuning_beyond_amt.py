"""Issue 15 section 3 end to end: multi-objective jobs, outcome constraints and conditional search
spaces through the API (400s naming fields), the synthesised state machine with the Lambda runner
(trial functions registered in the local Step Functions), DynamoDB Local, describe and list."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest


@pytest.fixture
def tuning(local_stack):
    return local_stack.tuning


def _run(tuning, body, trial_function, timeout=180):
    tuning.stepfunctions.register_function(body["trial"]["function_name"], trial_function)
    status, created = tuning.api("POST", "/v1/tuning-jobs", body)
    assert status == 201, created
    deadline = time.monotonic() + timeout
    while True:
        job = tuning.api("GET", f"/v1/tuning-jobs/{body['name']}")[1]
        if job["HyperParameterTuningJobStatus"] != "InProgress" or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    trials = tuning.api("GET", f"/v1/tuning-jobs/{body['name']}/trials?limit=100")[1]["TrainingJobSummaries"]
    return job, trials


def _body(name, **extra):
    return {
        "name": f"{name}-{int(time.time() * 1000) % 10**9}", "strategy": "Bayesian",
        "parameter_ranges": {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"},
                                                           {"Name": "y", "MinValue": "0", "MaxValue": "1"}]},
        "resource_limits": {"max_number_of_training_jobs": 9, "max_parallel_training_jobs": 2},
        "trial": {"runner": "lambda", "function_name": f"skytune-trial-{name}"},
        "random_seed": 7, **extra,
    }


def test_multi_objective_job_describes_its_pareto_set(tuning):
    body = _body("mo", objectives=[{"metric_name": "accuracy", "type": "Maximize"},
                                   {"metric_name": "latency_ms", "type": "Minimize"}])

    def trial_function(event, _context):
        hp = event["hyperparameters"]
        # a trade-off: accuracy grows with x, so does latency; y only hurts
        return {"metrics": {"accuracy": hp["x"] - 0.3 * hp["y"], "latency_ms": 10 + 90 * hp["x"] ** 2 + 5 * hp["y"]}}

    job, trials = _run(tuning, body, trial_function)
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    assert job["ObjectiveStatusCounters"]["Succeeded"] == 9
    assert "BestTrainingJob" not in job
    assert job["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjectives"] == [
        {"Type": "Maximize", "MetricName": "accuracy"}, {"Type": "Minimize", "MetricName": "latency_ms"}]
    # every trial carries both objectives; the Pareto set is exactly the non-dominated trials
    values = {}
    for trial in trials:
        metrics = {m["MetricName"]: m["Value"] for m in trial["FinalObjectiveMetrics"]}
        hp = {k: float(v) for k, v in trial["TunedHyperParameters"].items()}
        assert metrics["accuracy"] == pytest.approx(hp["x"] - 0.3 * hp["y"])
        assert trial["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "accuracy"
        values[trial["TrainingJobName"]] = (-metrics["accuracy"], metrics["latency_ms"])
    expected = {name for name, v in values.items()
                if not any(all(a <= b for a, b in zip(w, v)) and w != v for w in values.values())}
    front = {t["TrainingJobName"] for t in job["ParetoFrontTrainingJobs"]}
    assert front == expected and len(front) >= 2


def test_outcome_constraint_best_trial_is_the_best_feasible_one(tuning):
    body = _body("oc", objective={"metric_name": "loss", "type": "Minimize"},
                 outcome_constraints=[{"metric_name": "latency_ms", "operator": "<=", "value": 50}])
    body["parameter_ranges"] = {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}
    body["resource_limits"]["max_number_of_training_jobs"] = 8

    def trial_function(event, _context):
        x = event["hyperparameters"]["x"]
        return {"metrics": {"loss": (x - 1.0) ** 2, "latency_ms": 100 * x}}  # feasible: x <= 0.5

    job, trials = _run(tuning, body, trial_function)
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    feasible = [t for t in trials if t["Feasible"]]
    infeasible = [t for t in trials if not t["Feasible"]]
    assert job["OutcomeConstraintCounters"] == {"Feasible": len(feasible), "Infeasible": len(infeasible)}
    assert feasible and infeasible
    for trial in trials:
        (check,) = trial["OutcomeConstraintValues"]
        x = float(trial["TunedHyperParameters"]["x"])
        assert check["Observed"] == pytest.approx(100 * x)
        assert check["Satisfied"] == (100 * x <= 50) == trial["Feasible"]
    best = job["BestTrainingJob"]
    loss = lambda t: t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]  # noqa: E731
    assert best["TrainingJobName"] == min(feasible, key=loss)["TrainingJobName"]
    # an infeasible trial had a lower loss: without the constraint it would have been the best
    assert min(loss(t) for t in infeasible) < loss(best)
    # the constrained model steers the search to the feasible optimum at the constraint's edge
    # (x = 0.5), not to the unconstrained one (x = 1): trials after the initial design stay near the
    # edge. Which side of it they land on is not asserted: with two trials suggested at once, the
    # second may land a hair past 0.5 (seen in CI: 2 of 4 at x just above 0.5).
    later = [float(t["TunedHyperParameters"]["x"]) for t in trials if t["TrainingJobNumber"] > 4]
    assert later and all(0.4 <= x <= 0.6 for x in later), later
    assert float(best["TunedHyperParameters"]["x"]) >= 0.45


def test_conditional_space_trials_get_only_their_active_parameters(tuning):
    body = _body("cond", objective={"metric_name": "loss", "type": "Minimize"})
    body["parameter_ranges"] = {
        "CategoricalParameterRanges": [{"Name": "optimizer", "Values": ["sgd", "adam"]}],
        "ContinuousParameterRanges": [
            {"Name": "lr", "MinValue": "0.0001", "MaxValue": "0.1", "ScalingType": "Logarithmic"},
            {"Name": "momentum", "MinValue": "0", "MaxValue": "0.99",
             "Conditions": [{"Parameter": "optimizer", "Values": ["sgd"]}]}],
        "IntegerParameterRanges": [
            {"Name": "n_layers", "MinValue": "1", "MaxValue": "3"},
            {"Name": "units_2", "MinValue": "8", "MaxValue": "64", "Conditions": [{"Parameter": "n_layers", "MinValue": 2}]},
            {"Name": "units_3", "MinValue": "8", "MaxValue": "64", "Conditions": [{"Parameter": "n_layers", "MinValue": 3}]}],
    }
    body["resource_limits"]["max_number_of_training_jobs"] = 10
    seen, lock = [], threading.Lock()

    def trial_function(event, _context):
        hp = event["hyperparameters"]
        with lock:
            seen.append(dict(hp))
        assert ("momentum" in hp) == (hp["optimizer"] == "sgd"), hp
        assert ("units_2" in hp) == (hp["n_layers"] >= 2) and ("units_3" in hp) == (hp["n_layers"] >= 3), hp
        loss = abs(np.log10(hp["lr"]) + 2) + (abs(hp["momentum"] - 0.9) if "momentum" in hp else 0.3)
        return {"metrics": {"loss": loss + 0.01 * sum(hp.get(f"units_{i}", 0) for i in (2, 3)) / 64}}

    job, trials = _run(tuning, body, trial_function)
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    assert job["TrainingJobStatusCounters"]["Completed"] == 10, [t.get("FailureReason") for t in trials]
    assert len(seen) == 10
    assert {h["optimizer"] for h in seen} == {"sgd", "adam"} and {h["n_layers"] for h in seen} >= {1, 3}
    for trial in trials:  # the stored (and listed) hyperparameters have no inactive parameter either
        tuned = trial["TunedHyperParameters"]
        assert ("momentum" in tuned) == (tuned["optimizer"] == "sgd")
    assert "BestTrainingJob" in job


@pytest.mark.parametrize("change, field", [
    ({"objectives": [{"metric_name": "a", "type": "Maximize"}, {"metric_name": "a", "type": "Minimize"}]},
     "objectives[1].metric_name"),
    ({"objectives": [{"metric_name": "a", "type": "Maximize"}, {"metric_name": "b", "type": "Biggest"}]},
     "objectives[1].type"),
    ({"outcome_constraints": [{"metric_name": "lat", "operator": "<", "value": 5}]}, "outcome_constraints[0].operator"),
    ({"outcome_constraints": [{"metric_name": "lat", "operator": "<=", "value": 5, "Unit": "ms"}]},
     "outcome_constraints[0].Unit"),
    ({"parameter_ranges": {"ContinuousParameterRanges": [
        {"Name": "m", "MinValue": "0", "MaxValue": "1", "Conditions": [{"Parameter": "optimizer", "Values": ["sgd"]}]}]}},
     "parameter_ranges.ContinuousParameterRanges[0].Conditions[0].Parameter"),
    ({"parameter_ranges": {"ContinuousParameterRanges": [
        {"Name": "m", "MinValue": "0", "MaxValue": "1", "Condition": [{"Parameter": "m", "Values": ["sgd"]}]}]}},
     "parameter_ranges.ContinuousParameterRanges[0].Condition"),
])
def test_api_refuses_bad_beyond_amt_fields_naming_them(tuning, change, field):
    body = {**_body("bad"), "objective": {"metric_name": "a", "type": "Maximize"}, **change}
    status, answer = tuning.api("POST", "/v1/tuning-jobs", body)
    assert status == 400, answer
    assert answer["error"]["field"] == field, answer


def test_sagemaker_body_with_objectives_and_constraints(tuning):
    name = f"sm-mo-{int(time.time() * 1000) % 10**9}"
    body = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjectives": [{"Type": "Maximize", "MetricName": "auc"},
                                                  {"Type": "Minimize", "MetricName": "size"}],
            "OutcomeConstraints": [{"MetricName": "latency", "Operator": "<=", "Value": 20}],
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "0.5"}]},
        },
        "TrainingJobDefinition": {"AlgorithmSpecification": {"TrainingImage": "x", "TrainingInputMode": "File"},
                                  "RoleArn": "arn:aws:iam::123456789012:role/sm"},
    }
    bad = {**body, "HyperParameterTuningJobConfig": {**body["HyperParameterTuningJobConfig"],
                                                     "OutcomeConstraints": [{"MetricName": "latency", "Operator": "=<", "Value": 20}]}}
    status, answer = tuning.api("POST", "/v1/tuning-jobs", bad)
    assert status == 400 and answer["error"]["field"] == "HyperParameterTuningJobConfig.OutcomeConstraints[0].Operator", answer
