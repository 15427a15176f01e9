"""Column projection: which values of a run a response carries.

Each column's key is the column text exactly as the caller wrote it (surrounding spaces
trimmed), so a client finds ``row["params.lr"]`` under the name it asked for. Values leave the
engine JSON-ready: NaN becomes ``None``, timestamps are epoch milliseconds, ``trial`` is a list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import QueryError
from .fields import Field
from .parser import MAX_COLUMNS, Parser
from .values import clean

if TYPE_CHECKING:
    from .run_view import RunLike


@dataclass(frozen=True, slots=True)
class Column:
    field: Field
    key: str  # the output key: the column as written

    @classmethod
    def of(cls, target: Field) -> Column:
        """A column keyed by the field's canonical spelling."""
        return cls(target, target.render())


def parse_columns(text: str | Sequence[str] | None) -> list[Column]:
    """``"name, params.lr, metrics.val_acc.max"`` -> columns; a sequence holds one column per
    item. Duplicate keys keep their first occurrence."""
    if text is None:
        return []
    if isinstance(text, str):
        columns = _parse_column_list(text)
    else:
        columns = []
        for index, item in enumerate(text):
            try:
                columns.extend(_parse_column_list(item))
            except QueryError as error:
                error.item = index  # type: ignore[attr-defined]  # which list entry was wrong
                raise
    if len(columns) > MAX_COLUMNS:
        raise QueryError(f"at most {MAX_COLUMNS} columns are allowed", position=0, expected=f"at most {MAX_COLUMNS} columns")
    unique: dict[str, Column] = {}
    for column in columns:
        unique.setdefault(column.key, column)
    return list(unique.values())


def as_columns(columns: str | Sequence[str] | Sequence[Column] | None) -> list[Column]:
    """Columns from text, a list of texts, or already-parsed ``Column``s."""
    if columns is not None and not isinstance(columns, str) and all(isinstance(c, Column) for c in columns):
        return list(columns)  # type: ignore[arg-type]
    return parse_columns(columns)  # type: ignore[arg-type]


def _parse_column_list(text: str) -> list[Column]:
    parser = Parser(text)

    def column() -> Column:
        start = parser.current.start
        target = parser.parse_field()
        return Column(target, text[start : parser.previous_end()])

    return parser.parse_list(column, MAX_COLUMNS, "columns")


def project(run: RunLike, columns: Sequence[Column]) -> dict[str, object]:
    """``{column.key: value}`` in column order; missing values are ``None``."""
    return {column.key: json_value(column.field.getter()(run)) for column in columns}


def projector(columns: Sequence[Column]) -> Callable[[RunLike], dict[str, object]]:
    """``project`` with the getters built once, for many runs."""
    readers = [(column.key, column.field.getter()) for column in columns]
    return lambda run: {key: json_value(get(run)) for key, get in readers}


def json_value(value: object) -> object:
    if isinstance(value, tuple):
        return [json_value(v) for v in value]
    return clean(value)
