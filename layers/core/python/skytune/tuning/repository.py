"""DynamoDB access for tuning jobs (PynamoDB): every state change is one conditional write or one
transaction, so concurrent workers and retried steps can never double-count.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.operand import Path
from pynamodb.transactions import TransactWrite

from skytune.storage.repository import Listing, decode_cursor, encode_cursor
from skytune.tuning.items import JOB_SK, JOBS_LISTING, ClaimItem, TrialItem, TuningJobItem, job_pk, trial_sk
from skytune.tuning.records import (
    Counters,
    JobStatus,
    ObjectiveStatus,
    Trial,
    TrialStatus,
    TuningJob,
    trial_name,
)
from skytune.tuning.spec import TuningJobSpec


@dataclass(frozen=True)
class Claim:
    """What a claim step got: a trial number to run, or why not."""

    action: str  # "run" | "done" (no slot: budget spent, job stopping/ended) | "continue_as_new"
    trial_number: int | None = None
    reason: str = ""


def _conditional_failed(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"


def _cancelled_reasons(error: TransactWriteError) -> list[str | None]:
    reasons = getattr(error, "cancellation_reasons", None) or []
    return [getattr(r, "code", None) if r is not None else None for r in reasons]


class TuningRepository:
    def __init__(self) -> None:
        self._transactions: Connection | None = None

    def _connection(self) -> Connection:
        # One connection for transactions, made after storage.bind() has set the region.
        if self._transactions is None:
            self._transactions = Connection(region=TuningJobItem.Meta.region)
        return self._transactions

    # -- jobs ----------------------------------------------------------------------------------
    def insert_job(self, job: TuningJob) -> bool:
        item = TuningJobItem(
            job_pk(job.name), JOB_SK, gsi1sk=job.name, name=job.name,
            spec=job.spec.model_dump(mode="json"), fingerprint=job.spec.fingerprint(),
            status=job.status.value, created_at=job.created_at, updated_at=job.updated_at,
        )
        try:
            item.save(condition=TuningJobItem.pk.does_not_exist())
        except PutError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def job_fingerprint(self, name: str) -> str | None:
        item = self._job_item(name)
        return item.fingerprint if item else None

    def get_job(self, name: str) -> TuningJob | None:
        item = self._job_item(name)
        return _job(item) if item else None

    def _job_item(self, name: str) -> TuningJobItem | None:
        try:
            return TuningJobItem.get(job_pk(name), JOB_SK, consistent_read=True)
        except DoesNotExist:
            return None

    def list_jobs(self, limit: int, cursor: str | None) -> tuple[list[TuningJob], str | None]:
        listing = Listing.of_index(JOBS_LISTING)
        page = TuningJobItem.listing.query(JOBS_LISTING, limit=limit, last_evaluated_key=decode_cursor(cursor, listing))
        jobs = [_job(item) for item in page]
        return jobs, encode_cursor(page.last_evaluated_key, listing)

    def set_job_status(self, name: str, status: JobStatus, now: datetime, *, expected: tuple[JobStatus, ...],
                       completion_reason: str | None = None, failure_reason: str | None = None,
                       ended: bool = False) -> bool:
        """Move the job to ``status`` if it is in one of ``expected``; False when it was not."""
        actions = [TuningJobItem.status.set(status.value), TuningJobItem.updated_at.set(now)]
        if completion_reason:
            actions.append(TuningJobItem.completion_reason.set(completion_reason))
        if failure_reason:
            actions.append(TuningJobItem.failure_reason.set(failure_reason))
        if ended:
            actions.append(TuningJobItem.ended_at.set(now))
        try:
            TuningJobItem(job_pk(name), JOB_SK).update(
                actions=actions, condition=TuningJobItem.status.is_in(*[s.value for s in expected]))
        except UpdateError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def set_completion_reason(self, name: str, reason: str, now: datetime) -> bool:
        """Record the first reason the job completes early; claims refuse new trials from then on."""
        try:
            TuningJobItem(job_pk(name), JOB_SK).update(
                actions=[TuningJobItem.completion_reason.set(reason), TuningJobItem.updated_at.set(now)],
                condition=TuningJobItem.completion_reason.does_not_exist()
                & (TuningJobItem.status == JobStatus.IN_PROGRESS.value))
        except UpdateError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def set_ignored_history(self, name: str, report: dict[str, Any]) -> None:
        """Record which history observations the optimiser could not use (latest report wins)."""
        TuningJobItem(job_pk(name), JOB_SK).update(actions=[TuningJobItem.ignored_history.set(report)])

    def next_generation(self, name: str, generation: int) -> bool:
        """Open execution ``generation`` (its per-execution trial count starts at 0); idempotent."""
        try:
            TuningJobItem(job_pk(name), JOB_SK).update(
                actions=[TuningJobItem.generation.set(generation), TuningJobItem.generation_started.set(0)],
                condition=TuningJobItem.generation < generation)
        except UpdateError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    # -- claims ------------------------------------------------------------------------------------
    def claim(self, job: TuningJob, claim_key: str, generation: int, per_execution: int, now: datetime,
              max_attempts: int = 20) -> Claim:
        """Atomically take the next trial slot, at most once per ``claim_key``.

        One transaction: the job's ``started`` moves from n to n+1 only if it is still n (optimistic
        concurrency between workers), below the budget, the job InProgress and this execution below
        its share; the claim item (condition: new) records the trial number for a retried step;
        the trial item is created InProgress. A retry of the same step finds its claim item.
        """
        pk = job_pk(job.name)
        claim_sk = f"CLAIM#{claim_key}"
        for _ in range(max_attempts):
            existing = self._claim_item(pk, claim_sk)
            if existing is not None:
                return Claim("run", int(existing.trial_number), "claimed before (retried step)")
            item = self._job_item(job.name)
            if item.status != JobStatus.IN_PROGRESS.value:
                return Claim("done", reason=f"job is {item.status}")
            if item.completion_reason:
                return Claim("done", reason=f"job complete: {item.completion_reason}")
            if int(item.started) >= job.spec.max_trials:
                return Claim("done", reason="MaxNumberOfTrainingJobs reached")
            if int(item.generation) != generation:
                return Claim("done", reason="a newer execution runs this job")
            if int(item.generation_started) >= per_execution:
                return Claim("continue_as_new", reason=f"{per_execution} trials in this execution")
            number = int(item.started) + 1
            trial = TrialItem(
                pk, trial_sk(number), job_name=job.name, number=number, name=trial_name(job.name, number),
                status=TrialStatus.IN_PROGRESS.value, objective_status=ObjectiveStatus.PENDING.value,
                curve={}, metric_points={}, created_at=now,
            )
            try:
                with TransactWrite(connection=self._connection()) as transaction:
                    transaction.update(
                        TuningJobItem(pk, JOB_SK),
                        actions=[TuningJobItem.started.set(number), TuningJobItem.in_progress.add(1),
                                 TuningJobItem.generation_started.add(1), TuningJobItem.updated_at.set(now)],
                        condition=(TuningJobItem.started == number - 1)
                        & (TuningJobItem.status == JobStatus.IN_PROGRESS.value)
                        & (TuningJobItem.generation == generation)
                        & TuningJobItem.completion_reason.does_not_exist(),
                    )
                    transaction.save(ClaimItem(pk, claim_sk, trial_number=number, created_at=now),
                                     condition=ClaimItem.pk.does_not_exist())
                    transaction.save(trial, condition=TrialItem.pk.does_not_exist())
                return Claim("run", number)
            except TransactWriteError:
                continue  # another worker advanced the counter, or our claim landed: look again
        raise RuntimeError(f"could not claim a trial slot of {job.name} after {max_attempts} attempts")

    def reserve_point(self, job_name: str, point_key: str, number: int, now: datetime) -> int:
        """Atomically reserve a configuration (``point_key``, a digest of its identity) for trial
        ``number``; returns the trial that holds it: ``number`` when the reservation is ours (also on
        a retried step), another trial's number when it took the point first."""
        pk, sk = job_pk(job_name), f"POINT#{point_key}"
        try:
            ClaimItem(pk, sk, trial_number=number, created_at=now).save(condition=ClaimItem.pk.does_not_exist())
            return number
        except PutError as error:
            if not _conditional_failed(error):
                raise
        existing = self._claim_item(pk, sk)
        return int(existing.trial_number) if existing is not None else number

    def _claim_item(self, pk: str, sk: str) -> ClaimItem | None:
        try:
            return ClaimItem.get(pk, sk, consistent_read=True)
        except DoesNotExist:
            return None

    # -- trials ----------------------------------------------------------------------------------
    def get_trial(self, job_name: str, number: int) -> Trial | None:
        item = self._trial_item(job_name, number)
        return _trial(item) if item else None

    def get_trial_by_name(self, job_name: str, name: str) -> Trial | None:
        number = _number_of(name)
        trial = self.get_trial(job_name, number) if number else None
        return trial if trial and trial.name == name else None

    def task_token(self, job_name: str, number: int) -> str | None:
        item = self._trial_item(job_name, number)
        return item.task_token if item else None

    def _trial_item(self, job_name: str, number: int) -> TrialItem | None:
        try:
            return TrialItem.get(job_pk(job_name), trial_sk(number), consistent_read=True)
        except DoesNotExist:
            return None

    def list_trials(self, job_name: str) -> list[Trial]:
        return [_trial(item) for item in TrialItem.query(job_pk(job_name), TrialItem.sk.startswith("TRIAL#"),
                                                         consistent_read=True)]

    def set_hyperparameters(self, job_name: str, number: int, hyperparameters: dict[str, Any], worker: int,
                            now: datetime) -> dict[str, Any]:
        """Record the suggestion once; a retried suggest step gets the first suggestion back."""
        item = TrialItem(job_pk(job_name), trial_sk(number))
        try:
            item.update(
                actions=[TrialItem.hyperparameters.set(hyperparameters), TrialItem.worker.set(worker),
                         TrialItem.started_at.set(now)],
                condition=TrialItem.hyperparameters.does_not_exist() | (TrialItem.hyperparameters == None),  # noqa: E711
            )
        except UpdateError as error:
            if not _conditional_failed(error):
                raise
        return self._trial_item(job_name, number).hyperparameters

    def set_run_id(self, job_name: str, number: int, run_id: str) -> None:
        TrialItem(job_pk(job_name), trial_sk(number)).update(actions=[TrialItem.run_id.set(run_id)])

    def set_task_token(self, job_name: str, number: int, token: str, runner_ref: str | None = None) -> None:
        actions = [TrialItem.task_token.set(token)]
        if runner_ref:
            actions.append(TrialItem.runner_ref.set(runner_ref))
        TrialItem(job_pk(job_name), trial_sk(number)).update(actions=actions)

    def add_curve_points(self, job_name: str, number: int, points: list[tuple[int, float]]) -> None:
        """Objective values by step; writing a step again keeps one value (idempotent re-delivery)."""
        if not points:
            return
        actions = [Path(["curve", str(int(step))]).set(float(value)) for step, value in points]
        for start in range(0, len(actions), 50):  # an update expression has a size limit
            TrialItem(job_pk(job_name), trial_sk(number)).update(actions=actions[start:start + 50])

    def add_metric_points(self, job_name: str, number: int, points: list[tuple[str, int, float]]) -> None:
        """Further objectives' and constrained metrics' values by step (idempotent like the curve)."""
        actions = [Path(["metric_points", f"{metric}@{int(step)}"]).set(float(value)) for metric, step, value in points]
        for start in range(0, len(actions), 50):
            TrialItem(job_pk(job_name), trial_sk(number)).update(actions=actions[start:start + 50])

    def request_trial_stop(self, job_name: str, number: int, reason: str) -> bool:
        """Mark a running trial Stopping (its runner is told on the next heartbeat)."""
        try:
            TrialItem(job_pk(job_name), trial_sk(number)).update(
                actions=[TrialItem.status.set(TrialStatus.STOPPING.value), TrialItem.stop_requested.set(True),
                         TrialItem.stop_reason.set(reason)],
                condition=TrialItem.status == TrialStatus.IN_PROGRESS.value)
        except UpdateError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def finish_trial(self, job: TuningJob, number: int, status: TrialStatus, objective_value: float | None,
                     failure_reason: str | None, now: datetime, *, final_metrics: dict[str, float] | None = None,
                     feasible: bool | None = None, best_candidate: bool = True) -> bool:
        """End a trial and move the job's counters with it, in one transaction. Only the first call
        for a trial changes anything (condition: the trial is still running), so a retried record
        step cannot count twice. Returns whether this call ended the trial."""
        objective_status = ObjectiveStatus.SUCCEEDED if objective_value is not None else ObjectiveStatus.FAILED
        counter = {TrialStatus.COMPLETED: TuningJobItem.completed, TrialStatus.FAILED: TuningJobItem.failed,
                   TrialStatus.STOPPED: TuningJobItem.stopped}[status]
        objective_counter = (TuningJobItem.objective_succeeded if objective_status == ObjectiveStatus.SUCCEEDED
                             else TuningJobItem.objective_failed)
        pk = job_pk(job.name)
        trial_actions = [TrialItem.status.set(status.value), TrialItem.objective_status.set(objective_status.value),
                         TrialItem.ended_at.set(now), TrialItem.task_token.remove()]
        if objective_value is not None:
            trial_actions.append(TrialItem.objective_value.set(objective_value))
        if failure_reason:
            trial_actions.append(TrialItem.failure_reason.set(failure_reason[:1000]))
        if final_metrics is not None:
            trial_actions.append(TrialItem.final_metrics.set(final_metrics))
        if feasible is not None:
            trial_actions.append(TrialItem.feasible.set(feasible))
        try:
            with TransactWrite(connection=self._connection()) as transaction:
                transaction.update(
                    TrialItem(pk, trial_sk(number)), actions=trial_actions,
                    condition=TrialItem.status.is_in(TrialStatus.IN_PROGRESS.value, TrialStatus.STOPPING.value))
                transaction.update(
                    TuningJobItem(pk, JOB_SK),
                    actions=[TuningJobItem.in_progress.add(-1), counter.add(1), objective_counter.add(1),
                             TuningJobItem.updated_at.set(now)])
        except TransactWriteError as error:
            if "ConditionalCheckFailed" in _cancelled_reasons(error):
                return False
            raise
        if objective_value is not None and best_candidate:
            self._offer_best(job, trial_name(job.name, number), objective_value)
        return True

    def _offer_best(self, job: TuningJob, name: str, value: float) -> None:
        """Best trial so far: a conditional write that only ever improves it (monotonic, retry-safe)."""
        better = TuningJobItem.best_value < value if job.spec.objective.type == "Maximize" else TuningJobItem.best_value > value
        try:
            TuningJobItem(job_pk(job.name), JOB_SK).update(
                actions=[TuningJobItem.best_value.set(value), TuningJobItem.best_trial.set(name)],
                condition=TuningJobItem.best_value.does_not_exist() | better)
        except UpdateError as error:
            if not _conditional_failed(error):
                raise


