"""Sorting runs by several keys.

Order within one key:

- numbers, then strings, then booleans (``false`` before ``true``), then missing values.
  This type order is fixed; ``DESC`` reverses the order of values *within* each type only, so
  missing values (absent field, unknown metric, NaN) are always last and numbers always come
  before strings, whatever the direction;
- strings compare by Unicode code point (case-sensitive); timestamps as epoch milliseconds;
- a multi-valued field (``trial``) sorts by its smallest value.

After all keys, runs are ordered by ``run_id`` ascending, so the order is total and pagination
never skips or repeats a run.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import FilterSyntaxError, FilterValidationError
from .fields import Field
from .lexer import T
from .parser import MAX_ORDER_KEYS, Parser
from .values import BOOL, MISSING, NUM, STR, kind_of

if TYPE_CHECKING:
    from .run_view import RunLike

SortTuple = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class SortKey:
    field: Field
    descending: bool = False

    def render(self) -> str:
        return f"{self.field.render()} {'DESC' if self.descending else 'ASC'}"

    def __str__(self) -> str:
        return self.render()


def parse_order_by(text: str | Sequence[str] | None) -> list[SortKey]:
    """``"metrics.val_acc.max DESC, params.lr, name ASC"`` -> sort keys (ASC by default).

    A sequence of strings is read as one key per item. ``None`` or empty -> ``[]`` (order by
    ``run_id`` only).
    """
    if text is None:
        return []
    if not isinstance(text, str):
        keys: list[SortKey] = []
        for index, item in enumerate(text):
            keys.extend(parse_order_by(item))
            if len(keys) > MAX_ORDER_KEYS:  # the same limit as the text form, whatever the form
                error = FilterValidationError(f"at most {MAX_ORDER_KEYS} sort keys are allowed", position=0,
                                              expected=f"at most {MAX_ORDER_KEYS} sort keys")
                error.item = index  # type: ignore[attr-defined]  # which list entry went past it
                raise error
        return keys
    parser = Parser(text)

    def sort_key() -> SortKey:
        target = parser.parse_field()
        descending = False
        if parser.at_keyword("asc", "desc"):
            descending = parser.advance().text.lower() == "desc"
        elif parser.current.kind not in (T.COMMA, T.EOF):
            raise FilterSyntaxError(
                position=parser.current.start,
                expected="ASC, DESC, ',' or end of input",
                found=parser.current.describe(),
            )
        return SortKey(target, descending)

    return parser.parse_list(sort_key, MAX_ORDER_KEYS, "sort keys")


def as_order(order_by: str | Sequence[str] | Sequence[SortKey] | None) -> list[SortKey]:
    """Sort keys from text, a list of texts, or already-parsed ``SortKey``s."""
    if order_by is not None and not isinstance(order_by, str) and all(isinstance(k, SortKey) for k in order_by):
        return list(order_by)  # type: ignore[arg-type]
    return parse_order_by(order_by)  # type: ignore[arg-type]


def render_order_by(order: Sequence[SortKey]) -> str:
    return ", ".join(key.render() for key in order)


# ---------------------------------------------------------------------------------------------
# Sort values: the plain (JSON-able) value of a key for one run, and its comparable form.


def plain_value(value: object) -> object:
    """The value a run sorts by, reduced to ``None``/``int``/``float``/``str``/``bool``.

    This is what a cursor stores, so it must survive a JSON round trip.
    """
    if isinstance(value, tuple):  # multi-valued field: its smallest value
        present = [plain_value(v) for v in value]
        present = [v for v in present if v is not None]
        return min(present, key=lambda v: comparable(v, False)) if present else None
    kind = kind_of(value)
    if kind == MISSING:
        return None
    if kind == NUM and value.__class__ not in (int, float):
        return int(value) if isinstance(value, numbers.Integral) else float(value)  # e.g. Decimal
    if kind == -1:
        return str(value)
    return value


def comparable(value: object, descending: bool) -> tuple[int, Any]:
    """``(type rank, value)``, with the value inverted for DESC so that one ascending
    comparison of tuples gives the documented order."""
    kind = kind_of(value)
    if kind == NUM:
        return (NUM, -value if descending else value)  # type: ignore[operator]
    if kind == STR:
        return (STR, _invert_string(value) if descending else value)  # type: ignore[arg-type]
    if kind == BOOL:
        return (BOOL, -int(value) if descending else int(value))  # type: ignore[call-overload]
    return (MISSING, 0)


def _invert_string(text: str) -> tuple[int, ...]:
    """A key that orders strings in reverse code-point order.

    Negated code points reverse character comparisons; the trailing 1 (greater than every
    negated code point, which are <= 0) makes a string sort before its own prefixes,
    as reverse order requires ("abc" before "ab").
    """
    return (*(-ord(ch) for ch in text), 1)


def sort_values(order: Sequence[SortKey]) -> Callable[[RunLike], list[object]]:
    """``run -> [plain value per key]``."""
    getters = [key.field.getter() for key in order]
    return lambda run: [plain_value(get(run)) for get in getters]


def key_from_values(order: Sequence[SortKey], values: Sequence[object], run_id: str) -> SortTuple:
    return (*(comparable(value, key.descending) for key, value in zip(order, values, strict=True)), run_id)


_MISSING_COMPONENT = (MISSING, 0)


def _component(value: object, descending: bool) -> tuple[int, Any]:
    """``comparable(plain_value(value), descending)`` with the common types inlined: this runs
    once per run and key when sorting, so it is the hot path of a search."""
    cls = value.__class__
    if cls is float:
        if value != value:
            return _MISSING_COMPONENT
        return (NUM, -value if descending else value)  # type: ignore[operator]
    if cls is int:
        return (NUM, -value if descending else value)  # type: ignore[operator]
    if cls is str:
        return (STR, _invert_string(value) if descending else value)  # type: ignore[arg-type]
    if value is None:
        return _MISSING_COMPONENT
    return comparable(plain_value(value), descending)


def sort_key(order: Sequence[SortKey]) -> Callable[[RunLike], SortTuple]:
    """A ``key=`` function for ``sorted``: the documented order, ties broken by ``run_id``."""
    parts = [(key.field.getter(), key.descending) for key in order]
    if len(parts) == 1:
        (get, descending), = parts
        return lambda run: (_component(get(run), descending), run.run_id)
    return lambda run: (*[_component(get(run), descending) for get, descending in parts], run.run_id)


def sort_runs(runs: Iterable[RunLike], order: Sequence[SortKey]) -> list[RunLike]:
    return sorted(runs, key=sort_key(order))

