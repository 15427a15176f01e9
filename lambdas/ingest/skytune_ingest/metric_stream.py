"""Firehose data transformation for a CloudWatch metric stream: datapoints → metric points.

Every record is answered: `Ok` (stored; the original data passes on to the bucket), `Dropped`
(no datapoint belongs to a run), `ProcessingFailed` (undecodable, or a write it contributed to failed
after retries: Firehose keeps it under the bucket's processing-failed/ prefix for replay). One bad
record never takes the others down.
"""
from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from skytune.ingestion import (
    PROCESSING_FAILED, MalformedPayload, RecordResult, firehose_records, firehose_transformation_response,
    parse_record_data,
)
from skytune.ingestion.pipeline import ingest_stream_records
from skytune_ingest.context import logger, metric_store, metric_stream_format, metrics, settings, tracer

settings()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    records = firehose_records(event)
    data: dict[str, bytes] = {}
    decoded, undecodable = {}, set()
    for record in records:
        try:
            data[record.record_id] = record.data()
            decoded[record.record_id] = parse_record_data(data[record.record_id], metric_stream_format())
        except (MalformedPayload, ValueError) as error:
            logger.warning("undecodable record", extra={"record_id": record.record_id, "error": str(error)})
            undecodable.add(record.record_id)
    outcomes = ingest_stream_records(decoded, metric_store())
    outcomes.update({record_id: PROCESSING_FAILED for record_id in undecodable})
    metrics.add_metric("RecordsFailed", MetricUnit.Count, sum(o == PROCESSING_FAILED for o in outcomes.values()))
    results = [RecordResult(r.record_id, outcomes[r.record_id], data.get(r.record_id, b"")) for r in records]
    return firehose_transformation_response(results, expected_record_ids=[r.record_id for r in records])
