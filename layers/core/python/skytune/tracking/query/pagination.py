"""Keyset (cursor) pagination over sorted runs.

A cursor holds the sort values and ``run_id`` of the last row of a page; the next page is the
rows that sort strictly after it. Because the position is a value, not an offset, rows inserted
or deleted between requests never make an existing row appear twice or be skipped: a new row
that sorts before the cursor is simply not on later pages, one that sorts after it is.

The cursor is opaque to clients: base64url (no padding) of compact JSON
``{"v": [sort values], "id": run_id, "o": fingerprint}``. The fingerprint hashes the order and a
caller-supplied context (e.g. the canonical filter and experiment ids), so a cursor replayed
against a different query is rejected instead of returning a wrong page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from .errors import CursorError
from .ordering import SortKey, SortTuple, key_from_values, render_order_by, sort_key, sort_values

if TYPE_CHECKING:
    from .run_view import RunLike

Row = TypeVar("Row", bound="RunLike")

MAX_PAGE_SIZE = 1_000
MAX_CURSOR_LENGTH = 8_192


@dataclass(frozen=True, slots=True)
class Page(Generic[Row]):
    items: list[Row]
    next_cursor: str | None  # None on the last page


def fingerprint(order: Sequence[SortKey], context: str = "") -> str:
    digest = hashlib.sha256(f"{render_order_by(order)}\x00{context}".encode()).hexdigest()
    return digest[:16]


def encode_cursor(order: Sequence[SortKey], values: Sequence[object], run_id: str, context: str = "") -> str:
    payload = {"v": list(values), "id": run_id, "o": fingerprint(order, context)}
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, order: Sequence[SortKey], context: str = "") -> SortTuple:
    """The sort tuple of the row the cursor points after. Raises ``CursorError``."""
    if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise CursorError("the cursor is empty or too long", position=0, expected="a cursor from a previous page")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise CursorError("the cursor is malformed", position=0, expected="a cursor from a previous page") from None
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("v"), list)
        or not isinstance(payload.get("id"), str)
        or len(payload["v"]) != len(order)
        or not all(v is None or isinstance(v, (int, float, str, bool)) for v in payload["v"])
    ):
        raise CursorError("the cursor is malformed", position=0, expected="a cursor from a previous page")
    if payload.get("o") != fingerprint(order, context):
        raise CursorError(
            "the cursor belongs to a different query (order, filter or experiments changed)",
            position=0,
            expected="a cursor from a previous page of the same query",
        )
    return key_from_values(order, payload["v"], payload["id"])


def page(
    rows: Iterable[Row],
    order: Sequence[SortKey],
    cursor: str | None = None,
    limit: int = 100,
    *,
    context: str = "",
) -> Page[Row]:
    """The ``limit`` rows that sort first after ``cursor`` (from the start when ``None``).

    ``rows`` may arrive in any order; cost is O(n log limit). ``next_cursor`` is set when more
    rows follow.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    after = decode_cursor(cursor, order, context) if cursor else None
    key_of = sort_key(order)

    def keyed() -> Iterable[tuple[SortTuple, int, Row]]:
        for index, row in enumerate(rows):
            key = key_of(row)
            if after is None or key > after:
                yield key, index, row  # index keeps heap comparisons off the rows

    head = heapq.nsmallest(limit + 1, keyed(), key=lambda entry: (entry[0], entry[1]))
    items = [row for _key, _index, row in head[:limit]]
    next_cursor = None
    if len(head) > limit:
        last = items[-1]
        next_cursor = encode_cursor(order, sort_values(order)(last), last.run_id, context)
    return Page(items, next_cursor)
