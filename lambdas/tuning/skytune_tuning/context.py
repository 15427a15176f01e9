"""What every step needs from the outside world, created once per container (cold start)."""
from __future__ import annotations

import os
from functools import cache

from skytune import storage
from skytune.settings import Settings
from skytune.tuning.repository import TuningRepository
from skytune.tuning.names import ENV_TRIAL_QUEUE
from skytune.tuning.tracked_runs import TrackingRuns


@cache
def settings() -> Settings:
    loaded = Settings.from_environment()
    storage.bind(loaded)
    return loaded


@cache
def repository() -> TuningRepository:
    settings()
    return TuningRepository()


@cache
def tracker() -> TrackingRuns:
    from skytune.metrics import MetricStore
    from skytune.storage.repository import DynamoRepository

    settings()
    return TrackingRuns(DynamoRepository(), MetricStore())


@cache
def trial_queue_url() -> str:
    """The external-worker queue. CloudFormation's Ref of a queue is its URL; local mode resolves
    Ref to the queue's name, so a name is looked up once."""
    import boto3

    value = os.environ[ENV_TRIAL_QUEUE]
    if value.startswith("https://") or value.startswith("http://"):
        return value
    return boto3.client("sqs").get_queue_url(QueueName=value)["QueueUrl"]
