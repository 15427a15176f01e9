"""One handler per state-machine step; each function has its own role with only what it needs.

Event shapes are the state machine's payloads (infra/constructs/tuning.py). Storage errors are
re-raised as ``TransientStepError`` so the state machine's Retry on that name covers throttling
and conflicts, while a logic error fails the step at once.
"""
from __future__ import annotations

import functools
import json

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from skytune.tuning import engine
from skytune_tuning.context import repository, settings, tracker, trial_queue_url

settings()  # a missing environment variable fails at cold start

logger = Logger()
tracer = Tracer()
metrics = Metrics()


class TransientStepError(Exception):
    """Storage or AWS API trouble worth a retry (the state machine retries this error name)."""


def step(function):
    @logger.inject_lambda_context(clear_state=True)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    @functools.wraps(function)
    def handler(event: dict, context: LambdaContext):
        logger.append_keys(tuning_job=event.get("job_name"), trial_number=event.get("trial_number"))
        try:
            return function(event)
        except (PynamoDBException, BotoCoreError, ClientError) as error:
            raise TransientStepError(f"{type(error).__name__}: {error}") from error

    return handler


@step
def start(event: dict) -> dict:
    return engine.start_execution(repository(), event["job_name"], int(event.get("generation", 0)))


@step
def claim(event: dict) -> dict:
    return engine.claim_slot(repository(), event["job_name"], event["execution"], int(event["worker"]),
                             int(event["iteration"]), int(event["generation"]))


@step
def suggest(event: dict) -> dict:
    return engine.suggest_for_trial(repository(), event["job_name"], int(event["trial_number"]),
                                    int(event["worker"]), tracker=tracker())


@step
def record(event: dict) -> dict:
    result = engine.record_trial(repository(), event["job_name"], int(event["trial_number"]), event["runner"],
                                 event.get("run"), tracker=tracker())
    return {**result, "next_iteration": int(event["iteration"]) + 1}


@step
def finish(event: dict) -> dict:
    return engine.finish_execution(repository(), event["job_name"], int(event["generation"]),
                                   event.get("workers") or [], failure=event.get("error"))


@step
def dispatch(event: dict) -> dict:
    """External and local trials (``.waitForTaskToken``): keep the token with the trial, so the API
    can resume the state machine when the worker reports, and publish the trial for workers."""
    import boto3

    trial = event["trial"]
    repository().set_task_token(trial["job_name"], int(trial["trial_number"]), event["task_token"])
    boto3.client("sqs").send_message(
        QueueUrl=trial_queue_url(),
        MessageBody=json.dumps({key: value for key, value in trial.items() if key != "action"}),
        MessageAttributes={"runner": {"DataType": "String", "StringValue": trial["runner"]}},
    )
    return {"dispatched": trial["trial_name"]}
