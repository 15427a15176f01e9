"""Run ids: ULIDs (https://github.com/ulid/spec).

A ULID is 48 bits of epoch milliseconds then 80 random bits, in Crockford base32 (26 characters).
Ids therefore sort by creation time, so listing an experiment's runs by id lists them oldest first.
Hand-written because it is 10 lines and no ULID package is in the runtime dependencies.
"""
from __future__ import annotations

import os
import re
import time
import uuid

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID_PATTERN = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def new_ulid(now_ms: int | None = None, randomness: bytes | None = None) -> str:
    """`now_ms` and `randomness` (10 bytes) are for tests; by default the clock and os.urandom."""
    timestamp = int(time.time() * 1000) if now_ms is None else now_ms
    if not 0 <= timestamp < 2**48:
        raise ValueError("timestamp out of the ULID range")
    entropy = os.urandom(10) if randomness is None else randomness
    if len(entropy) != 10:
        raise ValueError("ULID randomness is 10 bytes")
    value = (timestamp << 80) | int.from_bytes(entropy, "big")
    return "".join(_ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))


def ulid_timestamp_ms(ulid: str) -> int:
    value = 0
    for char in ulid:
        value = (value << 5) | _ALPHABET.index(char)
    return value >> 80


_SAGEMAKER_NAMESPACE = uuid.UUID("6f1c3a52-7d0b-4c41-9f34-4a1a7c1e2b10")


def sagemaker_run_id(training_job_name: str) -> str:
    """The run of a SageMaker training job: the same id from logs, metric streams and events."""
    return str(uuid.uuid5(_SAGEMAKER_NAMESPACE, f"training-job/{training_job_name}"))
