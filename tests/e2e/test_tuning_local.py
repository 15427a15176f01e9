"""A small tuning job through the synthesised state machine (moto), trials as local processes.

Faults are injected by the trial script itself: one configuration crashes, one never reports the
objective; a second job is stopped while its trials hang.
"""
from __future__ import annotations

import sys
import textwrap
import time

import pytest


SCRIPT = """
    import sys, time
    x = int(sys.argv[sys.argv.index("--x") + 1])
    if x == 3:
        sys.exit("injected crash")
    for epoch in range(1, 4):
        if x != 4:
            print(f"epoch={epoch} acc={x / 10 + epoch / 100:.3f}", flush=True)
    if x >= 90:
        time.sleep(120)
"""


@pytest.fixture(scope="module")
def tuning(local_stack):
    local_stack.tuning.workers.report_interval_s = 0.2
    return local_stack.tuning


def job_body(tmp_path, name: str, **changes) -> dict:
    script = tmp_path / "trial.py"
    script.write_text(textwrap.dedent(SCRIPT))
    body = {
        "name": name,
        "strategy": "Grid",
        "objective": {"metric_name": "acc", "type": "Maximize"},
        "parameter_ranges": {"IntegerParameterRanges": [{"Name": "x", "MinValue": "1", "MaxValue": "4"}]},
        "resource_limits": {"max_parallel_training_jobs": 2},
        "trial": {"runner": "local", "command": [sys.executable, str(script)], "heartbeat_seconds": 30,
                  "max_runtime_in_seconds": 60,
                  "metric_definitions": [{"Name": "acc", "Regex": "epoch=(?P<step>\\d+) acc=(?P<value>[0-9.]+)"}]},
    }
    body.update(changes)
    return body


def wait_for(tuning, name: str, statuses=("Completed", "Failed", "Stopped"), timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, job = tuning.api("GET", f"/v1/tuning-jobs/{name}")
        assert status == 200, job
        if job["HyperParameterTuningJobStatus"] in statuses:
            return job
        time.sleep(0.3)
    raise AssertionError(f"{name} still {job['HyperParameterTuningJobStatus']}: {job['TrainingJobStatusCounters']}")


def test_a_grid_job_runs_every_point_records_faults_and_tracks_runs(tuning, tmp_path):
    body = job_body(tmp_path, "e2e-grid")
    status, created = tuning.api("POST", "/v1/tuning-jobs", body)
    assert status == 201, created
    assert tuning.api("POST", "/v1/tuning-jobs", body)[0] == 200  # same body again: idempotent
    assert tuning.api("POST", "/v1/tuning-jobs", {**body, "random_seed": 5})[0] == 409

    job = wait_for(tuning, "e2e-grid")
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    trials = tuning.api("GET", "/v1/tuning-jobs/e2e-grid/trials")[1]["TrainingJobSummaries"]
    assert job["TrainingJobStatusCounters"] == {"Completed": 3, "InProgress": 0, "RetryableError": 0,
                                                "NonRetryableError": 1, "Stopped": 0}, \
        [(t["TunedHyperParameters"], t["TrainingJobStatus"], t.get("FailureReason")) for t in trials]
    assert job["ObjectiveStatusCounters"] == {"Succeeded": 2, "Pending": 0, "Failed": 2}
    assert job["ConsumedResources"]["TrainingJobsStarted"] == 4
    best = job["BestTrainingJob"]
    assert best["TunedHyperParameters"] == {"x": "2"}
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(0.23)

    status, page = tuning.api("GET", "/v1/tuning-jobs/e2e-grid/trials?sort_by=FinalObjectiveMetricValue&sort_order=Descending")
    assert status == 200
    summaries = page["TrainingJobSummaries"]
    assert [s["TunedHyperParameters"]["x"] for s in summaries[:2]] == ["2", "1"]
    by_x = {s["TunedHyperParameters"]["x"]: s for s in summaries}
    assert by_x["3"]["TrainingJobStatus"] == "Failed" and "injected crash" in by_x["3"]["FailureReason"]
    assert by_x["4"]["TrainingJobStatus"] == "Completed" and by_x["4"]["ObjectiveStatus"] == "Failed"
    failed_only = tuning.api("GET", "/v1/tuning-jobs/e2e-grid/trials?status=Failed")[1]["TrainingJobSummaries"]
    assert [s["TunedHyperParameters"]["x"] for s in failed_only] == ["3"]

    # every trial is a tracked run of the experiment named after the job
    run = tuning.api("GET", f"/v1/runs/{best['RunId']}")[1]
    assert run["experiment"] == "e2e-grid" and run["trials"] == ["e2e-grid"]
    assert run["name"] == best["TrainingJobName"] and run["status"] == "Completed"
    assert run["params"]["x"] == 2


def test_stop_stops_running_trials_and_ends_stopped(tuning, tmp_path):
    body = job_body(tmp_path, "e2e-stop", parameter_ranges={
        "IntegerParameterRanges": [{"Name": "x", "MinValue": "90", "MaxValue": "99"}]})
    assert tuning.api("POST", "/v1/tuning-jobs", body)[0] == 201
    deadline = time.monotonic() + 60
    while tuning.api("GET", "/v1/tuning-jobs/e2e-stop")[1]["TrainingJobStatusCounters"]["InProgress"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    status, stopping = tuning.api("POST", "/v1/tuning-jobs/e2e-stop/stop")
    assert status == 200 and stopping["HyperParameterTuningJobStatus"] == "Stopping"
    job = wait_for(tuning, "e2e-stop", timeout=90)
    assert job["HyperParameterTuningJobStatus"] == "Stopped"
    counters = job["TrainingJobStatusCounters"]
    assert counters["InProgress"] == 0 and counters["Stopped"] == job["ConsumedResources"]["TrainingJobsStarted"] == 2
