"""SageMaker training jobs tracked with zero code: a state-change event creates or updates the job's run.

Mapping (docs/ingestion.md): experiment = tag `skytune:experiment`, else the tuning job's name, else
`sagemaker-training-jobs`; run id derived from the job name (so logs and metric streams find it);
hyperparameters → params; input channels → input artifacts; model artifacts → output artifact;
`AlgorithmSpecification.MetricDefinitions` → the log source of the job's log streams;
`FinalMetricDataList` → metrics named `final:<MetricName>` (kept apart from the scraped series of the
same name, which they would otherwise count twice).
Events may arrive late or twice: an event older than the last one applied changes nothing.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from skytune.errors import Conflict, NotFound
from skytune.ingestion.sagemaker_events import TrainingJobUpdate
from skytune.ingestion.sources import SAGEMAKER_TRAINING_LOG_GROUP, TuningTrial, register_log_source, sagemaker_run_id
from skytune.metrics import MetricPoint, MetricStore
from skytune.tracking import experiments, runs
from skytune.tracking.records import Artifact, ExperimentInput, RunInput, RunUpdate

DEFAULT_EXPERIMENT = "sagemaker-training-jobs"
EXPERIMENT_TAG = "skytune:experiment"
LAST_EVENT_TAG = "sagemaker:last-event-ms"
# Tags the tuning engine puts on the SageMaker training jobs it starts (skytune.tuning.engine).
RUN_ID_TAG = "skytune:run-id"
TUNING_JOB_TAG = "skytune:tuning-job"
TRIAL_TAG = "skytune:trial"


def _time(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, timezone.utc) if ms is not None else None


def experiment_for(update: TrainingJobUpdate) -> str:
    if update.tags.get(EXPERIMENT_TAG):
        return update.tags[EXPERIMENT_TAG]
    if update.tuning_job_arn:
        return update.tuning_job_arn.rsplit("/", 1)[-1]
    return DEFAULT_EXPERIMENT


def _artifacts(refs) -> list[Artifact]:
    return [Artifact(name=ref.name, uri=ref.uri) for ref in refs]


def _ensure_experiment(repo, name: str) -> None:
    try:
        experiments.get_experiment(repo, name)
    except NotFound:
        try:
            experiments.create_experiment(repo, ExperimentInput(name=name, description="Created by skytune from SageMaker events"))
        except Conflict:
            pass  # created meanwhile by a concurrent event


def apply_training_job_update(update: TrainingJobUpdate, detail: Mapping[str, Any], repo, store: MetricStore) -> str:
    """Create or update the run of the training job; returns its run id."""
    # A training job started by a skytune tuning job is that trial's run (tag skytune:run-id).
    run_id = update.tags.get(RUN_ID_TAG) or sagemaker_run_id(update.run_name)
    event_ms = update.last_modified_ms or update.event_time_ms
    try:
        current = runs.get_run(repo, run_id)
    except NotFound:
        current = None

    if current is None:
        experiment = experiment_for(update)
        _ensure_experiment(repo, experiment)
        runs.create_run(repo, RunInput(
            experiment=experiment, name=update.run_name, status=update.status,
            start_time=_time(update.start_time_ms or update.creation_time_ms), end_time=_time(update.end_time_ms),
            source=update.training_job_arn, params=dict(update.params),
            tags={**{k: v for k, v in update.tags.items() if len(k) <= 128 and len(v) <= 256}, LAST_EVENT_TAG: str(event_ms)},
            inputs=_artifacts(update.input_artifacts), outputs=_artifacts(update.output_artifacts),
        ), new_id=lambda: run_id)
    elif int(current.tags.get(LAST_EVENT_TAG, "0")) <= event_ms:
        changes: dict[str, Any] = {"status": update.status, "tags": {LAST_EVENT_TAG: str(event_ms)}}
        if update.end_time_ms is not None:
            changes["end_time"] = _time(update.end_time_ms)
        if update.output_artifacts:
            changes["outputs"] = _artifacts(update.output_artifacts)
        runs.update_run(repo, run_id, RunUpdate(**changes))

    definitions = (detail.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
    if definitions:
        tuning = None
        if update.tags.get(TUNING_JOB_TAG) and update.tags.get(TRIAL_TAG):
            tuning = TuningTrial(update.tags[TUNING_JOB_TAG], update.tags[TRIAL_TAG], update.run_name)
        register_log_source(run_id, SAGEMAKER_TRAINING_LOG_GROUP, f"{update.run_name}/", list(definitions), tuning)
    if update.final_metrics:
        stamp = event_ms
        store.write(run_id, [
            MetricPoint(f"final:{metric.name}", metric.value, 0, metric.timestamp_ms or stamp)
            for metric in update.final_metrics
        ])
    return run_id
