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
from skytune_ingest import early_stopping
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
    if result.tuning is not None and result.new_points:
        # A SageMaker training job of a tuning job: its metrics, as ingested, drive early stopping.
        try:
            decision = early_stopping.report(result.tuning, result.new_points)
        except Exception:  # noqa: BLE001 - the points are stored; a missed decision is retaken on the next batch
            logger.exception("early-stopping check failed", extra={"tuning_job": result.tuning.tuning_job})
        else:
            if decision.get("stop"):
                metrics.add_metric("TrialsStoppedEarly", MetricUnit.Count, 1)
    return {"run_id": result.run_id, "points": result.points, "duplicates": result.duplicates,
            "skipped": result.stats.skipped}
