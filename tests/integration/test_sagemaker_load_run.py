"""`skytune.sagemaker.load_run()` inside a SageMaker training job: the job's run, created by the
event ingestion from a real EventBridge state-change event, found through TRAINING_JOB_NAME (set by
SageMaker in every job). The SDK talks to the emulated HTTP API in-process (no socket)."""
from __future__ import annotations

import uuid

import skytune
from skytune.sagemaker import load_run
from tests.support import aws_events

EVENTS = "skytune_ingest.events.lambda_handler"


def in_process_client(api) -> skytune.Client:
    def transport(method, url, headers, body, timeout):
        path = url.split("://", 1)[1].split("/", 1)[1]
        return api.emulator.handle(method, "/" + path, headers, body or b"")

    return skytune.Client("http://127.0.0.1:8080", transport=transport, auth="none")


def test_load_run_finds_the_training_jobs_run_by_its_environment(api, functions, monkeypatch):
    job = f"job-{uuid.uuid4().hex[:6]}"
    functions.invoke(EVENTS, aws_events.sagemaker_training_job_state_change(
        job, "InProgress", hyperparameters={"lr": "0.01"}, creation_ms=1_700_000_000_000, start_ms=1_700_000_005_000))
    monkeypatch.delenv("SKYTUNE_RUN_ID", raising=False)
    monkeypatch.setenv("TRAINING_JOB_NAME", job)  # what SageMaker sets inside the job
    run = load_run(client=in_process_client(api), wait_seconds=0)
    assert run.run_name == job and run.experiment_name == "sagemaker-training-jobs"
    run.log_metric("train:loss", 0.5, step=1)
    run.skytune_run.flush()
    stored = api.get(f"/v1/runs/{run.run_id}").json()
    assert stored["metrics"]["train:loss"]["last"] == 0.5 and stored["params"] == {"lr": 0.01}
    run.skytune_run.finish("Completed")
