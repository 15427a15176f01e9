"""Fault injection at the HTTP layer of botocore: below its retry logic, so retries are the real ones."""
from __future__ import annotations

import contextlib
import json
import random
import threading

from botocore.awsrequest import AWSResponse
from botocore.endpoint import Endpoint

WRITE_OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


class _RawBody:
    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def stream(self, **_):
        yield self._payload

    def read(self, *_args, **_kwargs):
        payload, self._payload = self._payload, b""
        return payload


@contextlib.contextmanager
def throttle_dynamodb_writes(rate: float, seed: int = 0):
    """Answer `rate` of DynamoDB write requests with a ThrottlingException (HTTP 400), as DynamoDB does
    under load. Yields a counter dict: {"throttled": n, "writes": n}."""
    rng = random.Random(seed)
    lock = threading.Lock()
    counts = {"throttled": 0, "writes": 0}
    original = Endpoint._send

    def send(self, request):
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        if target.startswith("DynamoDB_") and target.split(".", 1)[1] in WRITE_OPERATIONS:
            with lock:
                counts["writes"] += 1
                throttle = rng.random() < rate
                counts["throttled"] += throttle
            if throttle:
                body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                                   "message": "Rate of requests exceeds the allowed throughput."}).encode()
                return AWSResponse(request.url, 400, {"x-amzn-requestid": "fault", "content-type": "application/x-amz-json-1.0"}, _RawBody(body))
        return original(self, request)

    Endpoint._send = send
    try:
        yield counts
    finally:
        Endpoint._send = original
