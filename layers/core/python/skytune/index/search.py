"""Search, runs table and group-by answered from experiment indexes instead of a scan of run items.

The filter, sort, cursor and projection are the query language's own (`tracking.query`): the
indexed runs are `RunLike`s, so the answers are those of the scan path by construction (and a
property test compares the two). What changes is where candidates come from and how pages are cut:

- candidates: the decoded chunks of each experiment's index (`IndexStore.snapshot`);
- a query's matches are filtered and sorted once per index version and kept in an in-process cache
  (keyed by the query and the indexes' versions), so the next page of the same query is a binary
  search in that list: it reads the manifests (1 RCU each) and then only its own page. A full scan
  of N runs reads the index once and every run once: O(N), not O(N^2/limit).

Cursors are the keyset cursors of `tracking.query.pagination` (sort values + run_id), so they stay
valid across index versions and processes: a page after a change, or in another container, is
computed afresh from the index and still starts strictly after the cursor's row.
"""
from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Sequence

from skytune.index.store import ExperimentSnapshot, IndexStore
from skytune.tracking.query import Column, Expr, SortKey
from skytune.tracking.query.ordering import render_order_by, sort_key, sort_values
from skytune.tracking.query.pagination import MAX_PAGE_SIZE, decode_cursor, encode_cursor

_RESULTS_KEPT = 64


class _Results:
    """query + index versions -> (sort keys, runs) of every match, in order."""

    def __init__(self) -> None:
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key, entry) -> None:
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > _RESULTS_KEPT:
                self._entries.popitem(last=False)


_results = _Results()


def groups_of(needs) -> frozenset[str] | None:
    """The column groups a query needs (`tracking.query.References`; None: every group)."""
    if needs is None:
        return None
    from skytune.index.format import groups_for

    return groups_for(needs.params, needs.tags, needs.metric_stats, needs.attributes,
                      {read.metric for read in needs.series})


def snapshots(index: IndexStore, experiments: Sequence[str], store, needs=None) -> list[ExperimentSnapshot]:
    """Each experiment's index with the column groups `needs` reads (None: all)."""
    groups = groups_of(needs)
    loaded = [index.snapshot(name, groups) for name in experiments]
    for snapshot in loaded:
        for chunk in snapshot.chunks:
            chunk.series_source = lambda run_id, metric: [(p["step"], p["value"]) for p in store.series(run_id, metric)]
    return loaded


def candidates(loaded: Sequence[ExperimentSnapshot]):
    for snapshot in loaded:
        yield from snapshot.runs()


#: Evaluate filters and sorts with numpy over the decoded columns (skytune.index.vector) where the
#: query allows; False: the row evaluator always (the differential test runs both).
VECTORISED = True


def matches_in_order(loaded: Sequence[ExperimentSnapshot], expr: Expr, order: Sequence[SortKey]):
    """(keys, runs): every run that matches `expr`, sorted by `order` (ties by run_id): sequences,
    the runs' sort keys and the runs. Vectorised (`skytune.index.vector`) unless the query reads
    series or needs what only the row evaluator does exactly."""
    # The chunks' identities too: the runs kept must be those whose column groups were just loaded.
    cache_key = (tuple(s.token for s in loaded), tuple(id(c) for s in loaded for c in s.chunks), expr.render(),
                 render_order_by(order))
    entry = _results.get(cache_key)
    if entry is None and VECTORISED and not reads_series(expr, order):
        from skytune.index import vector

        entry = vector.matches_in_order(loaded, expr, order)  # None: needs the row evaluator
        if entry is not None:
            _results.put(cache_key, entry)
    if entry is None:
        matches = expr.compile()
        key_of = sort_key(order)
        if store_reads(loaded, expr, order) > _SERIES_SLICE:
            keyed = _evaluate_on_threads(list(candidates(loaded)), matches, key_of)
        else:
            keyed = [(key_of(run), run) for run in candidates(loaded) if matches(run)]
        keyed.sort(key=lambda pair: pair[0])
        entry = ([key for key, _run in keyed], [run for _key, run in keyed])
        _results.put(cache_key, entry)
    return entry


#: `.at(k)` / `.window(a, b)` read each reached run's series (one or two Queries a run): the runs are
#: evaluated in slices on threads so those round trips overlap. Same evaluator, same reads, same
#: answers; only their latency overlaps (the GIL is released while a request waits).
SERIES_THREADS = 16
_SERIES_SLICE = 16


def reads_series(expr: Expr, order: Sequence[SortKey]) -> bool:
    from skytune.tracking.query import referenced

    return referenced(expr, order).needs_series


