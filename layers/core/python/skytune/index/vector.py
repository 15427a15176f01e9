"""The filter and sort of a query evaluated with numpy over an index's decoded columns.

`tracking.query` evaluates a filter run by run (compiled closures) and sorts with a Python key per
run: at 100,000 runs that was 4 s of a first page at load 25 (BENCHMARKS.md, round 3). Here the same
query AST is evaluated column-wise instead, with the same semantics (docs/search.md, "Typing rules";
`tracking.query.expr` and `ordering` are the reference):

- a field's values over all runs become a `Vector`: a kind per run (number, string, boolean,
  missing, other shape), the numbers as float64, the strings as an object array, the booleans;
  a NaN is missing, as in `values.kind_of`;
- a comparison holds only between values of the literal's kind; `!=`, `NOT IN`, `NOT LIKE` hold
  where the value is present and the positive form does not; `IS NULL` where it is missing;
  AND/OR/NOT are `&`, `|`, `~` of boolean masks;
- the sort is one `np.lexsort` over (kind rank, value) per key, values negated within their kind for
  DESC (strings by their rank among the page's strings, code-point order), after a stable sort by
  run_id: the order of `ordering.sort_key`, missing values last whatever the direction, ties by
  run_id.

What the vectors cannot express exactly is left to the row evaluator: a predicate on a
multi-valued field (`trial`) is evaluated run by run (the rest of the filter stays vectorised);
an integer beyond 2**53 in a compared or sorted column (float64 would round it), or a step/window
field (reads series; `search.matches_in_order` keeps those on its own path), sends the whole query
to the row path. A property test (tests/unit/index/test_differential.py) compares both.

Cursors are unchanged: the matches' sort keys are computed with `ordering.sort_key` only for the
O(log n) runs a cursor's binary search looks at (`_Keys`).
"""
from __future__ import annotations

import operator
from collections.abc import Callable, Sequence

import numpy as np

from skytune.index.format import Chunk, IndexedRun
from skytune.tracking.query import expr as E
from skytune.tracking.query.fields import (
    MULTI_VALUED_ATTRIBUTES,
    TIMESTAMP_ATTRIBUTES,
    Attribute,
    Field,
    MetricStat,
    Param,
    Tag,
)
from skytune.tracking.query.ordering import SortKey, plain_value, sort_key
from skytune.tracking.query.values import BOOL, MISSING, NUM, STR, kind_of, like_matcher, to_epoch_ms

OTHER = 4  # a present value of another shape (a list, a dict): never equal or ordered to a literal
_EXACT = 2 ** 53  # integers up to this compare exactly as float64
_KIND = {int: NUM, float: NUM, str: STR, bool: BOOL, type(None): MISSING}
_ORDERING: dict[str, Callable] = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
                                  "=": operator.eq}


_NUMERIC = {int, float, type(None)}
_TEXT = {str, type(None)}


def _no_strings(n: int) -> np.ndarray:
    return np.full(n, "", dtype=object)  # "" where not a string: comparisons stay str-to-str


class Unsupported(Exception):
    """The query needs something the vectors cannot do exactly: use the row evaluator."""


