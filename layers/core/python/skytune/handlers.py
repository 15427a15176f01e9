"""What the Lambda functions share: the resources one execution environment creates once (at its cold
start) and the observability around an HTTP API resolver. Imported by `lambdas/` only: it pulls in
PynamoDB and powertools, which the SDK does not need."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from skytune import storage
from skytune.settings import Settings

if TYPE_CHECKING:
    from skytune.index import IndexStore
    from skytune.metrics import MetricStore
    from skytune.storage.repository import DynamoRepository


class FunctionResources:
    """Settings parsed from the environment (and the storage models bound to them), the tracking
    repository, the metric store and the experiment index, each made on first use and kept.

    One instance per function package (its `context` module), not per process: local mode loads
    several functions into one process, each with its own environment."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._made: dict[str, Any] = {}

    def settings(self) -> Settings:
        if self._settings is None:
            loaded = Settings.from_environment()
            storage.bind(loaded)
            self._settings = loaded
        return self._settings

    def _once(self, name: str, make: Callable[[], Any]) -> Any:
        if name not in self._made:
            self.settings()  # bind the models before anything reads a table
            self._made[name] = make()
        return self._made[name]

    def repository(self) -> "DynamoRepository":
        from skytune.storage.repository import DynamoRepository

        return self._once("repository", DynamoRepository)

    def metric_store(self) -> "MetricStore":
        from skytune.metrics import MetricStore

        return self._once("metric_store", MetricStore)

    def index(self) -> "IndexStore | None":
        """The experiment index search answers from, or None where the function has no index table
        (search then scans run items)."""
        def make():
            if self.settings().index_table is None:
                return None
            from skytune.index import IndexStore

            return IndexStore(self.repository())

        return self._once("index", make)


def http_api_handler(resolver, settings: Callable[[], Settings]) -> Callable[[dict, Any], dict]:
    """The Lambda entry point of an API Gateway (payload 2.0) resolver: the environment parsed at cold
    start (a missing variable fails there, not mid-request), request-correlated logs, traces and a
    cold-start metric around `resolver.resolve`, nothing else."""
    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.logging import correlation_paths

    settings()
    logger, tracer, metrics = Logger(), Tracer(), Metrics()

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @tracer.capture_lambda_handler
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event: dict, context: Any) -> dict:
        return resolver.resolve(event, context)

    return lambda_handler
