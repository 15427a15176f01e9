"""The experiment index's chunk format: the searchable fields of many runs, column by column.

A chunk is zlib-compressed JSON of dense columns (one list per field, one slot per run, `null`
where a run lacks the field):

    {"f": 1, "ids": [run_id, ...], "a": {"name": [...], "status": [...], "trial": [[...], ...],
     "created": [epoch ms], "started": [...], "ended": [...], "source": [...], "parent": [...]},
     "p": {param: [value, ...]}, "t": {tag: [value, ...]}, "m": {metric: {stat: [value, ...]}}}

Why JSON and not DynamoDB maps or Parquet: JSON keeps exactly the value types the query language
distinguishes (int, float incl. NaN/inf, str, bool) through a round trip, zlib is in the standard
library, and columns of similar values compress 10-20x (benchmarks/search: ~60 bytes a run), so
10,000 runs are a few hundred KB. Decoding is `json.loads` of one string per chunk.

Runs are read back as `IndexedRun`s: the query engine's `RunLike`, whose mappings read the columns
in place (a run costs one small object, not a dict per field), so the existing evaluator, sort and
projection run unchanged on them: the indexed path gives the same answers by construction.
"""
from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from skytune.tracking.query.values import datetime_to_epoch_ms

FORMAT = 1
_ATTRIBUTES = ("name", "experiment", "status", "trial", "created", "started", "ended", "source", "parent")
_RECORD_TIMES = {"created": "created_at", "started": "start_time", "ended": "end_time"}


class ChunkCorrupt(Exception):
    """A chunk that does not decode (bad checksum, zlib or JSON error, ragged columns)."""


def _ms(value: Any) -> Any:
    if value is None or isinstance(value, (int, float)):
        return value
    return datetime_to_epoch_ms(value)


def index_row(record: Mapping[str, Any], summaries: Callable[[Any], dict]) -> dict[str, Any]:
    """One run's searchable fields from a run record (`DynamoRepository.iter_run_records`'s
    shape); `summaries` turns the stored summary of one metric into its public statistics."""
    attributes = {
        "name": record["name"], "experiment": record["experiment"], "status": record["status"],
        "trial": list(record.get("trials") or []) or None, "source": record.get("source"),
        "parent": record.get("parent"),
    }
    for name, key in _RECORD_TIMES.items():
        attributes[name] = _ms(record.get(key))
    return {
        "id": record["run_id"], "a": attributes, "p": dict(record.get("params") or {}),
        "t": dict(record.get("tags") or {}),
        "m": {metric: summaries(stored) for metric, stored in (record.get("metric_summaries") or {}).items()},
    }


