"""CloudWatch Logs subscription → metric points of the run the log stream belongs to.

Invoked asynchronously by CloudWatch Logs: an exception makes Lambda retry the delivery (twice) and
then park it in the dead-letter queue, so nothing is dropped silently; a redelivery is harmless
because the metric store recognises the points it already holds. Matching has a time budget of a
third of the invocation's remaining time: past it, the points found are stored and the invocation
fails, so Lambda retries the delivery, which resumes at the first event not reached.
"""
from __future__ import annotations

import time

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from skytune.ingestion import decode_subscription
from skytune.ingestion.pipeline import DeliveryIncomplete, ingest_log_batch
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
    deadline = time.monotonic() + context.get_remaining_time_in_millis() / 1000 / 3
    result = ingest_log_batch(batch, metric_store(), deadline=deadline)
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
    if result.unprocessed:
        metrics.add_metric("EventsHandedOn", MetricUnit.Count, result.unprocessed)
        raise DeliveryIncomplete(f"time budget ran out with {result.unprocessed} of {len(batch.events)} events left; "
                                 "the retry resumes there")
    return {"run_id": result.run_id, "points": result.points, "duplicates": result.duplicates,
            "skipped": result.stats.skipped}
