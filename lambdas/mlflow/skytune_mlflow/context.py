"""What every route needs from the outside world, created once per container (cold start).
The storage models are imported before `storage.bind` runs, so binding reaches them all."""
from __future__ import annotations

from functools import cache

from skytune import storage
from skytune.metrics import MetricStore
from skytune.settings import Settings
from skytune.storage.repository import DynamoRepository


@cache
def settings() -> Settings:
    loaded = Settings.from_environment()
    storage.bind(loaded)
    return loaded


@cache
def repository() -> DynamoRepository:
    settings()
    return DynamoRepository()


@cache
def metric_store() -> MetricStore:
    settings()
    return MetricStore()


@cache
def index():
    """The experiment index (skytune.index) search answers from, or None where the function has no
    index table (search then scans run items)."""
    if settings().index_table is None:
        return None
    from skytune.index import IndexStore

    return IndexStore(repository())
