"""Tuning-job routes: create / describe / list trials / stop, and the worker protocol
(heartbeat, complete) that external and local workers use to report trials."""
from __future__ import annotations

import os
from functools import cache
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from skytune import limits
from skytune.tracking import limits as tracking_limits
from skytune.tuning import engine, views
from skytune.tuning.names import ENV_STATE_MACHINE_ARN, execution_name
from skytune.tuning.records import Trial, TuningJob
from skytune.tuning.repository import TuningRepository
from skytune.tuning.tracked_runs import TrackingRuns
from skytune_api.context import repository as tracking_repository, settings

from skytune_api.routes._common import errors
from skytune_api.routes._params import TrialName, TuningJobName

router = APIGatewayHttpRouter()


@cache
def tuning_repository() -> TuningRepository:
    settings()
    return TuningRepository()


@cache
def tracker() -> TrackingRuns:
    from skytune.metrics import MetricStore

    return TrackingRuns(tracking_repository(), MetricStore())


@cache
def _stepfunctions():
    import boto3

    return boto3.client("stepfunctions")


class MetricReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    value: float = Field(allow_inf_nan=False, strict=True, ge=-tracking_limits.METRIC_VALUE_MAX_ABS,
                         le=tracking_limits.METRIC_VALUE_MAX_ABS)
    step: int | None = Field(default=None, ge=0, lt=2**53, strict=True)
    timestamp_ms: int | None = Field(default=None, ge=0, lt=2**53, strict=True)


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metrics: list[MetricReport] = Field(default_factory=list, max_length=1000)
    log_to_run: bool = Field(default=True, description="Also log the metrics to the trial's tracked run "
                             "(false when its logs already reach log ingestion)")


class Completion(Heartbeat):
    status: Literal["Completed", "Failed", "Stopped"]
    failure_reason: str | None = Field(default=None, max_length=1024)


class StopAnswer(BaseModel):
    stop: bool
    reason: str = ""


def _describe(job: TuningJob) -> dict[str, Any]:
    return views.describe_job(job, tuning_repository().list_trials(job.name), engine.utcnow())


@router.post("/tuning-jobs", summary="Create a tuning job (skytune body or SageMaker CreateHyperParameterTuningJob body)",
             tags=["tuning"], responses=errors(400, 409, 415, s201={"description": "Created"}, s200={"description": "The same job, created before by an identical request"}))
def create_tuning_job(body: Annotated[dict[str, Any], Body(description="TuningJobSpec or CreateHyperParameterTuningJob request")]
                      ) -> tuple[dict[str, Any], int]:
    job, created = engine.create_job(tuning_repository(), body)
    _start_execution(job.name, 0)  # also on a repeat: a create whose start was lost is completed here
    return _describe(tuning_repository().get_job(job.name)), 201 if created else 200


def _start_execution(job_name: str, generation: int) -> None:
    import json

    from botocore.exceptions import ClientError

    try:
        _stepfunctions().start_execution(
            stateMachineArn=os.environ[ENV_STATE_MACHINE_ARN], name=execution_name(job_name, generation),
            input=json.dumps({"job_name": job_name, "generation": generation}))
    except ClientError as error:
        if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise


@router.get("/tuning-jobs", summary="List tuning jobs (by name)", tags=["tuning"], responses=errors(400))
def list_tuning_jobs(limit: Annotated[int, Query(ge=1, le=limits.PAGE_SIZE_MAX)] = 100,
                     cursor: Annotated[str | None, Query()] = None) -> dict[str, Any]:
    jobs, next_cursor = tuning_repository().list_jobs(limit, cursor)
    return {"HyperParameterTuningJobSummaries": [
        {"HyperParameterTuningJobName": j.name, "HyperParameterTuningJobStatus": j.status.value,
         "Strategy": j.spec.strategy, "CreationTime": j.created_at.isoformat(),
         "TrainingJobStatusCounters": views.describe_job(j, [], engine.utcnow())["TrainingJobStatusCounters"]}
        for j in jobs], "NextToken": next_cursor}


@router.get("/tuning-jobs/<name>", summary="Describe a tuning job (like DescribeHyperParameterTuningJob)", tags=["tuning"],
            responses=errors(400, 404))
def describe_tuning_job(name: TuningJobName) -> dict[str, Any]:
    return _describe(engine.get_job(tuning_repository(), name))


@router.get("/tuning-jobs/<name>/trials",
            summary="List a tuning job's trials (like ListTrainingJobsForHyperParameterTuningJob)", tags=["tuning"],
            responses=errors(400, 404))
