"""Value semantics shared by filtering, sorting, projection and analytics.

Values are one of four kinds: numbers (``int``/``float``, any ``numbers.Real`` except ``bool``),
strings, booleans and *missing* (``None``; a float NaN is treated as missing everywhere, so a NaN
metric never satisfies a comparison and sorts last).
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

# Kind ranks double as the type order used by sorting: numbers, then strings, then booleans.
NUM, STR, BOOL, MISSING = 0, 1, 2, 3

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def kind_of(value: object) -> int:
    """The kind of a stored value (``MISSING`` for ``None`` and NaN)."""
    cls = value.__class__
    if cls is str:
        return STR
    if cls is bool:
        return BOOL
    if cls is int:
        return NUM
    if cls is float:
        return MISSING if value != value else NUM  # NaN is the only float unequal to itself
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, numbers.Real):
        return MISSING if math.isnan(value) else NUM
    if isinstance(value, str):
        return STR
    # Lists, dicts and other shapes are present but never compare equal/ordered to a literal.
    return -1


def clean(value: object) -> object:
    """``None`` for NaN, the value otherwise (used where values leave the engine)."""
    if value.__class__ is float and value != value:
        return None
    return value


# ---------------------------------------------------------------------------------------------
# Timestamps: epoch milliseconds everywhere inside the engine.


def parse_iso_timestamp(text: str) -> int | float:
    """Epoch milliseconds for an ISO-8601 date or date-time; naive values are UTC.

    Raises ``ValueError`` for anything ``datetime.fromisoformat`` rejects.
    """
    parsed = datetime.fromisoformat(text.strip())
    return datetime_to_epoch_ms(parsed)


def datetime_to_epoch_ms(moment: datetime | date) -> int | float:
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # Integer microseconds first so whole milliseconds stay exact ints.
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    return micros // 1000 if micros % 1000 == 0 else micros / 1000


def to_epoch_ms(value: object) -> object:
    """Normalise a stored timestamp (epoch ms number, ``datetime``/``date`` or ISO string) to
    epoch milliseconds; ``None`` when absent or unreadable."""
    cls = value.__class__
    if cls is int or cls is float:
        return None if value != value else value
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (datetime, date)):
        return datetime_to_epoch_ms(value)
    if isinstance(value, str):
        try:
            return parse_iso_timestamp(value)
        except ValueError:
            return None
    if isinstance(value, numbers.Real):
        return None if math.isnan(value) else value
    return None


# ---------------------------------------------------------------------------------------------
# LIKE patterns.


def like_matcher(pattern: str, *, case_insensitive: bool) -> Callable[[str], bool]:
    """A predicate ``text -> bool`` for a SQL LIKE pattern.

    ``%`` matches any run of characters, ``_`` exactly one, ``\\%``, ``\\_`` and ``\\\\`` match the
    character itself; the whole text must match.

    Hand-written rather than a single ``re`` pattern (``.*`` per ``%``) because backtracking
    makes ``%a%a%a%b`` cost O(n^k) on long values, a cheap denial of service. Here the pattern
    is cut at each ``%`` into fixed-length segments; the first is anchored at the start, the last
    at the end, and each middle one is taken at its leftmost match. Leftmost is optimal: any
    match further right leaves no more room for the segments after it. The cost is at most
    O(len(text) * len(pattern)), with each step a C-level ``re`` search.
    """
    segments: list[list[str]] = [[]]  # each segment: list of regex pieces, one per character
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "%_\\":
            segments[-1].append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "%":
            segments.append([])
        elif ch == "_":
            segments[-1].append(".")
        else:
            segments[-1].append(re.escape(ch))
        i += 1

    flags = re.DOTALL | (re.IGNORECASE if case_insensitive else 0)
    compiled = [(re.compile("".join(pieces), flags), len(pieces)) for pieces in segments]

    if len(compiled) == 1:
        whole = compiled[0][0]
        return lambda text: whole.fullmatch(text) is not None

    (head, head_len), (tail, tail_len) = compiled[0], compiled[-1]
    middles = [(regex, size) for regex, size in compiled[1:-1] if size]

    def match(text: str) -> bool:
        tail_start = len(text) - tail_len
        if tail_start < head_len:
            return False
        if head_len and head.match(text) is None:
            return False
        if tail_len and tail.match(text, tail_start) is None:
            return False
        position = head_len
        for regex, _size in middles:
            found = regex.search(text, position, tail_start)
            if found is None:
                return False
            position = found.end()
        return True

    return match
