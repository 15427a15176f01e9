"""Analytics over a set of runs: a flat table (JSON rows or CSV) and group-by with aggregates.

Group-by rules (docs/search.md, "Analytics"):

- runs are grouped by the tuple of their key values; a missing key value forms its own group
  (shown as ``null``); 1 and 1.0 are the same group, ``true`` and 1 are not; a multi-valued key
  (``trial``) puts the run in the group of each of its values;
- groups come out sorted by their key values with the sort rules of ``ordering`` (ascending,
  missing last);
- ``count()`` counts runs; ``count(f)`` counts runs where ``f`` is present; ``mean``, ``std``,
  ``median``, ``min``, ``max`` and ``sum`` use the numeric values of ``f`` only: missing, NaN,
  string and boolean values are skipped. With no numeric value the result is ``null``;
- ``std`` is the sample standard deviation, ``sqrt(sum((x - mean)^2) / (n - 1))``, and ``null``
  for n < 2.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .errors import FilterValidationError, QueryError
from .fields import ATTRIBUTES, SUMMARY_STATS, Attribute, Field, MetricStat, Param, Tag
from .lexer import T
from .ordering import comparable, plain_value
from .parser import Parser
from .projection import Column, as_columns, json_value, parse_columns, projector
from .run_view import RunLike
from .values import MISSING, NUM, kind_of

#: Metric statistics a table shows when the caller names no columns (SageMaker's analytics
#: frame shows the same set).
DEFAULT_METRIC_STATS: tuple[str, ...] = ("min", "max", "avg", "stddev", "last", "count")
MAX_GROUP_KEYS = 10
MAX_AGGREGATES = 50

# ---------------------------------------------------------------------------------------------
# Runs table.


def table_columns(runs: Iterable[RunLike], metric_stats: Sequence[str] = DEFAULT_METRIC_STATS) -> list[Column]:
    """Every column the runs have, in a stable order: attributes (fixed order), then params,
    metrics (by name, then ``metric_stats`` in that order) and tags, each sorted by name.
    Keys use the canonical spelling, which ``parse_columns`` reads back."""
    params: set[str] = set()
    metrics: set[str] = set()
    tags: set[str] = set()
    for run in runs:
        params.update(run.params)
        metrics.update(run.metrics)
        tags.update(run.tags)
    return columns_of(params, metrics, tags, metric_stats)


def columns_of(params: Iterable[str], metrics: Iterable[str], tags: Iterable[str],
               metric_stats: Sequence[str] = DEFAULT_METRIC_STATS) -> list[Column]:
    """The columns of `table_columns` from the param, metric and tag names alone (e.g. an
    experiment index's column groups), in the same order."""
    unknown = [stat for stat in metric_stats if stat not in SUMMARY_STATS]
    if unknown:
        raise ValueError(f"unknown metric statistics {unknown}; expected some of {SUMMARY_STATS}")
    fields: list[Field] = [Attribute(name) for name in ATTRIBUTES]
    fields += [Param(name) for name in sorted(params)]
    fields += [MetricStat(name, stat) for name in sorted(metrics) for stat in metric_stats]
    fields += [Tag(name) for name in sorted(tags)]
    return [Column.of(target) for target in fields]


def runs_table(
    runs: Iterable[RunLike],
    columns: str | Sequence[str] | Sequence[Column] | None = None,
    *,
    metric_stats: Sequence[str] = DEFAULT_METRIC_STATS,
) -> list[dict[str, object]]:
    """One dict per run (input order kept), with every column present (``None`` when missing).

    ``columns=None`` shows everything the runs have (``table_columns``); ``trial`` holds the
    list of trial names.
    """
    runs = list(runs)
    resolved = as_columns(columns) if columns is not None else table_columns(runs, metric_stats)
    project = projector(resolved)
    return [project(run) for run in runs]


def to_csv(
    rows: Sequence[dict[str, object]],
    columns: str | Sequence[str] | Sequence[Column] | None = None,
    *,
    guard_formulas: bool = True,
) -> str:
    """CSV text (RFC 4180: comma, double quotes, CRLF) with one header line.

    Column order is ``columns`` (keys or ``Column``s), else the keys of the first row. Cells:
    empty for null, ``true``/``false``, numbers in shortest round-trip form, lists joined with
    ``;``. With ``guard_formulas`` a string starting with ``= + - @`` or a tab/CR gets a leading
    ``'`` so spreadsheets do not run it as a formula (OWASP "CSV injection"); numbers are never
    altered.
    """
    if columns is None:
        keys = list(rows[0]) if rows else []
    elif isinstance(columns, str):
        keys = [column.key for column in parse_columns(columns)]
    else:
        keys = [c.key if isinstance(c, Column) else c for c in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(keys)
    for row in rows:
        writer.writerow([_csv_cell(row.get(key), guard_formulas) for key in keys])
    return buffer.getvalue()


def _csv_cell(value: object, guard_formulas: bool) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, (list, tuple)):
        return ";".join(_csv_cell(v, False) for v in value if v is not None)
    text = str(value)
    if guard_formulas and isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


# ---------------------------------------------------------------------------------------------
# SageMaker's column names and datetime cells (issue 12 §4): a table that reads like the frame of
# SageMaker's ``ExperimentAnalytics(...).dataframe()``.

#: Attribute -> SageMaker's column (a trial component's fields; ``Trials``/``Experiments`` as its
#: analytics frame names the parents).
SAGEMAKER_ATTRIBUTE_COLUMNS: dict[str, str] = {
    "run_id": "TrialComponentName",
    "name": "DisplayName",
    "source": "SourceArn",
    "trial": "Trials",
    "experiment": "Experiments",
    "status": "Status",
    "created": "CreationTime",
    "started": "StartTime",
    "ended": "EndTime",
    "parent": "Parent",
}
#: Summary statistic -> the suffix of SageMaker's ``<metric> - <Stat>`` columns.
SAGEMAKER_STATS: dict[str, str] = {
    "min": "Min", "max": "Max", "avg": "Avg", "stddev": "StdDev", "last": "Last", "count": "Count",
    "first": "First", "min_step": "MinStep", "max_step": "MaxStep", "last_step": "LastStep",
    "last_timestamp": "LastTimestamp",
}
TABLE_NAMINGS = ("skytune", "sagemaker")
TABLE_DATETIMES = ("epoch_ms", "iso8601")


def sagemaker_column_names(keys: Sequence[str]) -> list[str]:
    """Each column key as SageMaker's analytics frame names it: ``run_id`` -> ``TrialComponentName``,
    ``params.lr`` -> ``lr``, ``metrics.test:accuracy.max`` -> ``test:accuracy - Max``; keys with no
    SageMaker counterpart (tags, ``at``/``window`` values) and any name that would repeat an earlier
    one keep their own spelling."""
    from .parser import parse_field

    names: list[str] = []
    taken: set[str] = set()
    for key in keys:
        try:
            target = parse_field(key)
        except QueryError:
            target = None
        if isinstance(target, Attribute):
            name = SAGEMAKER_ATTRIBUTE_COLUMNS[target.name]
        elif isinstance(target, Param):
            name = target.name
        elif isinstance(target, MetricStat):
            name = f"{target.metric} - {SAGEMAKER_STATS[target.stat]}"
        else:
            name = key
        if name in taken:
            name = key
        taken.add(name)
        names.append(name)
    return names


def shape_table(rows: list[dict[str, object]], keys: Sequence[str], *, naming: str = "skytune",
                datetimes: str = "epoch_ms") -> tuple[list[dict[str, object]], list[str]]:
    """Rows and column names with the table options applied: ``naming="sagemaker"`` renames the
    columns (``sagemaker_column_names``); ``datetimes="iso8601"`` writes the timestamp columns
    (``created``, ``started``, ``ended``, ``metrics.<m>.last_timestamp``) as RFC 3339 UTC strings,
    which pandas reads as datetimes (``pd.to_datetime``, ``read_csv(parse_dates=...)``)."""
    from .parser import parse_field

    if naming not in TABLE_NAMINGS or datetimes not in TABLE_DATETIMES:
        raise ValueError(f"naming is one of {TABLE_NAMINGS}, datetimes one of {TABLE_DATETIMES}")
    names = sagemaker_column_names(keys) if naming == "sagemaker" else list(keys)
    timestamp_keys = set()
    if datetimes == "iso8601":
        for key in keys:
            try:
                if parse_field(key).value_type == "timestamp":
                    timestamp_keys.add(key)
            except QueryError:
                pass
    shaped = [{name: (_iso8601(row.get(key)) if key in timestamp_keys else row.get(key))
               for key, name in zip(keys, names)} for row in rows]
    return shaped, names


def _iso8601(epoch_ms: object) -> object:
    from datetime import datetime, timezone

    if not isinstance(epoch_ms, (int, float)) or isinstance(epoch_ms, bool):
        return epoch_ms
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------
# Group-by.

AGGREGATE_FUNCTIONS = ("count", "mean", "std", "median", "min", "max", "sum")


@dataclass(frozen=True, slots=True)
class Aggregate:
    function: str
    field: Field | None  # None only for count()
    key: str  # the aggregate as written, e.g. "mean(metrics.val_acc.max)"


def parse_aggregates(text: str | Sequence[str]) -> list[Aggregate]:
    """``"mean(metrics.acc.max), std(metrics.acc.max), count()"`` -> aggregates; a sequence
    holds one or more per item."""
    if not isinstance(text, str):
        return [aggregate for item in text for aggregate in parse_aggregates(item)]
    parser = Parser(text)

    def aggregate() -> Aggregate:
        token = parser.current
        if token.kind is not T.NAME:
            raise parser.fail(f"an aggregate ({', '.join(f + '(...)' for f in AGGREGATE_FUNCTIONS)})")
        function = token.text.lower()
        if function not in AGGREGATE_FUNCTIONS:
            raise FilterValidationError(
                f"unknown aggregate {token.text!r}",
                position=token.start,
                expected=f"one of {', '.join(AGGREGATE_FUNCTIONS)}",
            )
        parser.advance()
        parser.expect(T.LPAREN, "'('", after=repr(token.text))
        target = None
        if function == "count" and parser.current.kind is T.RPAREN:
            pass
        else:
            target = parser.parse_field(after="'('")
        parser.expect(T.RPAREN, "')'")
        return Aggregate(function, target, text[token.start : parser.previous_end()])

    return parser.parse_list(aggregate, MAX_AGGREGATES, "aggregates")


def group_by(
    runs: Iterable[RunLike],
    keys: str | Sequence[str] | Sequence[Column],
    aggregates: str | Sequence[str] | Sequence[Aggregate] = ("count()",),
) -> list[dict[str, object]]:
    """One dict per group: the key columns (as written) then the aggregates (as written)."""
    key_columns = as_columns(keys)
    if not key_columns:
        raise QueryError("group_by needs at least one key", position=0, expected="a field to group by")
    if len(key_columns) > MAX_GROUP_KEYS:
        raise QueryError(
            f"at most {MAX_GROUP_KEYS} group keys are allowed", position=0, expected=f"at most {MAX_GROUP_KEYS} keys"
        )
    if isinstance(aggregates, str) or not all(isinstance(a, Aggregate) for a in aggregates):
        specs = parse_aggregates(aggregates)  # type: ignore[arg-type]
    else:
        specs = list(aggregates)  # type: ignore[arg-type]

    key_getters = [column.field.getter() for column in key_columns]
    value_getters = [spec.field.getter() if spec.field else None for spec in specs]
    groups: dict[tuple[object, ...], tuple[tuple[object, ...], list[RunLike]]] = {}
    for run in runs:
        choices = [_group_values(get(run)) for get in key_getters]
        for combination in itertools.product(*choices):
            identity = tuple((kind_of(v), v) for v in combination)
            groups.setdefault(identity, (combination, []))[1].append(run)

    ordered = sorted(groups.values(), key=lambda group: tuple(comparable(v, False) for v in group[0]))
    rows: list[dict[str, object]] = []
    for key_values, members in ordered:
        row: dict[str, object] = {column.key: json_value(value) for column, value in zip(key_columns, key_values)}
        for spec, get in zip(specs, value_getters):
            if get is None:  # count(): runs in the group
                row[spec.key] = len(members)
            else:
                row[spec.key] = _AGGREGATORS[spec.function]([get(run) for run in members])
        rows.append(row)
    return rows


def _group_values(value: object) -> list[object]:
    """The groups one key value puts a run in (several for a multi-valued field)."""
    if isinstance(value, tuple):
        distinct = list(dict.fromkeys((kind_of(v), plain_value(v)) for v in value))
        return [v for _kind, v in distinct] or [None]
    return [plain_value(value)]


def _numbers(values: list[object]) -> list[float]:
    return [plain_value(v) for v in values if kind_of(v) == NUM]  # type: ignore[misc]


def _present(values: list[object]) -> list[object]:
    return [v for v in values if kind_of(v) != MISSING]


def _stdev(numbers: list[float]) -> float | None:
    return statistics.stdev(numbers) if len(numbers) >= 2 else None


def _or_none(reduce: Callable[[list[float]], object]) -> Callable[[list[object]], object]:
    def aggregate(values: list[object]) -> object:
        numbers = _numbers(values)
        return reduce(numbers) if numbers else None

    return aggregate


# statistics/math.fsum rather than naive sums: correctly rounded, stable for large groups.
_AGGREGATORS: dict[str, Callable[[list[object]], object]] = {
    "count": lambda values: len(_present(values)),
    "mean": _or_none(statistics.fmean),
    "std": _or_none(_stdev),
    "median": _or_none(statistics.median),
    "min": _or_none(min),
    "max": _or_none(max),
    "sum": _or_none(math.fsum),
}
assert set(_AGGREGATORS) == set(AGGREGATE_FUNCTIONS)
