"""What every step needs from the outside world, created once per container (cold start)."""
from __future__ import annotations

import os
from functools import cache

from skytune.handlers import FunctionResources
from skytune.tuning.names import ENV_TRIAL_QUEUE
from skytune.tuning.repository import TuningRepository
from skytune.tuning.tracked_runs import TrackingRuns

_resources = FunctionResources()
settings = _resources.settings


@cache
def repository() -> TuningRepository:
    settings()
    return TuningRepository()


@cache
def tracker() -> TrackingRuns:
    return TrackingRuns(_resources.repository(), _resources.metric_store())


@cache
def trial_queue_url() -> str:
    """The external-worker queue. CloudFormation's Ref of a queue is its URL; local mode resolves
    Ref to the queue's name, so a name is looked up once."""
    import boto3

    value = os.environ[ENV_TRIAL_QUEUE]
    if value.startswith("https://") or value.startswith("http://"):
        return value
    return boto3.client("sqs").get_queue_url(QueueName=value)["QueueUrl"]
