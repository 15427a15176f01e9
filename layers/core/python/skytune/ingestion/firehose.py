"""The Amazon Data Firehose data-transformation contract, both directions.

Firehose invokes the transformation function with::

    {"invocationId": "...", "deliveryStreamArn": "arn:aws:firehose:...", "region": "...",
     "records": [{"recordId": "...", "approximateArrivalTimestamp": 1700000000000, "data": "<base64>"}]}

and requires every ``recordId`` back, once, with a result:
``{"records": [{"recordId": "...", "result": "Ok" | "Dropped" | "ProcessingFailed", "data": "<base64>"}]}``.
A record missing from the response, or an unknown result, makes Firehose fail the whole
batch, so :func:`firehose_transformation_response` checks the ids when told them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .errors import MalformedPayload

OK = "Ok"
DROPPED = "Dropped"
PROCESSING_FAILED = "ProcessingFailed"
RESULTS = (OK, DROPPED, PROCESSING_FAILED)

Result = Literal["Ok", "Dropped", "ProcessingFailed"]


@dataclass(frozen=True)
class FirehoseRecord:
    record_id: str
    data_base64: str
    approximate_arrival_ms: int | None

    def data(self) -> bytes:
        """The record's bytes; :class:`MalformedPayload` if they are not valid base64."""
        try:
            return base64.b64decode(self.data_base64, validate=True)
        except (binascii.Error, ValueError) as error:
            raise MalformedPayload(f"record {self.record_id} data is not valid base64: {error}") from None


@dataclass(frozen=True)
class RecordResult:
    record_id: str
    result: Result
    data: bytes = b""  # required content for Ok; for the others Firehose ignores or archives it


def firehose_records(event: Mapping[str, Any]) -> list[FirehoseRecord]:
    """The records of a transformation event (their data is decoded lazily, one by one,
    so a single corrupt record can be answered ``ProcessingFailed`` on its own)."""
    records = event.get("records") if isinstance(event, Mapping) else None
    if not isinstance(records, list):
        raise MalformedPayload("Firehose event has no records list")
    parsed = []
    for index, record in enumerate(records):
        if not isinstance(record, Mapping) or not isinstance(record.get("recordId"), str):
            raise MalformedPayload(f"records[{index}] has no recordId")
        data = record.get("data")
        arrival = record.get("approximateArrivalTimestamp")
        parsed.append(
            FirehoseRecord(
                record_id=record["recordId"],
                data_base64=data if isinstance(data, str) else "",
                approximate_arrival_ms=int(arrival) if isinstance(arrival, (int, float)) else None,
            )
        )
    return parsed


def firehose_transformation_response(
    results: Iterable[RecordResult], *, expected_record_ids: Iterable[str] | None = None
) -> dict[str, list[dict[str, str]]]:
    """The response Firehose expects; ``expected_record_ids`` (the event's ids, in order)
    turns a missing, extra or duplicated answer into a ``ValueError`` before Firehose sees it."""
    answered = list(results)
    for answer in answered:
        if answer.result not in RESULTS:
            raise ValueError(f"record {answer.record_id}: result must be one of {RESULTS}, not {answer.result!r}")
    if expected_record_ids is not None:
        expected = list(expected_record_ids)
        got = [answer.record_id for answer in answered]
        if sorted(got) != sorted(expected) or len(set(got)) != len(got):
            missing = sorted(set(expected) - set(got))
            extra = sorted(set(got) - set(expected))
            raise ValueError(f"every record must be answered exactly once (missing {missing}, unexpected {extra})")
    return {
        "records": [
            {
                "recordId": answer.record_id,
                "result": answer.result,
                "data": base64.b64encode(answer.data).decode("ascii"),
            }
            for answer in answered
        ]
    }
