"""Early stopping of SageMaker trials from their ingested metrics (AMT's `TrainingJobEarlyStoppingType: Auto`).

The tuning engine decides (median rule, or Hyperband's rungs) exactly as for a worker's heartbeat; when
it says stop, the training job is stopped with StopTrainingJob and the state machine's
`createTrainingJob.sync` step sees it end as Stopped.
"""
from __future__ import annotations

from functools import cache

import boto3
from botocore.exceptions import ClientError

from skytune.ingestion.sources import TuningTrial
from skytune.metrics import MetricPoint
from skytune.tuning import engine
from skytune.tuning.repository import TuningRepository
from skytune_ingest.context import logger


@cache
def _sagemaker():
    return boto3.client("sagemaker")


def report(trial: TuningTrial, points: list[MetricPoint]) -> dict:
    answer = engine.heartbeat(
        TuningRepository(), trial.tuning_job, trial.trial,
        metrics=[{"name": p.metric, "value": p.value, "step": p.step} for p in points],
    )
    if answer.get("stop"):
        logger.info("stopping training job", extra={"training_job": trial.training_job, "reason": answer.get("reason")})
        try:
            _sagemaker().stop_training_job(TrainingJobName=trial.training_job)
        except ClientError as error:
            # already stopping or finished: nothing left to stop
            if error.response.get("Error", {}).get("Code") != "ValidationException":
                raise
    return answer
