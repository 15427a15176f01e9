"""Issue 9, the write cost of small deliveries: each delivery is one commit item, folded into the
per-metric summary items later. Summaries must be exact at every moment: after many small
deliveries, with folds interleaved, racing, crashing half-way, with late and replayed deliveries,
and concurrent writers (DynamoDB Local)."""
from __future__ import annotations

import random
import threading
import uuid

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from benchmarks.capacity import capacity_meter
from skytune.metrics import MetricPoint, MetricStore, Summary
from skytune.metrics.items import MetricCountItem, MetricSegmentItem, MetricSummaryItem
from skytune.storage.items import RunItem

T0 = 1_800_000_000_000


@pytest.fixture
def store(bound_tables):
    return MetricStore(sleep=lambda s: None, seed=1, auto_fold=False)


def new_run(experiment="fold-tests"):
    from datetime import datetime, timezone

    run_id, now = str(uuid.uuid4()), datetime.now(timezone.utc)
    RunItem(*RunItem.key(run_id), gsi1pk=RunItem.listing_key(experiment), gsi1sk=run_id, run_id=run_id,
            experiment=experiment, name=run_id, status="RUNNING", created_at=now, updated_at=now).save()
    return run_id


def reference(points) -> dict[str, dict]:
    """The summaries of the unique points (by source id), computed without the store."""
    unique = {(p.metric, p.source_id): p for p in points}
    by_metric: dict[str, list] = {}
    for p in unique.values():
        by_metric.setdefault(p.metric, []).append((p.value, p.step, p.timestamp_ms))
    return {m: Summary.of(pts).public() for m, pts in sorted(by_metric.items())}


def universe(n, metrics=("loss", "acc", "lr"), spread_ms=1000, seed=0):
    rnd = random.Random(seed)
    return [MetricPoint(metrics[i % len(metrics)], rnd.uniform(-5, 5), i // len(metrics), T0 + i * spread_ms,
                        source_id=f"e{i}") for i in range(n)]


def registry(run_id):
    return MetricCountItem.get(*MetricCountItem.key(run_id), consistent_read=True)


def test_a_small_delivery_is_one_put_of_about_its_points_bytes(store):
    run_id = new_run()
    every = universe(1000, metrics=("a", "b", "c", "d", "e"), spread_ms=10)
    store.write(run_id, every[:50])  # names new metrics: commit + registry in one transaction
    with capacity_meter(current_thread_only=True) as meter:
        for start in range(50, 1000, 50):
            store.write(run_id, every[start:start + 50])
    writes = {k: v for k, v in meter["requests"].items() if k in ("PutItem", "UpdateItem", "BatchWriteItem", "TransactWriteItems")}
    assert writes == {"PutItem": 19}
    assert meter["wcu"] / 950 <= 0.05
    assert store.summaries(run_id) == reference(every)


def test_fifty_points_over_fifty_metrics_are_one_write_not_fifty(store):
    run_id = new_run()
    names = [f"m{i}:{stat}" for i in range(10) for stat in ("avg", "max", "min", "sum", "count")]
    record = lambda minute: [MetricPoint(name, float(minute + k), minute, T0 + minute * 60_000, source_id=f"{minute}")  # noqa: E731
                             for k, name in enumerate(names)]
    store.write(run_id, record(0))
    with capacity_meter(current_thread_only=True) as meter:
        store.write(run_id, record(1))
    assert sum(meter["requests"][k] for k in ("PutItem", "UpdateItem", "BatchWriteItem", "TransactWriteItems")) == 1
    assert meter["wcu"] <= 2.5
    assert store.summaries(run_id) == reference(record(0) + record(1))


def test_summaries_are_exact_with_folds_interleaved_and_items_hold_the_folded_part(store):
    run_id = new_run()
    every = universe(900, spread_ms=2_000)  # 30 minutes: several buckets
    rnd = random.Random(3)
    written = []
    for start in range(0, 900, 30):
        batch = every[start:start + 30]
        store.write(run_id, batch)
        written += batch
        if rnd.random() < 0.3:
            store.fold(run_id, close_all=rnd.random() < 0.3)
        assert store.summaries(run_id) == reference(written)
    result = store.fold(run_id, close_all=True)
    assert not result.aborted
    assert store.summaries(run_id) == reference(every)
    # Everything folded: the items alone hold the summaries, and no bucket is open.
    items = {i.sk: Summary.from_json(i.summary).public() for i in MetricSummaryItem.query(MetricSummaryItem.partition(run_id))}
    assert items == reference(every)
    assert registry(run_id).open == "{}"
    # Series and public=False reads agree.
    assert [p["value"] for p in store.series(run_id, "acc")] == [p.value for p in every if p.metric == "acc"]
    raw = store.read_summaries([run_id], public=False)[run_id]
    assert {m: Summary.from_json(s).public() for m, s in raw.items()} == reference(every)
    assert store.read_summaries([run_id], ["loss", "nope"])[run_id] == {"loss": reference(every)["loss"]}


