"""CloudWatch Logs subscription → metric points of the run the log stream belongs to.

Invoked asynchronously by CloudWatch Logs: an exception makes Lambda retry the delivery (twice) and
then park it in the dead-letter queue, so nothing is dropped silently; a redelivery is harmless
because the metric store recognises batches it has already stored.
"""
from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from skytune.ingestion import decode_subscription
from skytune.ingestion.pipeline import ingest_log_batch
from skytune_ingest.context import logger, metric_store, metrics, settings, tracer

settings()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    batch = decode_subscription(event)  # MalformedPayload propagates: retried, then dead-lettered
    if batch is None:
        return {"control_message": True}
    logger.append_keys(log_group=batch.log_group, log_stream=batch.log_stream)
    result = ingest_log_batch(batch, metric_store())
    metrics.add_metric("LogEvents", MetricUnit.Count, len(batch.events))
    metrics.add_metric("PointsWritten", MetricUnit.Count, result.points)
    metrics.add_metric("DuplicatePoints", MetricUnit.Count, result.duplicates)
    metrics.add_metric("SkippedMatches", MetricUnit.Count, result.stats.skipped)
    if result.run_id is None:
        metrics.add_metric("UnmappedLogBatches", MetricUnit.Count, 1)
    return {"run_id": result.run_id, "points": result.points, "duplicates": result.duplicates,
            "skipped": result.stats.skipped}
