"""Firehose data transformation for a CloudWatch metric stream: datapoints → metric points.

Every record is answered: `Ok` (stored; the original data passes on to the bucket), `Dropped`
(no datapoint belongs to a run), `ProcessingFailed` (undecodable, a malformed line in it, or a write
it contributed to failed after retries: Firehose keeps it under the bucket's processing-failed/
prefix for replay). One bad record never takes the others down, and one malformed line never takes
its record's valid datapoints down: they are stored, and the record is still reported failed so the
bad line is kept; a replay is harmless because every datapoint is stored once by its identity.
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
        bad_lines: list[str] = []
        try:
            data[record.record_id] = record.data()
            decoded[record.record_id] = parse_record_data(data[record.record_id], metric_stream_format(), bad_lines)
        except (MalformedPayload, ValueError) as error:
            bad_lines.append(str(error))
        if bad_lines:
            logger.warning("malformed record data", extra={"record_id": record.record_id, "errors": bad_lines[:5]})
            metrics.add_metric("MalformedLines", MetricUnit.Count, len(bad_lines))
            undecodable.add(record.record_id)
    outcomes = ingest_stream_records(decoded, metric_store())
    outcomes.update({record_id: PROCESSING_FAILED for record_id in undecodable})
    metrics.add_metric("RecordsFailed", MetricUnit.Count, sum(o == PROCESSING_FAILED for o in outcomes.values()))
    results = [RecordResult(r.record_id, outcomes[r.record_id], data.get(r.record_id, b"")) for r in records]
    return firehose_transformation_response(results, expected_record_ids=[r.record_id for r in records])
