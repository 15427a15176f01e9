"""The experiment index's chunk format: the searchable fields of many runs, column by column.

A chunk (the runs of one bucket of an experiment) is stored as column groups, each zlib-compressed
JSON of one dense column (one slot per run, `null` where a run lacks the field):

    "a":                 {"f": 2, "ids": [run_id, ...]}        (always read: the rows of the chunk)
    "at:<attribute>":    [value, ...]   name, experiment, status, trial, created, started, ended, source, parent
    "p:<param>":         [value, ...]
    "t:<tag>":           [value, ...]
    "m:<metric>":        [1 if the run has the metric else 0, ...]   (presence: a summary may hold only nulls)
    "ms:<stat>:<metric>": [value, ...]  one summary statistic (count, min, max, avg, ...)
    "sv:<metric>#<p>":   a part of the runs' short series of the metric (skytune.index.series)

A query reads the "a" group and only the groups it names (`groups_for`): a filter on one param and
a sort on one metric's max read the ids, one of a run's twenty params, and two of its metric's
presence and statistics columns: not the other nine attributes, nineteen params and ten of each
metric's eleven statistics. Format 1 kept a metric's eleven statistics (and all attributes) in one
group; splitting them cut a 10,000-run first page's index reads about 4x (BENCHMARKS.md).

Why JSON and not DynamoDB maps or Parquet: JSON keeps exactly the value types the query language
distinguishes (int, float incl. NaN/inf, str, bool) through a round trip, zlib is in the standard
library, and columns of similar values compress well. Decoding is `json.loads` of one string per group.

Runs are read back as `IndexedRun`s: the query engine's `RunLike`, whose mappings read the columns
in place (a run costs one small object, not a dict per field), so the existing evaluator, sort and
projection run unchanged on them: the indexed path gives the same answers by construction.
"""
from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from pydantic_core import from_json

from skytune.index import series as sv
from skytune.tracking.query.values import datetime_to_epoch_ms

FORMAT = 2
_ATTRIBUTES = ("name", "experiment", "status", "trial", "created", "started", "ended", "source", "parent")
_RECORD_TIMES = {"created": "created_at", "started": "start_time", "ended": "end_time"}


class ChunkCorrupt(Exception):
    """A chunk that does not decode (bad checksum, zlib or JSON error, ragged columns)."""


def _ms(value: Any) -> Any:
    if value is None or isinstance(value, (int, float)):
        return value
    return datetime_to_epoch_ms(value)


def index_row(record: Mapping[str, Any], summaries: Callable[[Any], dict],
              series: Mapping[str, tuple[Sequence[int], Sequence[float]]] | None = None) -> dict[str, Any]:
    """One run's searchable fields from a run record (`DynamoRepository.iter_run_records`'s
    shape); `summaries` turns the stored summary of one metric into its public statistics;
    `series`: metric -> (steps, values) of the metrics to index whole (`series.wanted`)."""
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
        "s": {metric: [list(steps), list(values)] for metric, (steps, values) in (series or {}).items()},
    }


def series_points(row: Mapping[str, Any]) -> dict[str, int]:
    """metric -> point count of an `index_row` row (what `series.wanted` decides on)."""
    return {metric: int(summary.get("count") or 0) for metric, summary in row["m"].items()}


def splits(blobs: Mapping[str, bytes]) -> int:
    """The size that decides a bucket split: its largest column group, series parts aside (they
    are split in parts of their own, `series.PART_BYTES`)."""
    return max((len(blob) for group, blob in blobs.items() if not sv.is_series_group(group)), default=0)


def encode(rows: Sequence[Mapping[str, Any]], series: bool = True) -> dict[str, bytes]:
    """Rows (from `index_row`) -> {column group: compressed bytes}. Groups: "a" (run ids; always
    there), "at:<attribute>", "p:<param>", "t:<tag>", "m:<metric>" (presence) and
    "ms:<stat>:<metric>", so a query reads only the groups it names. Rows are stored in run_id
    order; the same rows always give the same bytes (sorted keys), so a fold rewrites only the
    groups whose content changed."""
    rows = sorted(rows, key=lambda row: row["id"])
    n = len(rows)
    documents: dict[str, Any] = {"a": _ids_document([row["id"] for row in rows], None)}
    for name in _ATTRIBUTES:
        documents[f"at:{name}"] = [row["a"].get(name) for row in rows]

    def column(group: str, empty: Any = None) -> list:
        found = documents.get(group)
        if found is None:  # (not setdefault: its default list would be built for every value)
            found = documents[group] = [empty] * n
        return found

    for i, row in enumerate(rows):
        for name, value in row["p"].items():
            column(f"p:{name}")[i] = value
        for name, value in row["t"].items():
            column(f"t:{name}")[i] = value
        for metric, summary in row["m"].items():
            column(f"m:{metric}", 0)[i] = 1
            for stat, value in summary.items():
                column(f"ms:{stat}:{metric}")[i] = value
    return {**{group: _compress(document) for group, document in documents.items()}, **(sv.encode(rows) if series else {})}


