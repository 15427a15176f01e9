"""One call that runs a whole search over candidate runs: filter, sort, page, project.

The storage layer supplies the candidates (``RunView``s holding what ``referenced`` asked for);
this module owns no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .expr import Expr
from .fields import Attribute
from .ordering import SortKey, as_order
from .pagination import page
from .parser import parse_filter
from .projection import Column, as_columns, projector
from .run_view import RunLike


@dataclass(frozen=True, slots=True)
class SearchResult:
    rows: list[dict[str, object]]  # projected rows; just {"run_id": ...} when no columns given
    runs: list[RunLike]  # the runs on this page, in order
    next_cursor: str | None  # None on the last page


def search_runs(
    runs: Iterable[RunLike],
    *,
    filter: str | Expr | None = None,  # noqa: A002 - the API's parameter name
    order_by: str | Sequence[str] | Sequence[SortKey] | None = None,
    columns: str | Sequence[str] | Sequence[Column] | None = None,
    cursor: str | None = None,
    limit: int = 100,
    context: str = "",
) -> SearchResult:
    """Filter ``runs``, then return the page after ``cursor`` in ``order_by`` order.

    ``context`` should identify whatever else defines the result set (e.g. the experiment ids);
    the canonical filter is added to it, so a cursor only works for the query that made it.
    """
    expr = filter if isinstance(filter, Expr) else parse_filter(filter)
    order = as_order(order_by)
    shown = as_columns(columns) or [Column(Attribute("run_id"), "run_id")]
    matches = expr.compile()
    result = page(
        (run for run in runs if matches(run)), order, cursor, limit, context=f"{expr.render()}\x00{context}"
    )
    project = projector(shown)
    return SearchResult([project(run) for run in result.items], result.items, result.next_cursor)
