"""The metric store on DynamoDB Local: exactly once, atomic, exact summaries, under faults."""
from __future__ import annotations

import random
import threading
import uuid

import pytest

from skytune.errors import InvalidInput, NotFound
from skytune.metrics import MetricPoint, MetricStore, Summary
from skytune.metrics.items import RunMetricsItem
from tests.support.faults import throttle_dynamodb_writes


@pytest.fixture
def store(bound_tables):
    return MetricStore(sleep=lambda s: None, seed=1)


@pytest.fixture
def run_id(store):
    run_id = str(uuid.uuid4())
    RunMetricsItem(*RunMetricsItem.key(run_id), metric_summaries={}, metrics_version=0).save()
    return run_id


def points(metric, n, start=0, seed=0):
    rnd = random.Random(seed)
    return [MetricPoint(metric, rnd.uniform(-5, 5), start + i, 1_700_000_000_000 + (start + i) * 1000) for i in range(n)]


def expected(points_):
    return Summary.of((p.value, p.step, p.timestamp_ms) for p in points_).public()


def test_points_and_summaries_are_stored(store, run_id):
    batch = points("loss", 50) + points("acc", 20, seed=3)
    result = store.write(run_id, batch)
    assert (result.written, result.duplicates) == (70, 0)
    summaries = store.summaries(run_id)
    assert summaries["loss"] == expected([p for p in batch if p.metric == "loss"])
    assert summaries["acc"]["count"] == 20
    series = store.series(run_id, "loss")
    assert [(p["step"], p["value"]) for p in series] == [(p.step, p.value) for p in batch if p.metric == "loss"]


def test_redelivered_batches_count_once_in_any_order(store, run_id):
    batches = [points("loss", 30, start=30 * b, seed=b) for b in range(6)]
    deliveries = [b for b in batches for _ in range(3)]
    random.Random(7).shuffle(deliveries)
    duplicates = sum(store.write(run_id, d).duplicates for d in deliveries)
    assert duplicates == 2 * 6 * 30
    every_point = [p for b in batches for p in b]
    assert store.summaries(run_id)["loss"] == expected(every_point)
    assert len(store.series(run_id, "loss")) == 180


def test_points_without_steps_are_numbered_in_arrival_order(store, run_id):
    first = [MetricPoint("lr", 0.1, None, 1000), MetricPoint("lr", 0.05, None, 2000)]
    second = [MetricPoint("lr", 0.01, None, 3000)]
    store.write(run_id, first)
    store.write(run_id, first)  # redelivered: not numbered again
    store.write(run_id, second)
    assert [(p["step"], p["value"]) for p in store.series(run_id, "lr")] == [(0, 0.1), (1, 0.05), (2, 0.01)]


def test_step_window_and_downsampling(store, run_id):
    store.write(run_id, points("loss", 500))
    window = store.series(run_id, "loss", min_step=100, max_step=199)
    assert [p["step"] for p in window] == list(range(100, 200))
    thin = store.series(run_id, "loss", max_points=40)
    assert len(thin) <= 40
    values = [p["value"] for p in store.series(run_id, "loss")]
    assert min(values) in [p["value"] for p in thin] and max(values) in [p["value"] for p in thin]


def test_concurrent_writers_never_lose_an_update(store, run_id):
    batches = [points("loss", 10, start=10 * b, seed=b) for b in range(16)]
    threads = [threading.Thread(target=MetricStore(sleep=lambda s: None, seed=b).write, args=(run_id, batch)) for b, batch in enumerate(batches)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.summaries(run_id)["loss"] == expected([p for b in batches for p in b])


def test_throttled_writes_are_retried_and_nothing_is_lost_or_doubled(store, run_id):
    batches = [points("loss", 25, start=25 * b, seed=b) for b in range(12)]
    with throttle_dynamodb_writes(rate=0.1, seed=5) as faults:
        for batch in batches + batches:
            store.write(run_id, batch)
    assert faults["throttled"] > 0
    assert store.summaries(run_id)["loss"] == expected([p for b in batches for p in b])


def test_bad_points_reject_the_whole_batch(store, run_id):
    batch = points("loss", 5) + [MetricPoint("loss", float("nan"), 9, 0)]
    with pytest.raises(InvalidInput) as error:
        store.write(run_id, batch)
    assert error.value.field == "points[5].value"
    assert store.summaries(run_id) == {}


def test_writing_to_a_missing_run_is_not_found(store):
    with pytest.raises(NotFound):
        store.write("no-such-run", points("loss", 3))


def test_metrics_with_few_points_share_one_item_and_read_back_separately(store, run_id):
    from benchmarks.capacity import capacity_meter

    big = points("loss", 150)
    small = [p for m in ("a", "b", "c") for p in points(m, 5, seed=ord(m))]
    with capacity_meter() as meter:
        store.write(run_id, big + small)
    assert meter["requests"]["TransactWriteItems"] == 1
    for metric in ("a", "b", "c"):
        assert [(p["step"], p["value"]) for p in store.series(run_id, metric)] == [(p.step, p.value) for p in small if p.metric == metric]
    assert len(store.series(run_id, "loss")) == 150
    assert store.write(run_id, big + small).duplicates == 165


def test_deleting_a_run_removes_its_own_and_shared_segments(store, run_id):
    store.write(run_id, points("loss", 150) + points("acc", 3))
    store.delete_run(run_id, ["loss", "acc"])
    assert store.series(run_id, "loss") == [] and store.series(run_id, "acc") == []
