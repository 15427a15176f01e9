"""What the ingestion handlers share, created once per container (cold start)."""
from __future__ import annotations

import os
from functools import cache

from aws_lambda_powertools import Logger, Metrics, Tracer

from skytune import storage
from skytune.metrics import MetricStore
from skytune.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def settings() -> Settings:
    loaded = Settings.from_environment()
    storage.bind(loaded)
    return loaded


@cache
def metric_store() -> MetricStore:
    settings()
    return MetricStore()


def metric_stream_format() -> str:
    return os.environ.get("METRIC_STREAM_FORMAT", "json")
