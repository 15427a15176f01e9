"""What every route needs from the outside world, created once per container (cold start)."""
from __future__ import annotations

from functools import cache

from skytune import storage
from skytune.settings import Settings


@cache
def settings() -> Settings:
    loaded = Settings.from_environment()
    storage.bind(loaded)
    return loaded


@cache
def repository():
    from skytune.storage.repository import DynamoRepository

    settings()
    return DynamoRepository()


@cache
def metric_store():
    from skytune.metrics import MetricStore

    settings()
    return MetricStore()