def store_reads(loaded: Sequence[ExperimentSnapshot], expr: Expr, order: Sequence[SortKey]) -> int:
    """How many (run, metric) series a query would read from the metric store: those of its
    `.at` / `.window` metrics that the index's series columns do not hold (skytune.index.series).
    Zero when they hold them all: the query is then evaluated on this thread alone."""
    from skytune.tracking.query import referenced

    metrics = {read.metric for read in referenced(expr, order).series}
    count = 0
    for snapshot in loaded:
        for chunk in snapshot.chunks:
            for metric in metrics:
                presence = chunk.metrics.get(metric, {}).get("_")
                if presence is None:
                    continue
                held = chunk.indexed_series(metric) or {}
                count += sum(1 for run_id, has in zip(chunk.ids, presence) if has and run_id not in held)
    return count


def _evaluate_on_threads(runs: list, matches, key_of) -> list:
    from skytune.threads import on_threads

    def evaluate(part):
        return [(key_of(run), run) for run in part if matches(run)]

    slices = [runs[start:start + _SERIES_SLICE] for start in range(0, len(runs), _SERIES_SLICE)]
    if len(slices) <= 1:
        return evaluate(runs)
    return [pair for part in on_threads(evaluate, slices, threads=SERIES_THREADS) for pair in part]


def page(loaded: Sequence[ExperimentSnapshot], expr: Expr, order: Sequence[SortKey], cursor: str | None,
         limit: int, context: str):
    """(runs of the page, next cursor): what `tracking.query.page` returns for the same input."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    context = f"{expr.render()}\x00{context}"
    start = 0
    after = decode_cursor(cursor, order, context) if cursor else None
    keys, runs = matches_in_order(loaded, expr, order)
    if after is not None:
        start = bisect.bisect_right(keys, after)
    items = runs[start:start + limit]
    next_cursor = None
    if start + limit < len(runs):
        last = items[-1]
        next_cursor = encode_cursor(order, sort_values(order)(last), last.run_id, context)
    return items, next_cursor


#: A page shown with every column is read from the index when its runs' chunks are decoded in full
#: already, or when decoding them costs less than reading the runs (a run item plus a Query of its
#: summaries, ~1 RCU and two round trips a run, vs ~0.1 RCU a run of index): pages of at least a
#: tenth of the runs of the chunks they touch (a full scan's pages of 1,000 at 10,000 runs). A
#: later page (one with a cursor) counts every match from it to the end (`rest`): a query paged
#: past its first page is being read on, and its rows from the tables cost ~2.5 RCU and ~1 s a
#: page of 100 (measured: 200 Queries a page), the chunks ~0.1 RCU a run once per container.
FULL_ROWS_SHARE = 10


def rest(loaded: Sequence[ExperimentSnapshot], expr: Expr, order: Sequence[SortKey], cursor: str | None,
         context: str) -> int | None:
    """The matches from a later page's first run to the end (None for a first page)."""
    if not cursor:
        return None
    keys, _runs = matches_in_order(loaded, expr, order)
    return len(keys) - bisect.bisect_right(keys, decode_cursor(cursor, order, f"{expr.render()}\x00{context}"))


def full_runs(index, loaded: Sequence[ExperimentSnapshot], runs: Sequence, rest: int | None = None) -> list | None:
    """The page's runs with every column group loaded, from the index; None: read them from the
    tables instead (cheaper, or the index moved while we read)."""
    from skytune.index.format import row_groups

    touched = {id(run.chunk): run.chunk for run in runs}
    missing = [chunk for chunk in touched.values() if row_groups(chunk.present) - chunk.loaded]
    if missing:
        if max(len(runs), rest or 0) * FULL_ROWS_SHARE < sum(len(chunk.ids) for chunk in touched.values()):
            return None
        for snapshot in loaded:
            mine = [chunk for chunk in snapshot.chunks if any(chunk is other for other in missing)]
            if mine and not index.complete(snapshot, mine):
                return None
    return list(runs)


def run_experiments(loaded: Sequence[ExperimentSnapshot], runs: Sequence) -> list[tuple[str, str]]:
    """(experiment, run_id) of each of these runs of `loaded` (where their rows are: IndexStore.records)."""
    experiment_of = {id(chunk): snapshot.experiment for snapshot in loaded for chunk in snapshot.chunks}
    return [(experiment_of[id(run.chunk)], run.run_id) for run in runs]


def project(runs, columns: Sequence[Column]):
    from skytune.tracking.query import projector

    shown = projector(columns)
    return [shown(run) for run in runs]
