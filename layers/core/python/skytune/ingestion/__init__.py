"""Pure parsing half of metric ingestion: raw AWS payloads in, plain domain objects out.

No AWS SDK here: handlers decode an event with these functions and hand the result to
the store. One module per source:

* :mod:`.cloudwatch_logs` - subscription-filter payloads (base64 + gzip JSON)
* :mod:`.metric_definitions` - SageMaker-compatible ``{"Name", "Regex"}`` scraping
* :mod:`.metric_stream` - CloudWatch metric streams (JSON and OpenTelemetry 1.0) via Firehose
* :mod:`.sagemaker_events` - EventBridge "SageMaker Training Job State Change"
"""

from .cloudwatch_logs import LogBatch, LogEvent, decode_subscription, sagemaker_training_job_from_stream
from .errors import MalformedPayload, MetricDefinitionError
from .firehose import (
    DROPPED,
    OK,
    PROCESSING_FAILED,
    FirehoseRecord,
    RecordResult,
    firehose_records,
    firehose_transformation_response,
)
from .metric_definitions import (
    CompiledDefinition,
    ExtractionStats,
    ParsedPoint,
    compile_definition,
    extract_points,
    validate_definitions,
)
from .metric_stream import (
    OutputFormat,
    StreamDatapoint,
    parse_record_data,
    sagemaker_training_job_from_dimensions,
)
from .sagemaker_events import (
    ArtifactRef,
    FinalMetric,
    TrainingJobUpdate,
    is_training_job_state_change,
    parse_training_job_state_change,
)

__all__ = [
    "DROPPED",
    "OK",
    "PROCESSING_FAILED",
    "ArtifactRef",
    "CompiledDefinition",
    "ExtractionStats",
    "FinalMetric",
    "FirehoseRecord",
    "LogBatch",
    "LogEvent",
    "MalformedPayload",
    "MetricDefinitionError",
    "OutputFormat",
    "ParsedPoint",
    "RecordResult",
    "StreamDatapoint",
    "TrainingJobUpdate",
    "compile_definition",
    "decode_subscription",
    "extract_points",
    "firehose_records",
    "firehose_transformation_response",
    "is_training_job_state_change",
    "parse_record_data",
    "parse_training_job_state_change",
    "sagemaker_training_job_from_dimensions",
    "sagemaker_training_job_from_stream",
    "validate_definitions",
]
