"""DynamoDB Streams (tracking and metrics tables) -> experiment indexes (skytune.index.consumer).

Thin: the event's records go to the core, which folds the changed runs into their experiments'
indexes. A failed experiment is answered as a batch item failure (its first record's sequence
number), so Lambda retries from there, bisects on repeated errors and finally sends the batch's
description to the on-failure queue; the folds already done are idempotent on retry.
"""
from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from skytune.handlers import FunctionResources
from skytune.index import IndexStore
from skytune.index.consumer import apply

logger = Logger()
tracer = Tracer()
metrics = Metrics()
_resources = FunctionResources()


def index() -> IndexStore:
    store = _resources.index()
    if store is None:
        raise RuntimeError("the index consumer runs without INDEX_TABLE in its environment")
    return store


index()  # at cold start: a missing variable fails there, not on the first batch


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    store = index()
    records = event.get("Records") or []
    result = apply(store, store.repo, records)
    metrics.add_metric("StreamRecords", MetricUnit.Count, len(records))
    metrics.add_metric("RunsFolded", MetricUnit.Count, sum(s.upserted + s.removed for s in result.folded.values()))
    metrics.add_metric("IndexChunksWritten", MetricUnit.Count, sum(s.chunks_written for s in result.folded.values()))
    if result.failed_sequences:
        metrics.add_metric("IndexFoldFailures", MetricUnit.Count, len(result.failed_sequences))
        return {"batchItemFailures": [{"itemIdentifier": str(min(result.failed_sequences))}]}
    return {"batchItemFailures": []}
