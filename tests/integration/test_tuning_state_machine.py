"""The synthesised state machine on moto with the Lambda runner, under injected faults:
a suggest step failing transiently (retried), a crashing trial function (recorded, the job goes on),
and never more than MaxParallelTrainingJobs trials running at once."""
from __future__ import annotations

import json
import threading
import time

import pytest


class TransientStepError(Exception):
    """Same name as the steps' retryable error: the state machine retries it."""


@pytest.fixture
def tuning(local_stack):
    return local_stack.tuning


def test_lambda_runner_with_transient_suggest_failures(local_stack, tuning):
    lock = threading.Lock()
    running, peak, calls = [0], [0], []

    def trial_function(event, _context):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            calls.append(event["hyperparameters"])
            index = len(calls)
        try:
            time.sleep(0.3)
            if index == 2:
                raise RuntimeError("injected crash")
            return {"metrics": {"loss": (event["hyperparameters"]["lr"] - 0.05) ** 2}}
        finally:
            with lock:
                running[0] -= 1

    tuning.stepfunctions.register_function("skytune-trial-fake", trial_function)
    suggest_id = local_stack.functions.by_name(next(
        s.name for s in local_stack.functions.specs.values() if s.handler == "skytune_tuning.steps.suggest")).logical_id
    real_suggest = local_stack.functions.handler(suggest_id)
    failures = [0]

    def flaky_suggest(event, context):
        if failures[0] < 2:
            failures[0] += 1
            raise TransientStepError("injected throttling")
        return real_suggest(event, context)

    local_stack.functions._handlers[suggest_id] = flaky_suggest  # fault injection into the loaded handler
    try:
        body = {
            "name": f"sm-lambda-{int(time.time())}", "strategy": "Random",
            "objective": {"metric_name": "loss", "type": "Minimize"},
            "parameter_ranges": {"ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.001", "MaxValue": "0.1"}]},
            "resource_limits": {"max_number_of_training_jobs": 6, "max_parallel_training_jobs": 2},
            "trial": {"runner": "lambda", "function_name": "skytune-trial-fake"},
        }
        status, created = tuning.api("POST", "/v1/tuning-jobs", body)
        assert status == 201, created
        deadline = time.monotonic() + 120
        while True:
            job = tuning.api("GET", f"/v1/tuning-jobs/{body['name']}")[1]
            if job["HyperParameterTuningJobStatus"] != "InProgress" or time.monotonic() > deadline:
                break
            time.sleep(0.3)
    finally:
        local_stack.functions._handlers[suggest_id] = real_suggest

    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    assert failures[0] == 2 and len(calls) == 6
    assert peak[0] <= 2
    trials = tuning.api("GET", f"/v1/tuning-jobs/{body['name']}/trials")[1]["TrainingJobSummaries"]
    assert job["TrainingJobStatusCounters"]["Completed"] == 5, [(t["TrainingJobStatus"], t.get("FailureReason")) for t in trials]
    assert job["TrainingJobStatusCounters"]["NonRetryableError"] == 1
    assert job["ObjectiveStatusCounters"] == {"Succeeded": 5, "Pending": 0, "Failed": 1}
    failed = tuning.api("GET", f"/v1/tuning-jobs/{body['name']}/trials?status=Failed")[1]["TrainingJobSummaries"]
    assert "injected crash" in failed[0]["FailureReason"]
    best = job["BestTrainingJob"]
    best_lr = float(best["TunedHyperParameters"]["lr"])
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx((best_lr - 0.05) ** 2)
    # the execution stayed small: about 30 history events per trial
    sfn = tuning.stepfunctions.client("stepfunctions")
    execution = next(e for e in sfn.list_executions(stateMachineArn=tuning.stepfunctions.state_machine_arn())["executions"]
                     if e["name"] == f"{body['name']}-g0")
    assert tuning.stepfunctions.history_length(execution["executionArn"]) < 40 * 6 + 60