def test_replays_of_folded_points_and_late_deliveries_into_closed_buckets_count_once(store):
    run_id = new_run()
    every = universe(600, spread_ms=5_000)  # 50 minutes
    for start in range(0, 400, 40):
        store.write(run_id, every[start:start + 40])
    store.fold(run_id, close_all=True)
    # a replay of folded points, re-batched, into closed buckets: all duplicates
    replay = store.write(run_id, every[35:95] + every[200:230])
    assert (replay.written, replay.duplicates) == (0, 90)
    # a late delivery mixing held points and new ones in a closed bucket reopens it
    late = store.write(run_id, every[390:450])
    assert (late.written, late.duplicates) == (50, 10)
    assert store.summaries(run_id) == reference(every[:450])
    store.fold(run_id)
    store.write(run_id, every[300:600])
    assert store.summaries(run_id) == reference(every)
    store.fold(run_id, close_all=True)
    assert store.summaries(run_id) == reference(every)


def test_step_less_points_are_numbered_from_the_exact_summary_across_folds(store):
    run_id = new_run()
    lines = [MetricPoint("acc", 0.1 * i, None, T0 + i * 1000, source_id=f"l{i}") for i in range(40)]
    for start in range(0, 40, 5):
        store.write(run_id, lines[start:start + 8])  # overlapping re-batches
        if start % 10 == 0:
            store.fold(run_id)
    assert [(p["step"], p["value"]) for p in store.series(run_id, "acc")] == [(i, 0.1 * i) for i in range(40)]
    assert store.summaries(run_id)["acc"]["last_step"] == 39


def test_a_fold_that_crashes_half_way_leaves_exact_summaries_and_the_next_one_finishes(store, monkeypatch):
    run_id = new_run()
    every = universe(400, metrics=tuple(f"m{i}" for i in range(8)), spread_ms=3_000)
    for start in range(0, 400, 25):
        store.write(run_id, every[start:start + 25])
    original, calls, lock = MetricSummaryItem.save, [0], threading.Lock()

    def crashing_save(self, *args, **kwargs):
        with lock:
            calls[0] += 1
            crash = calls[0] > 3
        if crash:
            raise RuntimeError("killed")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MetricSummaryItem, "save", crashing_save)
    with pytest.raises(RuntimeError):
        store.fold(run_id, close_all=True)
    monkeypatch.setattr(MetricSummaryItem, "save", original)
    written = list(MetricSummaryItem.query(MetricSummaryItem.partition(run_id)))
    assert 0 < len(written) < 8  # some items folded, the registry not moved
    assert store.summaries(run_id) == reference(every)
    store.write(run_id, every[100:150])  # a replay in between
    assert store.summaries(run_id) == reference(every)
    assert not store.fold(run_id, close_all=True).aborted
    assert store.summaries(run_id) == reference(every)
    assert registry(run_id).open == "{}"


