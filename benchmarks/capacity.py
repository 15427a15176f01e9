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


def item_size(item: dict) -> int:
    """DynamoDB's size of an item in the low-level format: attribute names plus values (strings and
    binaries by length, numbers ~1 byte per 2 digits + 1, 3 bytes per map/list + 1 per element)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict) -> int:
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "B":
        return len(inner)
    if kind == "N":
        return len(inner.strip("-").replace(".", "")) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "BS"):
        return sum(len(v.encode()) if isinstance(v, str) else len(v) for v in inner)
    if kind == "NS":
        return sum(len(v) // 2 + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in inner)
    return 0


def _transaction_wcu(client, original, api_params: dict) -> float:
    """DynamoDB bills a write transaction 2 WCU per started KB of every item it writes (the larger of
    the item before and after). DynamoDB Local reports less for a transaction of several items (it
    bills as if it held one: 3 puts of 3 KB report 6 WCU, not 18), so we count the items ourselves:
    a put by its item, an update or delete by the item as stored after the call (one unmetered
    GetItem each), a condition check as 1 KB."""
    total = 0.0
    for entry in api_params["TransactItems"]:
        (kind, operation), = entry.items()
        if kind == "Put":
            size = item_size(operation["Item"])
        elif kind in ("Update", "Delete"):
            stored = original(client, "GetItem", {"TableName": operation["TableName"], "Key": operation["Key"],
                                                  "ConsistentRead": True}).get("Item")
            size = item_size(stored) if stored else 1
        else:
            size = 1
        total += 2 * max(1, -(-size // 1024))
    return total


def _folding() -> bool:
    try:
        from skytune.metrics.store import FOLDING
    except ImportError:  # pragma: no cover - the core layer is not on the path
        return False
    return FOLDING.get()


@contextlib.contextmanager
def capacity_meter(current_thread_only: bool = False):
    """Yields {"wcu": float, "rcu": float, "requests": Counter} filled while the block runs, and the
    part of "wcu" spent by metric-store folds ("fold_wcu", whatever thread ran them) and by other
    threads than the caller's, such as the local stack's stream consumer ("background_wcu").
    `current_thread_only`: count only the calls of the thread that entered the block."""
    totals = {"wcu": 0.0, "rcu": 0.0, "requests": Counter(), "fold_wcu": 0.0, "background_wcu": 0.0}
    lock = threading.Lock()
    original = BaseClient._make_api_call
    owner = threading.get_ident()

    def call(self, operation_name, api_params):
        if self.meta.service_model.service_name != "dynamodb" or operation_name not in _OPERATIONS:
            return original(self, operation_name, api_params)
        folding, background = _folding(), threading.get_ident() != owner
        if current_thread_only and background:
            return original(self, operation_name, api_params)
        response = original(self, operation_name, {**api_params, "ReturnConsumedCapacity": "TOTAL"})
        consumed = response.get("ConsumedCapacity") or []
        consumed = consumed if isinstance(consumed, list) else [consumed]
        transaction_wcu = _transaction_wcu(self, original, api_params) if operation_name == "TransactWriteItems" else None
        with lock:
            totals["requests"][operation_name] += 1
            if transaction_wcu is not None:
                wcu = transaction_wcu
            else:  # with TOTAL, DynamoDB reports CapacityUnits: WCU for writes, RCU for reads
                wcu = sum(entry.get("CapacityUnits", 0.0) for entry in consumed) if operation_name in _WRITES else 0.0
                if operation_name not in _WRITES:
                    totals["rcu"] += sum(entry.get("CapacityUnits", 0.0) for entry in consumed)
            totals["wcu"] += wcu
            if folding:
                totals["fold_wcu"] += wcu
            elif background:
                totals["background_wcu"] += wcu
        return response

    BaseClient._make_api_call = call
    try:
        yield totals
    finally:
        BaseClient._make_api_call = original
