"""Firehose data transformation for a CloudWatch metric stream: datapoints → metric points.

Every record is answered: `Ok` (stored; the original data passes on to the bucket), `Dropped`
(no datapoint belongs to a run), `ProcessingFailed` (undecodable, or the write failed after retries:
Firehose keeps it under the bucket's processing-failed/ prefix for replay). One bad record never
takes the others down.
"""
from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from skytune.errors import NotFound
from skytune.ingestion import (
    DROPPED, OK, PROCESSING_FAILED, MalformedPayload, RecordResult, firehose_records,
    firehose_transformation_response, parse_record_data,
)
from skytune.ingestion.pipeline import ingest_stream_datapoints
from skytune_ingest.context import logger, metric_store, metric_stream_format, metrics, settings, tracer

settings()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    records = firehose_records(event)
    results = []
    for record in records:
        data = b""
        try:
            data = record.data()
            written = ingest_stream_datapoints(parse_record_data(data, metric_stream_format()), metric_store())
            results.append(RecordResult(record.record_id, OK if written.written or written.duplicates else DROPPED, data))
            metrics.add_metric("PointsWritten", MetricUnit.Count, written.written)
        except (MalformedPayload, ValueError, NotFound) as error:
            logger.warning("record failed", extra={"record_id": record.record_id, "error": str(error)})
            results.append(RecordResult(record.record_id, PROCESSING_FAILED, data))
        except Exception:  # noqa: BLE001 - a write that failed after retries fails this record only
            logger.exception("record failed", extra={"record_id": record.record_id})
            results.append(RecordResult(record.record_id, PROCESSING_FAILED, data))
    failed = sum(r.result == PROCESSING_FAILED for r in results)
    metrics.add_metric("RecordsFailed", MetricUnit.Count, failed)
    return firehose_transformation_response(results, expected_record_ids=[r.record_id for r in records])