def _number_of(name: str) -> int | None:
    parts = name.rsplit("-", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def _job(item: TuningJobItem) -> TuningJob:
    return TuningJob(
        name=item.name,
        spec=TuningJobSpec.model_validate(item.spec),
        status=JobStatus(item.status),
        counters=Counters(
            started=int(item.started), in_progress=int(item.in_progress), completed=int(item.completed),
            failed=int(item.failed), stopped=int(item.stopped),
            objective_succeeded=int(item.objective_succeeded), objective_failed=int(item.objective_failed),
        ),
        best_trial=item.best_trial,
        best_value=item.best_value,
        completion_reason=item.completion_reason,
        failure_reason=item.failure_reason,
        generation=int(item.generation),
        ignored_history=item.ignored_history,
        created_at=item.created_at,
        updated_at=item.updated_at,
        ended_at=item.ended_at,
    )


def _trial(item: TrialItem) -> Trial:
    raw_curve = item.curve.as_dict() if hasattr(item.curve, "as_dict") else dict(item.curve or {})
    raw_points = item.metric_points.as_dict() if hasattr(item.metric_points, "as_dict") else dict(item.metric_points or {})
    metric_points: dict[str, list[tuple[int, float]]] = {}
    for key, value in raw_points.items():
        metric, _, step = key.rpartition("@")
        metric_points.setdefault(metric, []).append((int(step), float(value)))
    return Trial(
        job_name=item.job_name,
        number=int(item.number),
        name=item.name,
        status=TrialStatus(item.status),
        hyperparameters=item.hyperparameters,
        objective_value=item.objective_value,
        objective_status=ObjectiveStatus(item.objective_status),
        curve=sorted((int(step), float(value)) for step, value in raw_curve.items()),
        metric_points={metric: sorted(points) for metric, points in metric_points.items()},
        final_metrics=item.final_metrics,
        feasible=item.feasible,
        failure_reason=item.failure_reason,
        stop_reason=item.stop_reason,
        worker=int(item.worker) if item.worker is not None else None,
        run_id=item.run_id,
        created_at=item.created_at,
        started_at=item.started_at,
        ended_at=item.ended_at,
    )

