"""Engine rules that need no storage: early stopping, runner requests, metric reports."""
from __future__ import annotations

import pytest

from skytune.errors import InvalidInput
from skytune.tuning.engine import early_stopping_decision, objective_points, runner_request, trial_seed
from skytune.tuning.records import TrialStatus
from skytune.tuning.spec import parse_request
from tests.unit.tuning.helpers import SAGEMAKER, job, trial

GOOD = [(1, 0.8), (2, 0.85), (3, 0.9)]
BAD = [(1, 0.1), (2, 0.1), (3, 0.1)]


def test_median_rule_stops_a_trial_worse_than_the_median_of_earlier_ones():
    auto = job(early_stopping="Auto")
    finished = [trial(n, value=0.9, curve=GOOD) for n in (1, 2, 3)]
    running = trial(4, TrialStatus.IN_PROGRESS, curve=BAD[:2])
    assert "median" in early_stopping_decision(auto, running, finished + [running])
    promising = trial(5, TrialStatus.IN_PROGRESS, curve=[(1, 0.95), (2, 0.97)])
    assert early_stopping_decision(auto, promising, finished + [promising]) is None


def test_median_rule_waits_for_three_earlier_trials_and_is_off_by_default():
    finished = [trial(n, value=0.9, curve=GOOD) for n in (1, 2)]
    running = trial(4, TrialStatus.IN_PROGRESS, curve=BAD[:2])
    assert early_stopping_decision(job(early_stopping="Auto"), running, finished + [running]) is None
    finished.append(trial(3, value=0.9, curve=GOOD))
    assert early_stopping_decision(job(), running, finished + [running]) is None


def test_hyperband_stops_the_worse_trials_at_a_rung():
    from skytune.optimize import Hyperband

    hyperband = job(strategy="Hyperband", hyperband={"min_resource": 1, "max_resource": 9})
    bracket_zero = [n for n in range(1, 40) if Hyperband(1, 9).bracket_of(n - 1) == 0]
    *peer_numbers, worst_number, best_number = bracket_zero[:5]
    peers = [trial(n, value=0.9, curve=[(1, 0.9)]) for n in peer_numbers]
    worst = trial(worst_number, TrialStatus.IN_PROGRESS, curve=[(1, 0.01)])
    best = trial(best_number, TrialStatus.IN_PROGRESS, curve=[(1, 0.99)])
    assert early_stopping_decision(hyperband, worst, peers + [worst]).startswith("Hyperband: not in the top")
    assert early_stopping_decision(hyperband, best, peers + [best]) is None


def test_local_runner_request_carries_command_and_deadlines():
    the_job = job()
    request = runner_request(the_job.spec, trial(1, TrialStatus.IN_PROGRESS), {"lr": 0.01, "epochs": 5})
    assert request["runner"] == "local" and request["command"] == ["python", "train.py"]
    assert request["timeout_seconds"] == request["max_runtime_in_seconds"] + 2 * request["heartbeat_seconds"]
    assert request["hyperparameters"] == {"lr": 0.01, "epochs": 5}


def test_sagemaker_request_is_a_create_training_job_with_string_hyperparameters_and_links():
    spec = parse_request(SAGEMAKER)
    the_trial = trial(7, TrialStatus.IN_PROGRESS).model_copy(update={"run_id": "01RUN", "name": "xgb-sm-007-abcdef12"})
    request = runner_request(spec, the_trial, {"eta": 0.25, "num_round": "100"})["training_job"]
    assert request["TrainingJobName"] == "xgb-sm-007-abcdef12"
    assert request["HyperParameters"] == {"eta": "0.25", "num_round": "100"}
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert {"Key": "skytune:run-id", "Value": "01RUN"} in request["Tags"]
    assert request["RoleArn"] == SAGEMAKER["TrainingJobDefinition"]["RoleArn"]
    # what load_run() in the training script reads to find this trial's run
    assert request["Environment"] == {"SKYTUNE_RUN_ID": "01RUN", "SKYTUNE_TUNING_JOB": spec.name,
                                      "SKYTUNE_TRIAL_NAME": "xgb-sm-007-abcdef12"}


def test_sagemaker_request_keeps_the_definitions_environment_but_sets_the_trials_run():
    body = {**SAGEMAKER, "TrainingJobDefinition": {**SAGEMAKER["TrainingJobDefinition"], "Environment": {
        "SKYTUNE_URL": "https://api.example.com", "SKYTUNE_RUN_ID": "one-id-for-every-trial"}}}
    the_trial = trial(3, TrialStatus.IN_PROGRESS).model_copy(update={"run_id": "01TRIAL3", "name": "xgb-sm-003-abcdef12"})
    environment = runner_request(parse_request(body), the_trial, {"eta": 0.25})["training_job"]["Environment"]
    assert environment["SKYTUNE_URL"] == "https://api.example.com"
    assert environment["SKYTUNE_RUN_ID"] == "01TRIAL3"


def test_objective_points_need_steps():
    spec = job().spec
    points = objective_points(spec, [{"name": "validation:accuracy", "value": 0.5, "step": 2},
                                     {"name": "train:loss", "value": 1.0}])
    assert points == [(2, 0.5)]
    with pytest.raises(InvalidInput) as caught:
        objective_points(spec, [{"name": "train:loss", "value": 1.0}, {"name": "validation:accuracy", "value": 0.5}])
    assert caught.value.field == "metrics[1].step"


def test_trial_seeds_differ_per_trial_and_repeat_per_job_seed():
    assert trial_seed(7, 1) == trial_seed(7, 1)
    assert len({trial_seed(7, n) for n in range(1, 200)}) == 199
    assert trial_seed(7, 1) != trial_seed(8, 1)
