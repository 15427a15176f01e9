"""Local mode's tuning workers: they take only `local` trials, and run only allowed commands with a
safe environment (checked when the job is created, and again by the runner)."""
from __future__ import annotations

import logging
import sys
import time
import uuid

import pytest

from skytune.local.policy import CommandPolicy


@pytest.fixture
def tuning(local_stack):
    return local_stack.tuning


@pytest.fixture
def restricted(local_stack, tmp_path):
    """The stack with `skytune local --allow-command python` started in tmp_path."""
    local_stack.restrict_commands(CommandPolicy.of(tmp_path, ("python",)))
    yield tmp_path
    local_stack.restrict_commands(None)


def local_job(command, environment=None, **trial) -> dict:
    return {
        "name": f"policy-{uuid.uuid4().hex[:8]}", "strategy": "Random",
        "objective": {"metric_name": "acc", "type": "Maximize"},
        "parameter_ranges": {"IntegerParameterRanges": [{"Name": "x", "MinValue": "1", "MaxValue": "4"}]},
        "resource_limits": {"max_number_of_training_jobs": 1, "max_parallel_training_jobs": 1},
        "trial": {"runner": "local", "command": command, "environment": environment or {},
                  "metric_definitions": [{"Name": "acc", "Regex": "acc=(?P<value>[0-9.]+)"}], **trial},
    }


def wait_for(tuning, name: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, job = tuning.api("GET", f"/v1/tuning-jobs/{name}")
        assert status == 200, job
        if job["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.3)


@pytest.mark.parametrize(("command", "environment", "field"), [
    (["/bin/sh", "-c", "id"], {}, "trial.command[0]"),
    (["sh", "-c", "id"], {}, "trial.command[0]"),
    (["../outside.sh"], {}, "trial.command[0]"),
    (["python", "train.py"], {"LD_PRELOAD": "/tmp/evil.so"}, "trial.environment.LD_PRELOAD"),
    (["python", "train.py"], {"LD_LIBRARY_PATH": "/tmp"}, "trial.environment.LD_LIBRARY_PATH"),
    (["python", "train.py"], {"DYLD_INSERT_LIBRARIES": "/tmp/x"}, "trial.environment.DYLD_INSERT_LIBRARIES"),
    (["python", "train.py"], {"PYTHONPATH": "/tmp"}, "trial.environment.PYTHONPATH"),
    (["python", "train.py"], {"PYTHONPATH": "lib:../elsewhere"}, "trial.environment.PYTHONPATH"),
    (["python", "train.py"], {"PYTHONSTARTUP": "x.py"}, "trial.environment.PYTHONSTARTUP"),
])
def test_disallowed_commands_and_loader_variables_are_a_400_naming_the_field(local_stack, tuning, restricted,
                                                                            command, environment, field):
    body = local_job(command, environment)
    status, answer = tuning.api("POST", "/v1/tuning-jobs", body)
    assert status == 400, answer
    assert answer["error"]["field"] == field
    assert tuning.api("GET", f"/v1/tuning-jobs/{body['name']}")[0] == 404  # nothing was created


def test_allowed_commands_run(local_stack, tuning, restricted):
    (restricted / "lib").mkdir()
    (restricted / "train.py").write_text("print('acc=0.5')\n")
    (restricted / "run.sh").write_text("#!/bin/sh\necho acc=0.25\n")
    (restricted / "run.sh").chmod(0o755)
    bodies = [local_job(["python", "train.py"], {"PYTHONPATH": "lib", "SEED": "1"}, working_dir=str(restricted)),
              local_job(["./run.sh"], working_dir=str(restricted))]
    for body in bodies:
        status, answer = tuning.api("POST", "/v1/tuning-jobs", body)
        assert status == 201, answer
    for body, value in zip(bodies, (0.5, 0.25)):
        job = wait_for(tuning, body["name"])
        assert job["HyperParameterTuningJobStatus"] == "Completed", job
        assert job["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == value


def test_the_runner_checks_again_before_it_starts_a_process(local_stack, tuning, restricted):
    """A job created while anything was allowed (or a policy changed since) is checked at run time."""
    local_stack.restrict_commands(None)
    body = local_job([sys.executable, "-c", "print('acc=1.0')"])
    status, answer = tuning.api("POST", "/v1/tuning-jobs", body)
    assert status == 201, answer
    local_stack.restrict_commands(CommandPolicy.of(restricted, ("python",)))
    job = wait_for(tuning, body["name"])
    trials = tuning.api("GET", f"/v1/tuning-jobs/{body['name']}/trials")[1]["TrainingJobSummaries"]
    assert [t["TrainingJobStatus"] for t in trials] == ["Failed"]
    assert "refused by the local runner" in trials[0]["FailureReason"] and "outside the project" in trials[0]["FailureReason"]
    assert job["HyperParameterTuningJobStatus"] == "Failed"


def test_external_trials_are_left_for_their_worker(local_stack, tuning, caplog):
    caplog.set_level(logging.WARNING, logger="skytune.local")
    name = f"external-{uuid.uuid4().hex[:8]}"
    body = {
        "name": name, "strategy": "Random", "objective": {"metric_name": "acc", "type": "Maximize"},
        "parameter_ranges": {"IntegerParameterRanges": [{"Name": "x", "MinValue": "1", "MaxValue": "4"}]},
        "resource_limits": {"max_number_of_training_jobs": 1, "max_parallel_training_jobs": 1},
        "trial": {"runner": "external", "heartbeat_seconds": 60, "max_runtime_in_seconds": 120},
    }
    skipped_before = tuning.workers.skipped
    assert tuning.api("POST", "/v1/tuning-jobs", body)[0] == 201
    deadline = time.monotonic() + 60
    while tuning.workers.skipped == skipped_before:  # the dispatch step published it; the workers saw it
        assert time.monotonic() < deadline, "the trial was never dispatched"
        time.sleep(0.2)
    time.sleep(1.5)  # a local worker that took it would have failed it by now
    trials = tuning.api("GET", f"/v1/tuning-jobs/{name}/trials")[1]["TrainingJobSummaries"]
    assert [t["TrainingJobStatus"] for t in trials] == ["InProgress"]
    assert not [r for r in caplog.records if r.name == "skytune.local" and r.levelno >= logging.ERROR]

    # the external worker (here: the test) reports through the API, and the job ends with its result
    trial = trials[0]["TrainingJobName"]
    assert tuning.api("POST", f"/v1/tuning-jobs/{name}/trials/{trial}/heartbeat",
                      {"metrics": [{"name": "acc", "value": 0.7, "step": 1}]})[1] == {"stop": False, "reason": ""}
    status, answer = tuning.api("POST", f"/v1/tuning-jobs/{name}/trials/{trial}/complete", {"status": "Completed"})
    assert status == 200 and answer["accepted"], answer
    job = wait_for(tuning, name)
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 0.7