def test_concurrent_writers_and_folds_never_lose_or_double_a_point(bound_tables):
    run_id = new_run()
    every = universe(800, metrics=("loss", "acc"), spread_ms=1_500)
    deliveries = [every[s:s + 60] for s in range(0, 800, 40)]  # overlapping by 20
    stop = threading.Event()
    errors = []

    def folder():
        folder_store = MetricStore(sleep=lambda s: None, seed=99, auto_fold=False)
        rnd = random.Random(5)
        while not stop.is_set():
            try:
                folder_store.fold(run_id, close_all=rnd.random() < 0.2)
            except Exception as error:  # noqa: BLE001
                errors.append(error)

    def writer(n, batch):
        # the store's own jittered backoff, as in production: without it 21 contenders that retry at
        # once can exhaust a writer's attempts (a livelock of the test, seen once in CI)
        MetricStore(seed=n).write(run_id, batch)  # auto-folds too

    folding = threading.Thread(target=folder)
    folding.start()
    threads = [threading.Thread(target=writer, args=(n, d)) for n, d in enumerate(deliveries)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    folding.join()
    assert not errors
    store = MetricStore()
    assert store.summaries(run_id) == reference(every)
    store.fold(run_id, close_all=True)
    assert store.summaries(run_id) == reference(every)
    assert len(store.series(run_id, "loss")) == 400


def test_the_metric_limit_holds_with_new_names_in_unfolded_commits(bound_tables):
    store = MetricStore(sleep=lambda s: None, seed=1, metrics_per_run_max=12, auto_fold=False)
    run_id = new_run()
    store.write(run_id, [MetricPoint(f"m{i}", 1.0, 0, T0) for i in range(10)])  # unfolded: no summary items yet
    store.write(run_id, [MetricPoint(f"m{i}", 2.0, 1, T0 + 1) for i in range(10)])  # known names: not counted again
    with pytest.raises(Exception) as error:
        store.write(run_id, [MetricPoint(f"n{i}", 1.0, 0, T0) for i in range(3)])
    assert "at most 12 metrics" in str(error.value)
    store.write(run_id, [MetricPoint("n0", 1.0, 0, T0), MetricPoint("n1", 1.0, 0, T0)])
    store.fold(run_id, close_all=True)
    assert len(store.summaries(run_id)) == 12 and int(registry(run_id).metrics) == 12


def test_commits_and_markers_name_their_run_for_the_stream_consumer(store):
    run_id = new_run()
    store.write(run_id, universe(30, spread_ms=60_000))  # 30 minutes: several buckets
    store.fold(run_id, close_all=True)
    items = list(MetricSegmentItem.query(MetricSegmentItem.shared_partition(run_id)))
    assert any(i.marker for i in items) and {i.run_id for i in items} == {run_id}


# -- property: any interleaving of deliveries and folds gives the summaries of the unique points ----
POOL = universe(120, metrics=("loss", "acc", "gpu"), spread_ms=20_000, seed=11)  # 40 minutes, 5 buckets

action = st.one_of(
    st.tuples(st.just("write"), st.integers(0, 119), st.integers(1, 40)),
    st.tuples(st.just("fold"), st.booleans(), st.just(0)),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(action, min_size=1, max_size=10), seed=st.integers(0, 1000))
def test_any_interleaving_of_deliveries_and_folds_gives_the_reference_summaries(bound_tables, actions, seed):
    store = MetricStore(sleep=lambda s: None, seed=seed, auto_fold=False)
    run_id = new_run()
    rnd = random.Random(seed)
    delivered = []
    for kind, a, b in actions:
        if kind == "write":
            batch = POOL[a:a + b]
            batch = rnd.sample(batch, len(batch))  # any order inside a delivery
            store.write(run_id, batch)
            delivered += batch
        else:
            store.fold(run_id, close_all=a)
        assert store.summaries(run_id) == reference(delivered)


# -- the search index reads the same exact summaries (through the DynamoDB Streams consumer) -------
def test_search_shows_exact_summaries_before_during_and_after_folds(api, local_stack, bound_tables):
    experiment = f"fold-search-{uuid.uuid4().hex[:6]}"
    api.post("/v1/experiments", {"name": experiment})
    runs = {name: api.post("/v1/runs", {"experiment": experiment, "name": name}).json()["run_id"] for name in ("a", "b")}
    rnd = random.Random(4)
    sent: dict[str, list[tuple[float, int, int]]] = {"a": [], "b": []}
    folder = MetricStore(sleep=lambda s: None, seed=2)

    def rows():
        local_stack.streams.flush()
        response = api.post("/v1/runs/search", {"experiments": [experiment], "order_by": "name", "columns":
                                                "name, metrics.loss.count, metrics.loss.min, metrics.loss.max, metrics.loss.last, metrics.loss.max_step"})
        assert response.status == 200, response.body
        return {row["name"]: (row["metrics.loss.count"], row["metrics.loss.min"], row["metrics.loss.max"],
                              row["metrics.loss.last"], row["metrics.loss.max_step"]) for row in response.json()["rows"]}

    def truth():
        out = {}
        for name, pts in sent.items():
            s = Summary.of(pts).public()
            out[name] = (s["count"], s["min"], s["max"], s["last"], s["max_step"])
        return out

    step = 0
    for round_ in range(6):
        for name, run_id in runs.items():
            batch = [{"name": "loss", "value": rnd.uniform(0, 9), "step": step + i, "timestamp": T0 + (step + i) * 10_000}
                     for i in range(25)]
            response = api.post(f"/v1/runs/{run_id}/log-batch", {"metrics": batch}, headers={"Idempotency-Key": f"{name}-{round_}"})
            assert response.status == 200, response.body
            # the same points again in another request: not counted twice
            api.post(f"/v1/runs/{run_id}/log-batch", {"metrics": batch[10:]}, headers={"Idempotency-Key": f"{name}-{round_}-again"})
            sent[name] += [(p["value"], p["step"], p["timestamp"]) for p in batch]
        step += 25
        if round_ % 2:
            folder.fold(runs["a"], close_all=round_ == 5)  # "a" folded now and then, "b" only by its writers
        assert rows() == truth()