def list_tuning_job_trials(
    name: TuningJobName,
    status: Annotated[str | None, Query(description="InProgress, Completed, Failed, Stopping or Stopped")] = None,
    sort_by: Annotated[str, Query(description="Name, CreationTime, Status or FinalObjectiveMetricValue")] = "CreationTime",
    sort_order: Annotated[str, Query(description="Ascending or Descending")] = "Ascending",
    limit: Annotated[int, Query(ge=1, le=limits.PAGE_SIZE_MAX)] = 100,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    job = engine.get_job(tuning_repository(), name)
    return views.list_trials(job, tuning_repository().list_trials(name), status=status, sort_by=sort_by,
                             sort_order=sort_order, limit=limit, cursor=cursor)


@router.get("/tuning-jobs/<name>/importance",
            summary="Hyperparameter importance: each tuned parameter's share of the objective's variance",
            description="fANOVA-style first-order effects on a random forest fitted to the scored trials "
                        "(`skytune.tuning.importance`); shares sum to 1, largest first; empty below 3 scored trials. "
                        "`metric` picks another of the job's objectives or constrained metrics (default: the objective).",
            tags=["tuning"], responses=errors(400, 404))
def tuning_job_importance(
    name: TuningJobName,
    metric: Annotated[str | None, Query(max_length=limits.NAME_MAX_LENGTH,
                                        description="An objective or constrained metric of the job")] = None,
) -> dict[str, Any]:
    from skytune.tuning.importance import importance

    job = engine.get_job(tuning_repository(), name)
    metric = views.importance_metric(job, metric)
    scored = [(t.hyperparameters, value) for t in tuning_repository().list_trials(name)
              if t.hyperparameters is not None and (value := views.trial_metric(job, t, metric)) is not None]
    return {"HyperParameterTuningJobName": name, "ObjectiveMetricName": metric,
            **importance(job.spec.search_space(), [c for c, _ in scored], [v for _, v in scored])}


@router.post("/tuning-jobs/<name>/stop", summary="Stop a tuning job: running trials stop, no new ones start",
             tags=["tuning"], responses=errors(400, 404, 409))
def stop_tuning_job(name: TuningJobName) -> dict[str, Any]:
    job = engine.stop_job(tuning_repository(), name, stop_runner=_stop_runner)
    return _describe(job)


def _stop_runner(job: TuningJob, trial: Trial) -> None:
    """SageMaker trials are stopped at once; workers learn it from their next heartbeat."""
    if job.spec.trial.runner == "sagemaker":
        import boto3

        request = engine.sagemaker_training_job(job.spec, trial, trial.hyperparameters or {})
        try:
            boto3.client("sagemaker").stop_training_job(TrainingJobName=request["TrainingJobName"])
        except Exception:  # noqa: BLE001 - it may have ended meanwhile; the record step settles it
            pass


@router.post("/tuning-jobs/<name>/trials/<trial_name>/heartbeat",
             summary="A worker's heartbeat with its latest metrics; answers whether to stop", tags=["tuning-workers"],
             responses=errors(400, 404, 409, 415))
def trial_heartbeat(name: TuningJobName, trial_name: TrialName, body: Heartbeat) -> StopAnswer:
    from botocore.exceptions import ClientError

    metrics = [m.model_dump() for m in body.metrics]
    answer = engine.heartbeat(tuning_repository(), name, trial_name, metrics,
                              tracker=tracker() if body.log_to_run else None)
    trial = tuning_repository().get_trial_by_name(name, trial_name)
    token = tuning_repository().task_token(name, trial.number) if trial else None
    if token and not answer["stop"]:
        try:
            _stepfunctions().send_task_heartbeat(taskToken=token)
        except ClientError as error:  # the state machine gave up on this trial (timed out)
            return StopAnswer(stop=True, reason=f"the tuning loop no longer waits for this trial: {error.response['Error']['Code']}")
    return StopAnswer(**answer)


@router.post("/tuning-jobs/<name>/trials/<trial_name>/complete",
             summary="A worker reports a trial's end (Completed, Failed or Stopped)", tags=["tuning-workers"],
             responses=errors(400, 404, 409, 415))
def trial_complete(name: TuningJobName, trial_name: TrialName, body: Completion) -> dict[str, Any]:
    import json

    from botocore.exceptions import ClientError

    token, output = engine.complete_trial(tuning_repository(), name, trial_name, body.status, body.failure_reason,
                                          [m.model_dump() for m in body.metrics],
                                          tracker=tracker() if body.log_to_run else None)
    accepted = False
    if token:
        try:
            _stepfunctions().send_task_success(taskToken=token, output=json.dumps(output))
            accepted = True
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
                raise
    return {"accepted": accepted, "trial_name": trial_name, "status": body.status}
