"""The metric store on DynamoDB Local: exactly once, atomic, exact summaries, under faults."""
from __future__ import annotations

import random
import threading
import uuid

import pytest

from skytune.errors import InvalidInput, NotFound
from skytune.metrics import MetricPoint, MetricStore, Summary
from skytune.storage.items import RunItem
from tests.support.faults import throttle_dynamodb_writes


@pytest.fixture
def store(bound_tables):
    return MetricStore(sleep=lambda s: None, seed=1)


@pytest.fixture
def run_id(store):
    return new_run()


def new_run(experiment="store-tests"):
    from datetime import datetime, timezone

    run_id, now = str(uuid.uuid4()), datetime.now(timezone.utc)
    RunItem(*RunItem.key(run_id), gsi1pk=RunItem.listing_key(experiment), gsi1sk=run_id, run_id=run_id,
            experiment=experiment, name=run_id, status="RUNNING", created_at=now, updated_at=now).save()
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


# -- issue 9: thousands of metrics per run, point identity ----------------------------------------
def test_a_run_holds_ten_thousand_metric_names_with_exact_summaries(store):
    run_id = new_run()
    rnd = random.Random(9)
    batches = [[MetricPoint(f"layer{b * 1000 + i}/grad_norm", rnd.uniform(0, 3), 0, 1_700_000_000_000 + i) for i in range(1000)]
               for b in range(10)]
    for batch in batches:
        assert store.write(run_id, batch).written == 1000
    # Every name again with a second point: the summaries of 10,000 metrics are all updated exactly.
    second = [MetricPoint(p.metric, p.value * 2, 1, p.timestamp_ms + 1000) for p in batches[3]]
    store.write(run_id, second)
    summaries = store.summaries(run_id)
    assert len(summaries) == 10_000
    sample = batches[3][17]
    assert summaries[sample.metric] == expected([sample, second[17]])
    assert summaries[batches[9][999].metric] == expected([batches[9][999]])


def test_past_the_metric_limit_a_new_name_is_a_400_and_nothing_is_written(bound_tables):
    store = MetricStore(sleep=lambda s: None, seed=1, metrics_per_run_max=30)
    run_id = new_run()
    store.write(run_id, [MetricPoint(f"m{i}", 1.0, 0, 1000) for i in range(25)])
    with pytest.raises(InvalidInput) as error:
        store.write(run_id, [MetricPoint(f"n{i}", 1.0, 0, 1000) for i in range(6)])
    assert error.value.field == "metrics" and "at most 30 metrics" in str(error.value)
    store.write(run_id, [MetricPoint("m0", 2.0, 1, 2000)] + [MetricPoint(f"n{i}", 1.0, 0, 1000) for i in range(5)])
    assert len(store.summaries(run_id)) == 30


def test_every_summary_item_names_its_run_and_experiment(store):
    from skytune.metrics.items import MetricCountItem, MetricSegmentItem, MetricSummaryItem

    run_id = new_run("stream-consumers")
    store.write(run_id, points("loss", 150) + points("acc", 3))
    store.fold(run_id, close_all=True)  # summary items are written by folds
    items = list(MetricSummaryItem.query(MetricSummaryItem.partition(run_id)))
    assert sorted(i.metric for i in items) == ["acc", "loss"]
    assert {(i.run_id, i.experiment) for i in items} == {(run_id, "stream-consumers")}
    count = MetricCountItem.get(*MetricCountItem.key(run_id))
    assert (count.run_id, count.experiment, count.metrics) == (run_id, "stream-consumers", 2)
    segments = list(MetricSegmentItem.query(MetricSegmentItem.shared_partition(run_id)))
    assert segments and {s.run_id for s in segments} == {run_id}


def test_overlapping_deliveries_with_point_identities_store_each_point_once(store):
    run_id = new_run()
    every = [MetricPoint("loss", random.Random(i).uniform(0, 1), i, 1_700_000_000_000 + i * 1000, source_id=f"event-{i}")
             for i in range(1, 11)]
    deliveries = [every[0:5], every[2:7], every[4:10], every[0:10], every[9:10] + every[0:1]]
    results = [store.write(run_id, d) for d in deliveries]
    assert [r.written for r in results] == [5, 2, 3, 0, 0]
    assert [r.duplicates for r in results] == [0, 3, 3, 10, 2]
    assert store.summaries(run_id)["loss"] == expected(every)
    assert [p["step"] for p in store.series(run_id, "loss")] == list(range(1, 11))


def test_step_less_points_with_identities_are_numbered_once(store):
    run_id = new_run()
    lines = [MetricPoint("acc", 0.1 * i, None, 1_700_000_000_000 + i, source_id=f"e{i}") for i in range(6)]
    store.write(run_id, lines[:4])
    store.write(run_id, lines[2:])  # re-batched: e2, e3 again
    assert [(p["step"], p["value"]) for p in store.series(run_id, "acc")] == [(i, 0.1 * i) for i in range(6)]


def test_identify_by_metric_step_and_timestamp_across_requests(store):
    run_id = new_run()
    a = points("loss", 20, seed=1)
    assert store.write(run_id, a[:12], identify=True).written == 12
    result = store.write(run_id, a[8:], identify=True)
    assert (result.written, result.duplicates) == (8, 4)
    assert store.summaries(run_id)["loss"] == expected(a)


def test_concurrent_overlapping_deliveries_never_double_count(bound_tables):
    run_id = new_run()
    every = [MetricPoint("loss", float(i), i, 1_700_000_000_000 + i * 1000, source_id=f"e{i}") for i in range(60)]
    deliveries = [every[s:s + 20] for s in range(0, 41, 5)]
    threads = [threading.Thread(target=MetricStore(sleep=lambda s: None, seed=n).write, args=(run_id, d))
               for n, d in enumerate(deliveries)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store = MetricStore()
    assert store.summaries(run_id)["loss"] == expected(every)
    assert len(store.series(run_id, "loss")) == 60


def test_points_far_apart_in_time_are_written_in_several_transactions(store):
    run_id = new_run()
    spread = [MetricPoint("loss", float(i), i, 1_700_000_000_000 + i * 3_600_000) for i in range(300)]  # 300 hours
    assert store.write(run_id, spread, identify=True).written == 300
    assert store.summaries(run_id)["loss"] == expected(spread)
    assert store.write(run_id, spread, identify=True).duplicates == 300