def _ids_document(ids: list[str], present: Mapping[str, int] | None) -> dict[str, Any]:
    document: dict[str, Any] = {"f": FORMAT, "ids": ids}
    if present is not None:
        document["g"] = dict(present)
    return document


def encode_ids(ids: list[str], present: Mapping[str, int]) -> bytes:
    """The "a" group as stored: the ids and every group of the bucket -> its item's version."""
    return _compress(_ids_document(ids, present))


def _compress(document: Any) -> bytes:
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=True, sort_keys=True)
    return zlib.compress(text.encode(), 6)


def checksum(blob: bytes) -> int:
    return zlib.crc32(blob)


def decode_group(blob: bytes, crc: int | None = None) -> Any:
    if crc is not None and checksum(blob) != crc:
        raise ChunkCorrupt("checksum mismatch")
    try:
        text = zlib.decompress(blob)
    except zlib.error as error:
        raise ChunkCorrupt(f"undecodable chunk: {error}") from None
    try:
        # pydantic-core's JSON parser (a runtime dependency already, via pydantic): ~3x faster than
        # `json.loads` on these columns, most of a cold 100,000-run query's decoding. Same values
        # (NaN, infinities, big ints, floats correctly rounded; a property test compares the two);
        # anything it refuses is left to `json.loads`, the reference.
        return from_json(text, cache_strings=False)
    except ValueError:
        pass
    try:
        return json.loads(text)
    except ValueError as error:
        raise ChunkCorrupt(f"undecodable chunk: {error}") from None


class Chunk:
    """A decoded chunk (one bucket of an experiment): its "a" group and whichever other column
    groups have been added, with one `IndexedRun` per run."""

    __slots__ = ("ids", "attributes", "params", "tags", "metrics", "_runs", "series_source", "loaded", "present",
                 "vectors", "series", "_series_parts")

    def __init__(self, attributes_document: dict[str, Any], present: Mapping[str, int] | Iterable[str] | None = None) -> None:
        try:
            if attributes_document.get("f") != FORMAT:
                raise ChunkCorrupt("unknown chunk format")
            self.ids: list[str] = attributes_document["ids"]
            if not isinstance(self.ids, list):
                raise ChunkCorrupt("bad id column")
            if present is None:  # as stored: the "a" document lists the bucket's groups
                present = {str(group): int(version) for group, version in attributes_document["g"].items()}
        except (KeyError, TypeError, AttributeError) as error:
            raise ChunkCorrupt(f"bad attribute group: {error}") from None
        self.attributes: dict[str, list] = {}
        self.params: dict[str, list] = {}
        self.tags: dict[str, list] = {}
        self.metrics: dict[str, dict[str, list]] = {}
        self.loaded: set[str] = {"a"}
        # the groups this bucket has -> the version of each one's item
        self.present: dict[str, int] = dict(present) if isinstance(present, Mapping) else dict.fromkeys(present, 0)
        self.present.setdefault("a", 0)
        # metric -> run_id -> (steps, values), from the "sv:" parts loaded; parts still to load per metric
        self.series: dict[str, dict[str, tuple[list[int], list[float]]]] = {}
        self._series_parts: dict[str, int] = {}
        for group in self.present:
            if sv.is_series_group(group):
                metric = sv.metric_of(group)
                self._series_parts[metric] = self._series_parts.get(metric, 0) + 1
        self.series_source: Callable[[str, str], Sequence[tuple[int, float]]] | None = None
        self._runs: list[IndexedRun] | None = None
        self.vectors: dict = {}  # skytune.index.vector's arrays of these columns (cleared by `add`)

    @property
    def runs(self) -> list[IndexedRun]:
        """One `IndexedRun` per row, made on first use: the vectorised path (skytune.index.vector)
        makes only its page's (at 100,000 runs these objects were ~0.4 s of a cold page)."""
        if self._runs is None:
            self._runs = [IndexedRun(self, row) for row in range(len(self.ids))]
        return self._runs

    def add(self, group: str, document: Any) -> None:
        n = len(self.ids)
        if sv.is_series_group(group):
            try:
                decoded = sv.decode_part(document)
            except ValueError as error:
                raise ChunkCorrupt(f"column group {group!r}: {error}") from None
            if group not in self.loaded:
                metric = sv.metric_of(group)
                self.series.setdefault(metric, {}).update(decoded)
                self._series_parts[metric] = self._series_parts.get(metric, 1) - 1
                self.loaded.add(group)
            return
        # In place: every IndexedRun's mappings hold these very dicts.
        if not isinstance(document, list) or len(document) != n:
            raise ChunkCorrupt(f"ragged column {group!r}")
        kind, _, name = group.partition(":")
        if kind == "at" and name in _ATTRIBUTES:
            self.attributes[name] = document
        elif kind == "p":
            self.params[name] = document
        elif kind == "t":
            self.tags[name] = document
        elif kind == "m":
            self.metrics.setdefault(name, {})["_"] = document
        elif kind == "ms" and ":" in name:
            stat, _, metric = name.partition(":")
            self.metrics.setdefault(metric, {})[stat] = document
        else:
            raise ChunkCorrupt(f"unknown column group {group!r}")
        self.loaded.add(group)
        self.vectors.clear()

    def rows(self) -> dict[str, dict[str, Any]]:
        """run_id -> the row `index_row` made (to re-encode a chunk after changes). Needs every group."""
        assert set(self.present) <= self.loaded, "rows() needs every column group loaded"
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
                "s": {metric: [list(table[run_id][0]), list(table[run_id][1])]
                      for metric, table in self.series.items() if run_id in table},
            }
        return rows

    def indexed_series(self, metric: str) -> dict[str, tuple[list[int], list[float]]] | None:
        """run_id -> (steps, values) of the metric's series held in the index, once all its parts
        are loaded (None otherwise, or when the bucket holds none)."""
        if self._series_parts.get(metric, 1) != 0:
            return None
        return self.series.get(metric, {})


