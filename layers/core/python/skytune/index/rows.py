"""Pages shown with every column, read from the index: one row item per run holding the run's
record exactly as the tracking tables give it (`DynamoRepository.run_records`: attributes, params,
tags, trials and the metric summaries in their stored form).

Why: a first page of 100 runs shown in full read each run from the tables, a BatchGetItem of run
items plus one summary Query per run (a run's summaries are one item per metric, and which metrics a
run has is not known without the Query): 120 of the page's 125 requests and ~0.24 s of its ~0.25 s
at 10,000 runs (BENCHMARKS.md, round 5). From the row items the page is one BatchGetItem. The
columns cannot serve it: a page's 100 runs are spread over every bucket, whose groups decode at
~2,300 RCU for 10,000 runs.

The row is written by the writers of the chunks (a fold, for the runs it re-read; a rebuild, for
all), from the very records they index, so it is as fresh as the rest of the index (docs/tracking.md:
bounded staleness). The downstream code is unchanged: a record read here goes through the same
`run_view` as one read from the tables, and a row is stored only when it decodes back to a record
equal to the one given (so whatever JSON cannot carry exactly, e.g. bytes, is read from the tables).
A missing, oversized or undecodable row sends that run to the tables: never a wrong row.
"""
from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

#: Past this (compressed) a run's row is not stored and the run is read from the tables: a row is
#: one item, read at 0.5 RCU per 4 KB; DynamoDB's item limit (400 KB) is far above it.
ROW_BYTES_MAX = 64 * 1024
_DATETIMES = ("created_at", "start_time", "end_time")


def encode(record: Mapping[str, Any]) -> bytes | None:
    """The stored row of a run record, or None when it would not give back an equal record (or is
    larger than ROW_BYTES_MAX)."""
    document = dict(record)
    for name in _DATETIMES:
        value = document.get(name)
        if value is not None:
            if not isinstance(value, datetime):
                return None
            document[name] = value.isoformat()
    try:
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=True, sort_keys=True)
    except (TypeError, ValueError):
        return None
    blob = zlib.compress(text.encode(), 6)
    if len(blob) > ROW_BYTES_MAX or not _identical(decode(blob), dict(record)):
        return None
    return blob


def decode(blob: bytes) -> dict[str, Any] | None:
    """The record of a stored row; None when it does not decode."""
    try:
        document = json.loads(zlib.decompress(blob))
        for name in _DATETIMES:
            if document.get(name) is not None:
                document[name] = datetime.fromisoformat(document[name])
    except (zlib.error, ValueError, TypeError, AttributeError):
        return None
    return document if isinstance(document, dict) else None


def _identical(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 == 1.0 == True in Python; a row must give
    back exactly what the tables would), with NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_identical(a[key], b[key]) for key in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a != a:
        return b != b
    if isinstance(a, float):
        return a == b and str(a) == str(b)  # -0.0 is not 0.0
    return a == b
