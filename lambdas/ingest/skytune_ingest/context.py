"""What the ingestion handlers share, created once per container (cold start)."""
from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

from skytune.handlers import FunctionResources

logger = Logger()
tracer = Tracer()
metrics = Metrics()

_resources = FunctionResources()
settings = _resources.settings
metric_store = _resources.metric_store


def metric_stream_format() -> str:
    return os.environ.get("METRIC_STREAM_FORMAT", "json")