class Vector:
    """One field's values over a sequence of runs, by kind: `nums` (float64, NaN elsewhere), `strs`
    (objects, "" elsewhere), `bools`; each None where no run has a value of that kind (a numeric
    column keeps no string array: these stay cached with the decoded chunks)."""

    __slots__ = ("kinds", "nums", "strs", "bools", "exact")

    def __init__(self, kinds: np.ndarray, nums: np.ndarray | None, strs: np.ndarray | None, bools: np.ndarray | None,
                 exact: bool) -> None:
        self.kinds, self.nums, self.strs, self.bools, self.exact = kinds, nums, strs, bools, exact

    @classmethod
    def of(cls, values: Sequence) -> Vector:
        n = len(values)
        classes = set(map(type, values))
        if classes <= _NUMERIC:  # the common columns (metric statistics, numeric params): at C speed
            try:
                nums = np.array(values, dtype=float)  # None -> NaN
            except OverflowError:  # an integer beyond float64's range
                return cls._general(values)
            kinds = np.where(np.isnan(nums), np.int8(MISSING), np.int8(NUM))
            # Only an integer can be rounded (at 2**53 + 1 already: hence >=); an infinite or a
            # large float beside integers is exact as it is.
            exact = int not in classes or not ((np.abs(nums) >= _EXACT) & np.isfinite(nums)).any()
            return cls(kinds, nums, None, None, exact)
        if classes <= _TEXT:
            strs = np.array(values, dtype=object) if n else np.zeros(0, dtype=object)
            missing = np.equal(strs, None)
            strs[missing] = ""
            kinds = np.where(missing, np.int8(MISSING), np.int8(STR))
            return cls(kinds, None, strs, None, True)
        return cls._general(values)

    @classmethod
    def _general(cls, values: Sequence) -> Vector:
        n = len(values)
        kinds = np.fromiter([_KIND.get(value.__class__, OTHER) for value in values], np.int8, n)
        nums = strs = bools = None
        exact = True
        where = np.flatnonzero(kinds == NUM)
        if where.size:
            nums = np.full(n, np.nan)
            numbers = [values[i] for i in where]
            if any(value.__class__ is int and not -_EXACT <= value <= _EXACT for value in numbers):
                exact = False  # float64 would round it: such a column is left to the row evaluator
            else:
                nums[where] = numbers
                kinds[where[np.isnan(nums[where])]] = MISSING  # NaN is missing everywhere
        where = np.flatnonzero(kinds == STR)
        if where.size:
            strs = _no_strings(n)
            strs[where] = [values[i] for i in where]
        where = np.flatnonzero(kinds == BOOL)
        if where.size:
            bools = np.zeros(n, dtype=bool)
            bools[where] = [values[i] for i in where]
        return cls(kinds, nums, strs, bools, exact)

    @classmethod
    def concatenate(cls, parts: Sequence[Vector]) -> Vector:
        if len(parts) == 1:
            return parts[0]
        def joined(name: str, empty):
            arrays = [getattr(p, name) for p in parts]
            if all(array is None for array in arrays):
                return None
            return np.concatenate([empty(p.kinds.size) if array is None else array for p, array in zip(parts, arrays)])

        return cls(np.concatenate([p.kinds for p in parts]), joined("nums", lambda n: np.full(n, np.nan)),
                   joined("strs", _no_strings), joined("bools", lambda n: np.zeros(n, dtype=bool)),
                   all(p.exact for p in parts))

    def take(self, where: np.ndarray) -> Vector:
        def part(array):
            return None if array is None else array[where]

        return Vector(self.kinds[where], part(self.nums), part(self.strs), part(self.bools), self.exact)

    def numbers(self) -> np.ndarray:
        if not self.exact:
            raise Unsupported("an integer beyond 2**53")
        return np.full(self.kinds.size, np.nan) if self.nums is None else self.nums


# -- reading fields out of chunks -------------------------------------------------------------


def _column_values(chunk: Chunk, target: Field) -> Sequence:
    """The field's value for each run of the chunk, exactly what its `getter` returns for the
    chunk's `IndexedRun`s (a missing column: None for every run)."""
    n = len(chunk.ids)
    if isinstance(target, Attribute):
        name = target.name
        if name == "run_id":
            return chunk.ids
        column = chunk.attributes.get(name)
        if column is None:
            return [None] * n
        if name in TIMESTAMP_ATTRIBUTES:
            return [to_epoch_ms(value) for value in column]
        return column
    if isinstance(target, (Param, Tag)):
        column = (chunk.params if isinstance(target, Param) else chunk.tags).get(target.name)
        return [None] * n if column is None else column
    if isinstance(target, MetricStat):
        columns = chunk.metrics.get(target.metric)
        if columns is None:
            return [None] * n
        present, column = columns["_"], columns.get(target.stat)
        if column is None:
            return [None] * n
        return [value if has else None for value, has in zip(column, present)]
    raise Unsupported(f"field {target.render()}")


def _metric_vector(chunk: Chunk, target: MetricStat) -> Vector | None:
    """`_column_values`' vector for a metric statistic without a list per value: the statistic's
    column, missing where the run has no such metric (None: no such column, the general path)."""
    columns = chunk.metrics.get(target.metric)
    column = None if columns is None else columns.get(target.stat)
    if column is None:
        return None
    found = Vector.of(column)
    absent = ~np.array(columns["_"], dtype=bool)  # (its truth, as `_Metrics.get` reads it)
    if absent.any():
        found.kinds[absent] = MISSING
    return found