def groups_for(params: Iterable[str], tags: Iterable[str], metric_stats: Iterable[tuple[str, str]],
               attributes: Iterable[str] = (), metrics: Iterable[str] = ()) -> frozenset[str]:
    """The column groups a query reading these fields needs: `metric_stats` (metric, stat) pairs
    read a statistic; `metrics` only whether a run has the metric (e.g. its series is read)."""
    metric_stats = set(metric_stats)
    present = set(metrics) | {metric for metric, _stat in metric_stats}
    return frozenset({"a", *(f"at:{a}" for a in attributes), *(f"p:{p}" for p in params), *(f"t:{t}" for t in tags),
                      *(f"m:{m}" for m in present), *(f"ms:{stat}:{m}" for m, stat in metric_stats),
                      *(sv.group_prefix(m) for m in metrics)})


def row_groups(present: Iterable[str]) -> set[str]:
    """The groups a row shown with every column reads: all but the series parts (no column shows a
    whole series; a page's `.at` / `.window` columns were read with its query)."""
    return {group for group in present if not sv.is_series_group(group)}


def select_groups(groups: Iterable[str] | None, present: Iterable[str]) -> set[str]:
    """The present groups that `groups` (from `groups_for`; None: all) names."""
    return set(present) if groups is None else sv.select(groups, present)


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
    """One run of a chunk, as the query engine reads it (`tracking.query.RunLike`). Its mappings
    are made on access: a query builds one of these per run of the experiment, and building four
    mappings each (format 1) was most of a 10,000-run query's CPU time."""

    __slots__ = ("run_id", "_chunk", "_row", "_series")

    def __init__(self, chunk: Chunk, row: int) -> None:
        self._chunk = chunk
        self._row = row
        self.run_id = chunk.ids[row]
        self._series: dict[str, Sequence[tuple[int, float]]] | None = None

    @property
    def attributes(self) -> _Columns:
        return _Columns(self._chunk.attributes, self._row)

    @property
    def params(self) -> _Columns:
        return _Columns(self._chunk.params, self._row)

    @property
    def tags(self) -> _Columns:
        return _Columns(self._chunk.tags, self._row)

    @property
    def metrics(self) -> _Metrics:
        return _Metrics(self._chunk.metrics, self._row)

    @property
    def chunk(self) -> Chunk:
        return self._chunk

    def series(self, name: str) -> Sequence[tuple[int, float]]:
        """From the index's series columns when it holds this run's series of `name`, else read from
        the metric store on first use (only runs reaching a step/window predicate); kept for the
        life of this decoded chunk, i.e. until the run changes."""
        if self._series is None:
            self._series = {}
        points = self._series.get(name)
        if points is None:
            if name not in self.metrics:
                points = []
            else:
                indexed = self._chunk.indexed_series(name)
                found = None if indexed is None else indexed.get(self.run_id)
                if found is not None:
                    points = list(zip(*found))
                else:
                    source = self._chunk.series_source
                    points = [] if source is None else list(source(self.run_id, name))
            self._series[name] = points
        return points
