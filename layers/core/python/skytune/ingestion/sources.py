"""Where ingested data belongs: log sources and metric-stream dimensions registered on runs.

tracking table:
  log source        pk = LOGSRC#<log group>     sk = PREFIX#<stream prefix>        run_id, metric definitions
  dimension source  pk = DIMSRC#<name>=<value>  sk = <namespace or "*">       run_id

SageMaker training jobs need no registration: their run id is derived from the job name, so a log
stream `JOBNAME/algo-1-...` and a `TrainingJobName` dimension find the run that the EventBridge
state-change event created.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from skytune.ingestion.metric_definitions import CompiledDefinition, validate_definitions
from skytune.storage import table_model

SAGEMAKER_TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
# The run of a SageMaker training job (the same id from logs, metric streams, events and the SDK's
# skytune.sagemaker.load_run): defined beside the other run ids, which the client may import.
from skytune.tracking.ids import sagemaker_run_id  # noqa: E402,F401


@table_model("tracking_table")
class LogSourceItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    run_id = UnicodeAttribute()
    log_group = UnicodeAttribute()
    stream_prefix = UnicodeAttribute()
    metric_definitions = UnicodeAttribute()  # JSON list of {"Name", "Regex"}
    # a SageMaker training job run by a skytune tuning job: its metrics feed early stopping
    tuning_job = UnicodeAttribute(null=True)
    trial = UnicodeAttribute(null=True)
    training_job = UnicodeAttribute(null=True)

    @staticmethod
    def partition(log_group: str) -> str:
        return f"LOGSRC#{log_group}"


@table_model("tracking_table")
class DimensionSourceItem(Model):
    class Meta:
        table_name = "unbound"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    run_id = UnicodeAttribute()

    @staticmethod
    def partition(name: str, value: str) -> str:
        return f"DIMSRC#{name}={value}"


@dataclass(frozen=True)
class TuningTrial:
    """The tuning-job trial a log source's training job runs (tags skytune:tuning-job / skytune:trial)."""

    tuning_job: str
    trial: str
    training_job: str


@dataclass(frozen=True)
class LogSource:
    run_id: str
    log_group: str
    stream_prefix: str
    definitions: list[dict]
    tuning: TuningTrial | None = None

    def compiled(self) -> list[CompiledDefinition]:
        return validate_definitions(self.definitions)


def register_log_source(run_id: str, log_group: str, stream_prefix: str, definitions: list[dict],
                        tuning: TuningTrial | None = None) -> LogSource:
    validate_definitions(definitions)  # MetricDefinitionError (a 400) before anything is stored
    LogSourceItem(LogSourceItem.partition(log_group), f"PREFIX#{stream_prefix}", run_id=run_id, log_group=log_group,
                  stream_prefix=stream_prefix, metric_definitions=json.dumps(definitions),
                  tuning_job=tuning.tuning_job if tuning else None, trial=tuning.trial if tuning else None,
                  training_job=tuning.training_job if tuning else None).save()
    _LOG_SOURCES.clear()
    return LogSource(run_id, log_group, stream_prefix, definitions, tuning)


def register_dimension_source(run_id: str, name: str, value: str, namespace: str | None = None) -> None:
    DimensionSourceItem(DimensionSourceItem.partition(name, value), namespace or "*", run_id=run_id).save()
    _DIMENSION_SOURCES.clear()


class _TtlCache(dict):
    """Registrations change rarely and every log batch asks: keep answers for a minute per container."""

    ttl_s = 60.0

    def fresh(self, key):
        hit = self.get(key)
        return hit[1] if hit and time.monotonic() - hit[0] < self.ttl_s else None

    def put(self, key, value):
        self[key] = (time.monotonic(), value)
        return value


_LOG_SOURCES = _TtlCache()
_DIMENSION_SOURCES = _TtlCache()


def log_sources(log_group: str) -> list[LogSource]:
    cached = _LOG_SOURCES.fresh(log_group)
    if cached is not None:
        return cached
    sources = [
        LogSource(item.run_id, item.log_group, item.stream_prefix, json.loads(item.metric_definitions),
                  TuningTrial(item.tuning_job, item.trial, item.training_job) if item.tuning_job else None)
        for item in LogSourceItem.query(LogSourceItem.partition(log_group))
    ]
    return _LOG_SOURCES.put(log_group, sources)


def log_source_for(log_group: str, log_stream: str) -> LogSource | None:
    """The registration with the longest stream prefix that the stream starts with."""
    matching = [s for s in log_sources(log_group) if log_stream.startswith(s.stream_prefix)]
    return max(matching, key=lambda s: len(s.stream_prefix), default=None)


def run_for_dimensions(namespace: str, dimensions: dict[str, str]) -> str | None:
    for name, value in sorted(dimensions.items()):
        key = (name, value)
        cached = _DIMENSION_SOURCES.fresh(key)
        if cached is None:
            cached = _DIMENSION_SOURCES.put(key, {i.sk: i.run_id for i in DimensionSourceItem.query(DimensionSourceItem.partition(name, value))})
        run_id = cached.get(namespace) or cached.get("*")
        if run_id:
            return run_id
    return None
