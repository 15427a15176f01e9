"""The run-search query language: filters, sort keys, cursors, columns and analytics.

Pure Python, no I/O. The storage layer asks ``referenced(...)`` what to fetch, builds one
``RunView`` per candidate run, and lets this package filter, order, page and project them.
The user-facing reference is docs/search.md.

    expr = parse_filter("params.lr < 0.01 AND metrics.val_loss.at(10) < 0.3")
    order = parse_order_by("metrics.val_acc.max DESC, name")
    needs = referenced(expr, order)
    result = search_runs(candidate_runs, filter=expr, order_by=order, limit=100)
"""

from .analytics import (
    AGGREGATE_FUNCTIONS,
    DEFAULT_METRIC_STATS,
    Aggregate,
    columns_of,
    group_by,
    parse_aggregates,
    runs_table,
    table_columns,
    to_csv,
)
from .errors import CursorError, FilterSyntaxError, FilterValidationError, QueryError
from .expr import And, Compare, Expr, InList, IsNull, Like, MatchAll, Not, Or
from .fields import (
    ATTRIBUTES,
    RUN_STATUSES,
    SUMMARY_STATS,
    TIMESTAMP_ATTRIBUTES,
    WINDOW_STATS,
    Attribute,
    Field,
    MetricAt,
    MetricStat,
    MetricWindow,
    Param,
    Tag,
)
from .ordering import SortKey, as_order, parse_order_by, render_order_by, sort_key, sort_runs
from .pagination import Page, decode_cursor, encode_cursor, page
from .parser import parse_field, parse_filter
from .projection import Column, as_columns, parse_columns, project, projector
from .references import References, SeriesRead, referenced
from .run_view import RunLike, RunView
from .search import SearchResult, search_runs

__all__ = [
    "AGGREGATE_FUNCTIONS",
    "ATTRIBUTES",
    "DEFAULT_METRIC_STATS",
    "RUN_STATUSES",
    "SUMMARY_STATS",
    "TIMESTAMP_ATTRIBUTES",
    "WINDOW_STATS",
    "Aggregate",
    "And",
    "Attribute",
    "Column",
    "Compare",
    "CursorError",
    "Expr",
    "Field",
    "FilterSyntaxError",
    "FilterValidationError",
    "InList",
    "IsNull",
    "Like",
    "MatchAll",
    "MetricAt",
    "MetricStat",
    "MetricWindow",
    "Not",
    "Or",
    "Page",
    "Param",
    "QueryError",
    "References",
    "RunLike",
    "RunView",
    "SearchResult",
    "SeriesRead",
    "SortKey",
    "Tag",
    "as_columns",
    "as_order",
    "decode_cursor",
    "encode_cursor",
    "group_by",
    "page",
    "parse_aggregates",
    "parse_columns",
    "parse_field",
    "parse_filter",
    "parse_order_by",
    "project",
    "projector",
    "referenced",
    "render_order_by",
    "runs_table",
    "search_runs",
    "sort_key",
    "sort_runs",
    "table_columns",
    "columns_of",
    "to_csv",
]
