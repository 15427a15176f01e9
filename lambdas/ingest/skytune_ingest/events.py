"""EventBridge "SageMaker Training Job State Change" → the job's tracked run.

Invoked asynchronously by EventBridge (retries, then the dead-letter queue). Each event id is
processed once (powertools idempotency on the idempotency table); the update itself is also safe to
repeat, so an expired idempotency record changes nothing either.
"""
from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from skytune.ingestion import parse_training_job_state_change
from skytune.ingestion.sagemaker_runs import apply_training_job_update
from skytune.storage.repository import DynamoRepository
from skytune_ingest.context import logger, metric_store, metrics, settings, tracer

_settings = settings()
_persistence = DynamoDBPersistenceLayer(table_name=_settings.idempotency_table)
_idempotency = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=24 * 3600)


@idempotent_function(data_keyword_argument="event", persistence_store=_persistence, config=_idempotency)
def apply(event: dict) -> dict:
    update = parse_training_job_state_change(event)  # MalformedPayload: retried, then dead-lettered
    run_id = apply_training_job_update(update, event["detail"], DynamoRepository(), metric_store())
    return {"run_id": run_id, "status": update.status}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    _idempotency.register_lambda_context(context)
    result = apply(event=event)
    metrics.add_metric("TrainingJobEvents", MetricUnit.Count, 1)
    return result
