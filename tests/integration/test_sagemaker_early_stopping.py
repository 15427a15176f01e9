"""A tuning trial running as a SageMaker training job is stopped early from its ingested metrics.

SageMaker itself cannot run here: the StopTrainingJob call is recorded by a fake client; everything
else (the state-change event, the log subscription, the tuning engine's median rule, DynamoDB Local)
is real.
"""
from __future__ import annotations

import uuid

import pytest

from skytune.tuning import engine
from skytune.tuning.records import TrialStatus
from skytune.tuning.repository import TuningRepository
from tests.support import aws_events

LOGS = "skytune_ingest.logs.lambda_handler"
EVENTS = "skytune_ingest.events.lambda_handler"
T0 = 1_800_000_000_000


class FakeSageMaker:
    def __init__(self) -> None:
        self.stopped: list[str] = []

    def stop_training_job(self, TrainingJobName: str) -> dict:  # noqa: N803 - boto3's parameter name
        self.stopped.append(TrainingJobName)
        return {}


@pytest.fixture
def sagemaker(functions, monkeypatch) -> FakeSageMaker:
    functions.stack.functions.handler(functions.logical_id(LOGS))  # imported, as at a cold start
    import skytune_ingest.early_stopping as early_stopping

    fake = FakeSageMaker()
    monkeypatch.setattr(early_stopping, "_sagemaker", lambda: fake)
    return fake


def finished_trial(repo, name: str, worker: int, curve: list[float]) -> None:
    claim = engine.claim_slot(repo, name, "exec", worker, 0, 0)
    request = engine.suggest_for_trial(repo, name, claim["trial_number"], worker)
    engine.report_metrics(repo, name, request["trial_name"],
                          [{"name": "acc", "value": v, "step": s} for s, v in enumerate(curve, 1)])
    engine.record_trial(repo, name, claim["trial_number"], "external", {"status": "Completed"})


def test_a_worse_than_median_sagemaker_trial_is_stopped_from_its_logs(functions, bound_tables, sagemaker):
    repo = TuningRepository()
    name = f"es-{uuid.uuid4().hex[:6]}"
    job, _ = engine.create_job(repo, {
        "name": name, "strategy": "Random", "early_stopping": "Auto",
        "objective": {"metric_name": "acc", "type": "Maximize"},
        "parameter_ranges": {"ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.001", "MaxValue": "0.1"}]},
        "resource_limits": {"max_number_of_training_jobs": 6, "max_parallel_training_jobs": 4},
        "trial": {"runner": "external", "metric_definitions": [{"Name": "acc", "Regex": r"epoch=(?P<step>\d+) acc=(?P<value>[0-9.]+)"}]},
    })
    for worker in range(3):
        finished_trial(repo, name, worker, [0.80, 0.85, 0.90, 0.92, 0.93])
    claim = engine.claim_slot(repo, name, "exec", 3, 0, 0)
    trial_name = engine.suggest_for_trial(repo, name, claim["trial_number"], 3)["trial_name"]

    training_job = f"{trial_name}-sm"
    event = aws_events.sagemaker_training_job_state_change(
        training_job, "InProgress", creation_ms=T0, start_ms=T0 + 1,
        tags={"skytune:tuning-job": name, "skytune:trial": trial_name, "skytune:run-id": f"run-{training_job}"})
    event["detail"]["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": "acc", "Regex": r"epoch=(?P<step>\d+) acc=(?P<value>[0-9.]+)"}]
    functions.invoke(EVENTS, event)

    good_start = aws_events.cloudwatch_logs_event("/aws/sagemaker/TrainingJobs", f"{training_job}/algo-1-1700000000",
                                                  [("epoch=1 acc=0.81", T0 + 10)], seed=1)
    functions.invoke(LOGS, good_start)
    assert sagemaker.stopped == []  # above the median so far: keeps running

    poor = aws_events.cloudwatch_logs_event("/aws/sagemaker/TrainingJobs", f"{training_job}/algo-1-1700000000",
                                            [("epoch=2 acc=0.40", T0 + 20), ("epoch=3 acc=0.41", T0 + 30)], seed=2)
    functions.invoke(LOGS, poor)
    assert sagemaker.stopped == [training_job]
    trial = repo.get_trial(name, claim["trial_number"])
    assert trial.status == TrialStatus.STOPPING
    assert "median" in (trial.stop_reason or "")
    # the same points are the trial run's metrics, scraped once
    assert functions.invoke(LOGS, poor)["duplicates"] == 2
