"""Column-group projection (format 2): a query decodes only the groups it names, down to one summary
statistic of a metric; page rows are read on threads in the page's order; step predicates are
evaluated on threads with the same answers and the same series reads."""
from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from skytune.index import format as fmt
from skytune.index import search as indexed
from skytune.metrics import Summary, public_summary
from skytune.tracking import query, run_search
from skytune.tracking.records import SearchRequest
from tests.unit.index.test_differential import Index, Repo, Series

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def record(i: int, loss: list[float] | None = None) -> dict:
    loss = loss or [1.0 / (i + 1), 0.5 / (i + 1), 0.25 / (i + 1)]
    return {"run_id": f"r{i:04d}", "name": f"n{i}", "experiment": "e1", "status": "Completed", "trials": [],
            "parent": None, "source": None, "created_at": BASE, "start_time": None, "end_time": None,
            "params": {"optimizer": "adam" if i % 3 else "sgd", "lr": i / 10, "layers": i % 4},
            "tags": {"team": "a"},
            "metric_summaries": {"loss": Summary.of((v, s, 1000 + s) for s, v in enumerate(loss)).to_json(),
                                 "acc": Summary.of([(i / 100, 0, 1000)]).to_json()}}


def test_every_statistic_attribute_and_field_is_a_group_of_its_own():
    blobs = fmt.encode([fmt.index_row(record(i), public_summary) for i in range(3)])
    assert {"a", "at:name", "at:status", "p:optimizer", "p:lr", "t:team", "m:loss", "ms:min:loss", "ms:max:loss",
            "ms:last:loss", "m:acc", "ms:max:acc"} <= set(blobs)
    assert fmt.decode_group(blobs["a"]) == {"f": fmt.FORMAT, "ids": ["r0000", "r0001", "r0002"]}
    assert fmt.decode_group(blobs["ms:min:loss"]) == [0.25, 0.125, 0.25 / 3]
    assert fmt.decode_group(blobs["m:loss"]) == [1, 1, 1]


def test_a_query_names_only_the_groups_it_reads():
    expr = query.parse_filter("params.optimizer = 'adam' OR metrics.loss.min < 0.2")
    order = query.parse_order_by("metrics.acc.max DESC")
    assert indexed.groups_of(query.referenced(expr, order)) == {
        "a", "p:optimizer", "m:loss", "ms:min:loss", "m:acc", "ms:max:acc"}
    steps = query.parse_filter("metrics.loss.at(2) < 0.1 AND status = 'Completed'")
    assert indexed.groups_of(query.referenced(steps, [])) == {"a", "at:status", "m:loss", "sv:loss#"}  # every part of its series


def test_a_chunk_with_only_the_named_groups_answers_as_the_scan():
    records = [record(i) for i in range(40)]
    index = Index(records, buckets=2)
    request = SearchRequest(experiments=["e1"], filter="params.optimizer = 'adam' OR metrics.loss.min < 0.02",
                            order_by="metrics.acc.max DESC", columns="name, metrics.loss.min", limit=7)
    got = run_search.search(Repo(records), Series({}), request, index)[0]
    assert got == run_search.search(Repo(records), Series({}), request)[0]
    loaded = set().union(*(chunk.loaded for chunk in index.decoded["e1"].chunks))
    # name is a column shown: read; lr, layers, tags, the other statistics: not
    assert loaded == {"a", "at:name", "p:optimizer", "m:loss", "ms:min:loss", "m:acc", "ms:max:acc"}


def test_a_chunk_of_another_format_is_refused_as_corrupt():
    with pytest.raises(fmt.ChunkCorrupt):
        fmt.Chunk({"f": 1, "ids": [], "a": {}})
    with pytest.raises(fmt.ChunkCorrupt):
        fmt.Chunk({"f": fmt.FORMAT, "ids": ["r1", "r2"]})  # the stored "a" group lists its groups
    chunk = fmt.Chunk(fmt.decode_group(fmt.encode_ids(["r1", "r2"], {"a": 3, "p:lr": 2})))
    assert chunk.present == {"a": 3, "p:lr": 2}
    with pytest.raises(fmt.ChunkCorrupt):
        chunk.add("p:lr", [1])  # ragged
    with pytest.raises(fmt.ChunkCorrupt):
        chunk.add("zz:lr", [1, 2])


class CountingRepo(Repo):
    def __init__(self, records):
        super().__init__(records)
        self.calls: list[list[str]] = []
        self.threads: set[int] = set()
        self.lock = threading.Lock()

    def run_records(self, run_ids, consistent=False):
        with self.lock:
            self.calls.append(list(run_ids))
            self.threads.add(threading.get_ident())
        time.sleep(0.02)  # a round trip: the slices overlap
        return super().run_records(run_ids, consistent)