def _chunk_vector(chunk: Chunk, target: Field, for_sort: bool) -> Vector:
    """Kept on the chunk until its columns change (`Chunk.add` clears them)."""
    key = (target, for_sort)
    found = chunk.vectors.get(key)
    if found is not None:
        return found
    if target.multi_valued:
        if not for_sort:
            raise Unsupported("multi-valued field")
        get = target.getter()  # sorts by its smallest value: plain_value of the whole
        found = Vector.of([plain_value(get(run)) for run in chunk.runs])
    elif for_sort:
        found = _chunk_vector(chunk, target, False)
        if (found.kinds == OTHER).any():  # other shapes sort as their text (`plain_value`)
            found = Vector.of([plain_value(value) for value in _column_values(chunk, target)])
    else:
        found = _metric_vector(chunk, target) if isinstance(target, MetricStat) else None
        if found is None:
            found = Vector.of(_column_values(chunk, target))
    chunk.vectors[key] = found
    return found


class _Frame:
    """The runs of some chunks, in candidate order, and their fields' vectors."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = [chunk for chunk in chunks if chunk.ids]
        sizes = [len(chunk.ids) for chunk in self.chunks]
        self.n = sum(sizes)
        self.chunk_of = np.repeat(np.arange(len(self.chunks), dtype=np.int32), sizes)
        self.row_of = np.concatenate([np.arange(size, dtype=np.int32) for size in sizes]) if sizes else np.zeros(0, np.int32)
        self._vectors: dict = {}
        self._runs: list | None = None

    def vector(self, target: Field, for_sort: bool = False) -> Vector:
        key = (target, for_sort)
        found = self._vectors.get(key)
        if found is None:
            found = self._vectors[key] = Vector.concatenate([_chunk_vector(c, target, for_sort) for c in self.chunks]) \
                if self.chunks else Vector.of([])
        return found

    def ids(self) -> np.ndarray:
        """The run ids as a numpy unicode array (code-point order, as Python compares str);
        an object array where a trailing NUL would be lost in a unicode one."""
        parts = []
        for chunk in self.chunks:
            found = chunk.vectors.get("ids")
            if found is None:
                found = chunk.vectors["ids"] = _strings(chunk.ids)
            parts.append(found)
        if not parts:
            return np.zeros(0, dtype=str)
        if any(part.dtype == object for part in parts):
            parts = [part.astype(object) for part in parts]
        return np.concatenate(parts)

    def runs(self) -> list[IndexedRun]:
        if self._runs is None:
            self._runs = [run for chunk in self.chunks for run in chunk.runs]
        return self._runs


def _strings(values: Sequence[str]) -> np.ndarray:
    """A numpy unicode array (compared by code point, as Python compares str), or an object array
    where one would lose a trailing NUL (numpy pads and strips those)."""
    if not len(values):
        return np.zeros(0, dtype=str)
    texts = np.array(values, dtype=str)
    if not np.array_equal(np.strings.str_len(texts), np.fromiter(map(len, values), dtype=np.int64, count=len(values))):
        return np.array(values, dtype=object)
    return texts


# -- the filter ---------------------------------------------------------------------------------


def mask(frame: _Frame, node: E.Expr) -> np.ndarray:
    """The runs of `frame` that satisfy `node`."""
    if isinstance(node, E.MatchAll):
        return np.ones(frame.n, dtype=bool)
    if isinstance(node, E.And):
        out = mask(frame, node.operands[0])
        for operand in node.operands[1:]:
            out &= mask(frame, operand)
        return out
    if isinstance(node, E.Or):
        out = mask(frame, node.operands[0])
        for operand in node.operands[1:]:
            out |= mask(frame, operand)
        return out
    if isinstance(node, E.Not):
        return ~mask(frame, node.operand)
    if not isinstance(node, (E.Compare, E.InList, E.Like, E.IsNull)):
        raise Unsupported(type(node).__name__)
    if node.field.multi_valued:
        # any/every over a run's values: the row evaluator, for this predicate only
        predicate = node.compile()
        return np.fromiter((predicate(run) for run in frame.runs()), dtype=bool, count=frame.n)
    values = frame.vector(node.field)
    present = values.kinds != MISSING
    if isinstance(node, E.IsNull):
        return present if node.negated else ~present
    if isinstance(node, E.Compare):
        literal = E._engine_value(node.field, node.value)
        if node.op == "!=":
            return present & ~_holds(values, operator.eq, literal)
        return _holds(values, _ORDERING[node.op], literal)
    if isinstance(node, E.InList):
        member = np.zeros(frame.n, dtype=bool)
        for value in node.values:
            member |= _holds(values, operator.eq, E._engine_value(node.field, value))
        return present & ~member if node.negated else member
    # Like
    matcher = like_matcher(node.pattern, case_insensitive=node.case_insensitive)
    matches = np.zeros(frame.n, dtype=bool)
    where = np.flatnonzero(values.kinds == STR)
    if where.size:
        matches[where] = np.fromiter((matcher(text) for text in values.strs[where]), dtype=bool, count=where.size)
    return present & ~matches if node.negated else matches


def _holds(values: Vector, compare: Callable, literal: object) -> np.ndarray:
    """`compare(value, literal)` where the value is of the literal's kind (`expr._ordered`)."""
    kind = kind_of(literal)
    if kind == STR:
        if values.strs is None:
            return np.zeros(values.kinds.size, dtype=bool)
        return (values.kinds == STR) & np.asarray(compare(values.strs, literal), dtype=bool)
    if kind == BOOL:
        if values.bools is None:
            return np.zeros(values.kinds.size, dtype=bool)
        return (values.kinds == BOOL) & compare(values.bools, literal)
    if kind == NUM and literal.__class__ in (int, float) and not (literal.__class__ is int and not -_EXACT <= literal <= _EXACT):
        return (values.kinds == NUM) & compare(values.numbers(), literal)
    raise Unsupported(f"literal {literal!r}")