def encode(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """Rows (from `index_row`) -> compressed chunk bytes. Rows are stored in run_id order."""
    rows = sorted(rows, key=lambda row: row["id"])
    n = len(rows)
    attributes: dict[str, list] = {name: [row["a"].get(name) for row in rows] for name in _ATTRIBUTES}
    params: dict[str, list] = {}
    tags: dict[str, list] = {}
    metrics: dict[str, dict[str, list]] = {}
    for i, row in enumerate(rows):
        for name, value in row["p"].items():
            params.setdefault(name, [None] * n)[i] = value
        for name, value in row["t"].items():
            tags.setdefault(name, [None] * n)[i] = value
        for metric, summary in row["m"].items():
            columns = metrics.setdefault(metric, {"_": [0] * n})
            columns["_"][i] = 1  # presence: a summary may hold only nulls
            for stat, value in summary.items():
                columns.setdefault(stat, [None] * n)[i] = value
    document = {"f": FORMAT, "ids": [row["id"] for row in rows], "a": attributes, "p": params, "t": tags, "m": metrics}
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
    return zlib.compress(text.encode(), 6)


def checksum(blob: bytes) -> int:
    return zlib.crc32(blob)


class Chunk:
    """A decoded chunk: its columns and one `IndexedRun` per run."""

    __slots__ = ("ids", "attributes", "params", "tags", "metrics", "runs", "series_source")

    def __init__(self, document: dict[str, Any]) -> None:
        self.ids: list[str] = document["ids"]
        self.attributes: dict[str, list] = document["a"]
        self.params: dict[str, list] = document["p"]
        self.tags: dict[str, list] = document["t"]
        self.metrics: dict[str, dict[str, list]] = document["m"]
        self.series_source: Callable[[str, str], Sequence[tuple[int, float]]] | None = None
        self.runs = [IndexedRun(self, row) for row in range(len(self.ids))]

    def rows(self) -> dict[str, dict[str, Any]]:
        """run_id -> the row `index_row` made (to re-encode a chunk after changes)."""
        rows = {}
        for i, run_id in enumerate(self.ids):
            metrics = {}
            for metric, columns in self.metrics.items():
                if columns["_"][i]:
                    metrics[metric] = {stat: values[i] for stat, values in columns.items() if stat != "_"}
            rows[run_id] = {
                "id": run_id, "a": {name: values[i] for name, values in self.attributes.items()},
                "p": {name: values[i] for name, values in self.params.items() if values[i] is not None},
                "t": {name: values[i] for name, values in self.tags.items() if values[i] is not None},
                "m": metrics,
            }
        return rows


def decode(blob: bytes, crc: int | None = None) -> Chunk:
    if crc is not None and checksum(blob) != crc:
        raise ChunkCorrupt("checksum mismatch")
    try:
        document = json.loads(zlib.decompress(blob))
        n = len(document["ids"])
        columns = [*document["a"].values(), *document["p"].values(), *document["t"].values(),
                   *(values for metric in document["m"].values() for values in metric.values())]
        if document.get("f") != FORMAT or any(len(values) != n for values in columns):
            raise ChunkCorrupt("ragged columns or unknown format")
        return Chunk(document)
    except (zlib.error, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ChunkCorrupt(f"undecodable chunk: {error}") from None


class _Columns(Mapping):
    """name -> value of one run, read from dense columns (absent where the slot is null)."""

    __slots__ = ("_columns", "_row")

    def __init__(self, columns: dict[str, list], row: int) -> None:
        self._columns = columns
        self._row = row

    def get(self, name, default=None):
        column = self._columns.get(name)
        if column is None:
            return default
        value = column[self._row]
        return default if value is None else value

    def __getitem__(self, name):
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name) -> bool:
        return self.get(name) is not None

    def __iter__(self) -> Iterator[str]:
        row = self._row
        return (name for name, column in self._columns.items() if column[row] is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Summary(Mapping):
    __slots__ = ("_columns", "_row")

    def __init__(self, columns: dict[str, list], row: int) -> None:
        self._columns = columns
        self._row = row

    def get(self, stat, default=None):
        column = self._columns.get(stat) if stat != "_" else None
        return default if column is None else column[self._row]

    def __getitem__(self, stat):
        if stat == "_" or stat not in self._columns:
            raise KeyError(stat)
        return self._columns[stat][self._row]

    def __iter__(self) -> Iterator[str]:
        return (stat for stat in self._columns if stat != "_")

    def __len__(self) -> int:
        return len(self._columns) - 1


class _Metrics(Mapping):
    __slots__ = ("_metrics", "_row")

    def __init__(self, metrics: dict[str, dict[str, list]], row: int) -> None:
        self._metrics = metrics
        self._row = row

    def get(self, metric, default=None):
        columns = self._metrics.get(metric)
        if columns is None or not columns["_"][self._row]:
            return default
        return _Summary(columns, self._row)

    def __getitem__(self, metric):
        summary = self.get(metric)
        if summary is None:
            raise KeyError(metric)
        return summary

    def __contains__(self, metric) -> bool:
        columns = self._metrics.get(metric)
        return columns is not None and bool(columns["_"][self._row])

    def __iter__(self) -> Iterator[str]:
        row = self._row
        return (metric for metric, columns in self._metrics.items() if columns["_"][row])

    def __len__(self) -> int:
        return sum(1 for _ in self)


class IndexedRun:
    """One run of a chunk, as the query engine reads it (`tracking.query.RunLike`)."""

    __slots__ = ("run_id", "attributes", "params", "tags", "metrics", "_chunk", "_series")

    def __init__(self, chunk: Chunk, row: int) -> None:
        self._chunk = chunk
        self.run_id = chunk.ids[row]
        self.attributes = _Columns(chunk.attributes, row)
        self.params = _Columns(chunk.params, row)
        self.tags = _Columns(chunk.tags, row)
        self.metrics = _Metrics(chunk.metrics, row)
        self._series: dict[str, Sequence[tuple[int, float]]] | None = None

    def series(self, name: str) -> Sequence[tuple[int, float]]:
        """Read from the metric store on first use (only runs reaching a step/window predicate);
        kept for the life of this decoded chunk, i.e. until the run changes."""
        if self._series is None:
            self._series = {}
        points = self._series.get(name)
        if points is None:
            source = self._chunk.series_source
            points = [] if source is None or name not in self.metrics else list(source(self.run_id, name))
            self._series[name] = points
        return points