def test_a_full_page_is_read_from_the_row_items_and_no_run_from_the_tables():
    records = [record(i) for i in range(600)]
    repo = CountingRepo(records)
    request = SearchRequest(experiments=["e1"], order_by="metrics.loss.min DESC", limit=45)
    rows = run_search.search(repo, Series({}), request, Index(records, buckets=2))[0]
    assert rows == run_search.search(Repo(records), Series({}), request)[0]
    assert repo.calls == []


def test_runs_without_rows_are_read_in_slices_on_threads_in_the_page_order():
    """An index written before row items existed (or runs whose row is missing): those runs are
    read from the tables."""
    records = [record(i) for i in range(600)]
    repo, index = CountingRepo(records), Index(records, buckets=2)
    index.rows = {key: blob for n, (key, blob) in enumerate(sorted(index.rows.items())) if n % 60}  # 10 of the 600 rows lost
    request = SearchRequest(experiments=["e1"], order_by="metrics.loss.min DESC", limit=45)
    rows = run_search.search(repo, Series({}), request, index)[0]
    assert rows == run_search.search(Repo(records), Series({}), request)[0]
    index.rows = {}
    repo.calls.clear()
    rows = run_search.search(repo, Series({}), request, index)[0]
    assert rows == run_search.search(Repo(records), Series({}), request)[0]
    assert sorted(len(call) for call in repo.calls) == [5, 10, 10, 10, 10]  # PAGE_SLICE
    assert len(repo.threads) > 1


def test_a_page_of_a_tenth_of_the_runs_or_more_is_read_from_the_index():
    """A full scan's pages: decoding the chunks in full is cheaper than reading every run item; and
    once decoded, any page of those chunks comes from the index."""
    records = [record(i) for i in range(600)]
    repo, index = CountingRepo(records), Index(records, buckets=2)
    request = SearchRequest(experiments=["e1"], order_by="metrics.loss.min DESC", limit=60)
    rows, runs, cursor = run_search.search(repo, Series({}), request, index)
    assert rows == run_search.search(Repo(records), Series({}), request)[0]
    assert repo.calls == [] and all(chunk.loaded == set(chunk.present) for chunk in index.decoded["e1"].chunks)
    small = request.model_copy(update={"limit": 5, "cursor": cursor})
    assert run_search.search(repo, Series({}), small, index)[0] == run_search.search(Repo(records), Series({}), small)[0]
    assert repo.calls == []  # decoded already: no run read


def test_step_predicates_over_many_runs_are_evaluated_on_threads_with_the_same_answers():
    records, series = [], {}
    for i in range(300):
        points = [1.0 / (s + i + 1) for s in range(4)]
        records.append(record(i, points))
        series[(f"r{i:04d}", "loss")] = [{"step": s, "value": v} for s, v in enumerate(points)]

    class ThreadSeries(Series):
        def __init__(self, data):
            super().__init__(data)
            self.threads, self.lock = set(), threading.Lock()

        def series(self, run_id, metric, **_):
            with self.lock:
                self.threads.add(threading.get_ident())
                self.reads += 1
            time.sleep(0.001)
            return self.data.get((run_id, metric), [])

    request = SearchRequest(experiments=["e1"], filter="metrics.loss.at(1) < 0.01", order_by="metrics.loss.at(2) DESC",
                            columns="name, metrics.loss.at(2)", limit=50)
    store = ThreadSeries(series)
    rows = run_search.search(Repo(records), store, request, Index(records))[0]
    assert rows == run_search.search(Repo(records), Series(series), request)[0]
    assert store.reads == 300 and len(store.threads) > 1  # once a run, on several threads


def test_every_summary_of_many_runs_is_read_in_slices_on_threads(monkeypatch):
    """The index rebuild reads every run's summaries (one Query a run): in slices on threads,
    merged in full."""
    from skytune import metrics
    from skytune.storage import repository

    calls, threads, lock = [], set(), threading.Lock()

    class Store:
        def read_summaries(self, run_ids, metrics=None, public=True):
            with lock:
                calls.append((list(run_ids), metrics))
                threads.add(threading.get_ident())
            time.sleep(0.01)
            return {run_id: {"loss": f"stored-{run_id}"} for run_id in run_ids}

    monkeypatch.setattr(metrics, "MetricStore", Store)
    ids = [f"r{i:03d}" for i in range(180)]
    out = repository._summaries(ids, public=False)
    assert out == {run_id: {"loss": f"stored-{run_id}"} for run_id in ids}
    assert sorted(len(c[0]) for c in calls) == [5] + [repository.SUMMARY_SLICE] * 7 and len(threads) > 1
    calls.clear()
    repository._summaries(ids, ["loss"], public=False)  # named metrics: one BatchGet chain, as before
    assert calls == [(ids, ["loss"])]