# -- the order ----------------------------------------------------------------------------------


def order_of(frame: _Frame, where: np.ndarray, order: Sequence[SortKey]) -> np.ndarray:
    """`where` (indices into the frame) sorted as `ordering.sort_key` sorts their runs."""
    ids = frame.ids()[where]
    permutation = np.argsort(ids, kind="stable")  # ties after every key: run_id ascending
    keys: list[np.ndarray] = []
    for key in reversed(order):  # np.lexsort: the last key is the primary one
        values = frame.vector(key.field, for_sort=True).take(where[permutation])
        rank = values.kinds.astype(np.int8)  # numbers, strings, booleans, missing (the type order)
        value = np.zeros(where.size)
        numbers = rank == NUM
        value[numbers] = values.numbers()[numbers]
        strings = np.flatnonzero(rank == STR)
        if strings.size:
            texts = _strings(list(values.strs[strings]))
            value[strings] = np.unique(texts, return_inverse=True)[1].reshape(-1)
        booleans = rank == BOOL
        if values.bools is not None:
            value[booleans] = values.bools[booleans]
        if key.descending:  # within each kind only: the kind's rank stays
            value = -value
        keys += [value, rank]
    if keys:
        permutation = permutation[np.lexsort(keys)]
    return where[permutation]


# -- pages ----------------------------------------------------------------------------------------


class _Matches(Sequence):
    """The matching runs in order, made on access (a page builds its own rows only). Holds only the
    matches' (chunk, row) pairs: kept per query in `search._results`, not the query's arrays."""

    def __init__(self, chunks: Sequence[Chunk], chunk_of: np.ndarray, row_of: np.ndarray) -> None:
        self._chunks, self._chunk_of, self._row_of = chunks, chunk_of, row_of

    def __len__(self) -> int:
        return int(self._row_of.size)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [IndexedRun(self._chunks[c], int(r)) for c, r in zip(self._chunk_of[i], self._row_of[i])]
        return IndexedRun(self._chunks[self._chunk_of[i]], int(self._row_of[i]))


class _Keys(Sequence):
    """The sort key (`ordering.sort_key`) of the i-th match, computed when a cursor's binary
    search asks for it: about log2(n) runs a page, not n."""

    def __init__(self, runs: _Matches, key_of: Callable) -> None:
        self._runs, self._key_of = runs, key_of

    def __len__(self) -> int:
        return len(self._runs)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._key_of(run) for run in self._runs[i]]
        return self._key_of(self._runs[i])


def matches_in_order(loaded, expr: E.Expr, order: Sequence[SortKey]) -> tuple[Sequence, Sequence] | None:
    """(keys, runs) as `search.matches_in_order` returns them, evaluated on vectors; None when the
    query needs the row evaluator (see the module's docstring)."""
    frame = _Frame([chunk for snapshot in loaded for chunk in snapshot.chunks])
    try:
        selected = np.flatnonzero(mask(frame, expr))
        ordered = order_of(frame, selected, order)
    except Unsupported:
        return None
    runs = _Matches(frame.chunks, frame.chunk_of[ordered], frame.row_of[ordered])
    return _Keys(runs, sort_key(order)), runs
