"""Count DynamoDB capacity and requests as a client sees them (ReturnConsumedCapacity=TOTAL on every
call), whichever library made the call (PynamoDB, boto3)."""
from __future__ import annotations

import contextlib
import threading
from collections import Counter

from botocore.client import BaseClient

_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
_OPERATIONS = _WRITES | _READS


@contextlib.contextmanager
def capacity_meter():
    """Yields {"wcu": float, "rcu": float, "requests": Counter} filled while the block runs."""
    totals = {"wcu": 0.0, "rcu": 0.0, "requests": Counter()}
    lock = threading.Lock()
    original = BaseClient._make_api_call

    def call(self, operation_name, api_params):
        if self.meta.service_model.service_name != "dynamodb" or operation_name not in _OPERATIONS:
            return original(self, operation_name, api_params)
        response = original(self, operation_name, {**api_params, "ReturnConsumedCapacity": "TOTAL"})
        consumed = response.get("ConsumedCapacity") or []
        consumed = consumed if isinstance(consumed, list) else [consumed]
        with lock:
            totals["requests"][operation_name] += 1
            for entry in consumed:  # with TOTAL, DynamoDB reports CapacityUnits: WCU for writes, RCU for reads
                totals["wcu" if operation_name in _WRITES else "rcu"] += entry.get("CapacityUnits", 0.0)
        return response

    BaseClient._make_api_call = call
    try:
        yield totals
    finally:
        BaseClient._make_api_call = original
