"""Execute the synthesised state machines locally with moto's Step Functions interpreter.

moto (derived from LocalStack's ASL interpreter) runs each execution on a thread and calls Lambda
through boto3; a ``before-call.lambda.Invoke`` handler on boto3's default session answers those calls
with the template's handlers, invoked in this process. Only Step Functions and SQS (the trial queue)
are moto's: DynamoDB requests pass through to DynamoDB Local, credentials stay the local ones (moto's
fake ones would make DynamoDB Local open another database), and account and region are the ones the
template was resolved with, so the ARNs the functions read from their environment are moto's ARNs.
"""
from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
from typing import Any, Callable
from urllib.parse import unquote

import boto3
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

from skytune.local.functions import LocalFunctions
from skytune.local.template import LOCAL_ACCOUNT, LOCAL_REGION, StackTemplate

log = logging.getLogger("skytune.local")

MOTO_CONFIG = {
    "stepfunctions": {"execute_state_machine": True},
    "core": {"mock_credentials": False, "reset_boto3_session": False,
             "passthrough": {"services": ["dynamodb"], "urls": []}},
}
TERMINAL_EXECUTION = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}

LambdaHandler = Callable[[Any, Any], Any]


class LocalStepFunctions:
    """moto Step Functions + SQS, with the template's state machines and queues created in it."""

    def __init__(self, template: StackTemplate, functions: LocalFunctions) -> None:
        self.template = template
        self.functions = functions
        self.extra_functions: dict[str, LambdaHandler] = {}
        self.state_machine_arns: dict[str, str] = {}
        self.queue_urls: dict[str, str] = {}
        self._mock = None
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> "LocalStepFunctions":
        from moto import mock_aws

        os.environ["MOTO_ACCOUNT_ID"] = LOCAL_ACCOUNT  # ARNs match the template's resolved ones
        self._mock = mock_aws(config=MOTO_CONFIG)
        self._mock.start()
        boto3.setup_default_session(region_name=LOCAL_REGION)
        boto3.DEFAULT_SESSION.events.register("before-call.lambda.Invoke", self._invoke)
        sqs = self.client("sqs")
        for logical_id in self.template.of_type("AWS::SQS::Queue"):
            name = self.template.physical_names[logical_id]
            self.queue_urls[logical_id] = sqs.create_queue(QueueName=name)["QueueUrl"]
        sfn = self.client("stepfunctions")
        for logical_id, machine in self.template.state_machines().items():
            created = sfn.create_state_machine(
                name=machine["name"], definition=machine["definition"],
                roleArn=f"arn:aws:iam::{LOCAL_ACCOUNT}:role/{machine['name']}")
            self.state_machine_arns[logical_id] = created["stateMachineArn"]
        return self

    def stop(self) -> None:
        if self._mock is not None:
            if boto3.DEFAULT_SESSION is not None:
                boto3.DEFAULT_SESSION.events.unregister("before-call.lambda.Invoke", self._invoke)
            self._mock.stop()
            self._mock = None
            os.environ.pop("MOTO_ACCOUNT_ID", None)

    def client(self, service: str):
        return boto3.client(service, region_name=LOCAL_REGION)

    def register_function(self, name: str, handler: LambdaHandler) -> None:
        """A function that is not in the template (a Lambda-runner trial function, in tests)."""
        self.extra_functions[name] = handler

    # -- executions --------------------------------------------------------------------------------
    def state_machine_arn(self, name_fragment: str = "") -> str:
        matches = [arn for arn in self.state_machine_arns.values() if name_fragment in arn]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} state machines match {name_fragment!r}: {sorted(self.state_machine_arns.values())}")
        return matches[0]

    def wait(self, execution_arn: str, timeout: float = 600, poll: float = 0.1) -> dict:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] in TERMINAL_EXECUTION:
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still {described['status']} after {timeout:.0f} s")
            time.sleep(poll)

    def history_length(self, execution_arn: str) -> int:
        sfn = self.client("stepfunctions")
        count, token = 0, None
        while True:
            page = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000,
                                             **({"nextToken": token} if token else {}))
            count += len(page["events"])
            token = page.get("nextToken")
            if not token:
                return count

    # -- Lambda, in process ------------------------------------------------------------------------
    def _invoke(self, params: dict, **_: Any):
        """botocore ``before-call`` hook: answer lambda:Invoke without a request. ``params`` is the
        serialised request: the function (name or ARN) is in the URL path, the event in the body."""
        target = unquote(params["url_path"].split("/functions/", 1)[1].split("/", 1)[0])
        name = target.rsplit(":function:", 1)[-1].split(":", 1)[0]
        body = params.get("body") or b"{}"
        event = json.loads(body.decode() if isinstance(body, bytes) else body)
        spec = self.functions.by_name(name)
        try:
            if spec is not None:
                result = self.functions.invoke(spec.logical_id, event)
            elif name in self.extra_functions:
                result = self.extra_functions[name](event, None)
            else:
                return _response(404, {"Type": "User", "message": f"Function not found: {target}"},
                                 error_code="ResourceNotFoundException")
            return _response(200, result)
        except Exception as error:  # noqa: BLE001 - reported to the state machine like Lambda does
            log.debug("local function %s raised %r", name, error)
            return _response(200, {"errorType": type(error).__name__, "errorMessage": str(error)},
                             function_error="Unhandled")


def _response(status: int, payload: Any, function_error: str | None = None, error_code: str | None = None):
    data = json.dumps(payload, default=str).encode()
    http = AWSResponse("http://lambda.local", status, {}, None)
    if error_code:
        return http, {"Error": {"Code": error_code, "Message": payload.get("message", "")},
                      "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "local"}}
    parsed = {"StatusCode": status, "Payload": StreamingBody(io.BytesIO(data), len(data)),
              "ExecutedVersion": "$LATEST", "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "local"}}
    if function_error:
        parsed["FunctionError"] = function_error
    return http, parsed
