"""The experiment index on DynamoDB Local: the stream consumer (real stream records from DynamoDB
Local's Streams, delivered as Lambda would), rebuild, corruption, deletion, freshness."""
from __future__ import annotations

import time
import uuid

import pytest

from skytune.index import IndexStore
from skytune.index.consumer import apply
from skytune.index.items import IndexChunkItem, IndexManifestItem, index_pk
from skytune.storage.repository import DynamoRepository


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def stack(local_stack, bound_tables):
    assert local_stack.streams is not None, "the template maps the table streams to the index consumer"
    return local_stack


def search(api, **body) -> dict:
    response = api.post("/v1/runs/search", body)
    assert response.status == 200, response.json()
    return response.json()


def names(api, experiment, **body) -> list[str]:
    return [row["name"] for row in search(api, experiments=[experiment], columns="name", order_by="name", limit=1000, **body)["rows"]]


def indexed_ids(experiment) -> set[str]:
    """run ids in the experiment's index, read straight from the index table."""
    store = IndexStore(DynamoRepository())
    return {run.run_id for run in store.snapshot(experiment).runs()}


def stream_records(stack, table: str) -> list[dict]:
    """Every record of the table's stream so far, in Lambda's event shape (trim horizon)."""
    poller = stack.streams
    mapping = next(m for m in poller.mappings if m.table == table)
    description = poller.streams.describe_stream(StreamArn=mapping.stream_arn)["StreamDescription"]
    records = []
    for shard in description["Shards"]:
        iterator = poller.streams.get_shard_iterator(StreamArn=mapping.stream_arn, ShardId=shard["ShardId"],
                                                     ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            page = poller.streams.get_records(ShardIterator=iterator, Limit=1000)
            records += [poller._lambda_record(mapping, r) for r in page["Records"]]
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return records


def test_create_update_delete_reach_the_index_through_the_stream(api, stack):
    experiment = unique("idx")
    api.post("/v1/experiments", {"name": experiment})
    runs = {name: api.post("/v1/runs", {"experiment": experiment, "name": name, "params": {"lr": lr}}).json()["run_id"]
            for name, lr in (("a", 0.1), ("b", 0.2), ("c", 0.3))}
    stack.streams.flush()
    assert names(api, experiment) == ["a", "b", "c"]
    # update: a tag and a metric summary (the metric store's write) both reach the index
    api.patch(f"/v1/runs/{runs['b']}", {"tags": {"keep": "yes"}})
    api.post(f"/v1/runs/{runs['c']}/log-batch", {"metrics": [{"name": "acc", "value": 0.9, "step": 1, "timestamp": 1}]})
    stack.streams.flush()
    assert names(api, experiment, filter="tags.keep = 'yes'") == ["b"]
    assert names(api, experiment, filter="metrics.acc.max > 0.5") == ["c"]
    # delete
    assert api.delete(f"/v1/runs/{runs['a']}").status in (200, 204)
    stack.streams.flush()
    assert names(api, experiment) == ["b", "c"]
    assert indexed_ids(experiment) == {runs["b"], runs["c"]}


def test_replayed_and_out_of_order_records_end_in_the_current_state(api, stack):
    """The whole stream of the tracking and metrics tables, delivered again reversed, then twice:
    the index still holds exactly the current runs with their current values."""
    experiment = unique("replay")
    api.post("/v1/experiments", {"name": experiment})
    kept = api.post("/v1/runs", {"experiment": experiment, "name": "kept", "params": {"lr": 0.1}}).json()["run_id"]
    gone = api.post("/v1/runs", {"experiment": experiment, "name": "gone"}).json()["run_id"]
    api.post(f"/v1/runs/{kept}/log-batch", {"metrics": [{"name": "loss", "value": v, "step": s, "timestamp": s}
                                                        for s, v in enumerate([0.9, 0.5, 0.2])]})
    api.patch(f"/v1/runs/{kept}", {"tags": {"stage": "final"}})
    api.delete(f"/v1/runs/{gone}")
    stack.streams.flush()
    records = [r for table in (stack.streams.mappings[0].table, stack.streams.mappings[1].table)
               for r in stream_records(stack, table)
               if experiment in str(r["dynamodb"]) or kept in str(r["dynamodb"]) or gone in str(r["dynamodb"])]
    assert any(r["eventName"] == "REMOVE" for r in records) and len(records) >= 6
    store = IndexStore(DynamoRepository())
    for batch in (list(reversed(records)), records, records[len(records) // 2:]):
        assert apply(store, store.repo, batch).failed_sequences == []
        assert indexed_ids(experiment) == {kept}
        row = search(api, experiments=[experiment], columns="name, tags.stage, metrics.loss.min, metrics.loss.last")["rows"]
        assert row == [{"name": "kept", "tags.stage": "final", "metrics.loss.min": 0.2, "metrics.loss.last": 0.2}]


def test_deleting_an_experiment_deletes_its_index(api, stack):
    experiment = unique("gone")
    api.post("/v1/experiments", {"name": experiment})
    run = api.post("/v1/runs", {"experiment": experiment, "name": "r"}).json()["run_id"]
    stack.streams.flush()
    assert indexed_ids(experiment) == {run}
    assert api.delete(f"/v1/runs/{run}").status in (200, 204)
    assert api.delete(f"/v1/experiments/{experiment}").status in (200, 204)
    stack.streams.flush()
    assert list(IndexChunkItem.query(index_pk(experiment))) == []


def test_reindex_rebuilds_a_lost_or_corrupt_index_and_never_answers_wrong(api, stack):
    experiment = unique("rebuild")
    api.post("/v1/experiments", {"name": experiment})
    for i in range(5):
        api.post("/v1/runs", {"experiment": experiment, "name": f"r{i}", "params": {"i": i}})
    stack.streams.flush()
    assert names(api, experiment, filter="params.i >= 3") == ["r3", "r4"]
    # corrupt a chunk: the reader notices the checksum, rebuilds, answers right
    manifest = IndexManifestItem.get(index_pk(experiment), "MANIFEST", consistent_read=True)
    chunk = next(iter(IndexChunkItem.query(index_pk(experiment), IndexChunkItem.sk.startswith("G"))))
    chunk.blob = chunk.blob[:-3] + b"xyz"
    chunk.save()
    fresh_api_process = IndexStore(DynamoRepository())  # no decoded chunks cached
    assert sorted(r.run_id for r in fresh_api_process.snapshot(experiment).runs()) == sorted(indexed_ids(experiment))
    assert IndexManifestItem.get(index_pk(experiment), "MANIFEST", consistent_read=True).gen > manifest.gen
    # lose it: the next search rebuilds it
    fresh_api_process.drop(experiment)
    assert names(api, experiment, filter="params.i >= 3") == ["r3", "r4"]
    # the route (what `skytune reindex` calls)
    response = api.post("/v1/index/rebuild", {"experiments": [experiment]})
    assert response.status == 200, response.json()
    assert response.json() == {"rebuilt": [{"experiment": experiment, "runs": 5}]}
    assert api.post("/v1/index/rebuild", {"experiments": [unique("nope")]}).status == 404


def test_a_new_run_is_searchable_within_two_seconds_without_flushing(api, stack):
    """Bounded staleness: the local stream poller folds a new run in well under 2 s."""
    experiment = unique("fresh")
    api.post("/v1/experiments", {"name": experiment})
    api.post("/v1/runs", {"experiment": experiment, "name": "first"})
    stack.streams.flush()
    assert names(api, experiment) == ["first"]
    api.post("/v1/runs", {"experiment": experiment, "name": "second"})
    written = time.monotonic()  # the write has been acknowledged
    while True:
        asked = time.monotonic()  # when the search that sees the run was asked (its own duration excluded)
        if names(api, experiment) == ["first", "second"]:
            break
        assert asked - written < 2.0, "a new run took longer than 2 s to reach search"
        time.sleep(0.02)
    assert asked - written < 2.0


def test_a_query_reads_only_its_column_groups_and_a_full_page_the_rest(api, stack):
    """Format 2 on DynamoDB Local: a snapshot for a query decodes the ids and the groups it names
    (one statistic of a metric, not its eleven); `complete` adds every other group at the versions
    read, and a page shown with every column then comes from the index, equal to the run items'."""
    from skytune.index import format as fmt

    experiment = unique("groups")
    api.post("/v1/experiments", {"name": experiment})
    for i in range(4):
        run = api.post("/v1/runs", {"experiment": experiment, "name": f"r{i}", "params": {"lr": i / 10, "opt": "adam"},
                                    "tags": {"t": str(i)}}).json()["run_id"]
        api.post(f"/v1/runs/{run}/log-batch", {"metrics": [{"name": "loss", "value": 1 / (i + s + 1), "step": s, "timestamp": s}
                                                           for s in range(3)]})
    stack.streams.flush()
    store = IndexStore(DynamoRepository())
    snapshot = store.snapshot(experiment, fmt.groups_for(["lr"], [], [("loss", "min")]))
    (chunk,) = snapshot.chunks
    assert chunk.loaded == {"a", "p:lr", "m:loss", "ms:min:loss"}
    assert {"at:name", "p:opt", "t:t", "ms:max:loss", "ms:last:loss"} <= set(chunk.present) - chunk.loaded
    assert store.complete(snapshot, [chunk]) and chunk.loaded == set(chunk.present) - {"sv:loss#0"}  # rows show no series
    full = search(api, experiments=[experiment], order_by="metrics.loss.min DESC", limit=4)["rows"]
    assert [row["name"] for row in full] == ["r0", "r1", "r2", "r3"]
    assert full[0]["params.opt"] == "adam" and full[0]["tags.t"] == "0" and full[0]["metrics.loss.min"] == 1 / 3


def test_at_and_window_come_from_the_series_columns_and_follow_new_points(api, stack):
    """`.at` / `.window` filters, sort keys and columns answered from the index's series columns (no
    series read), equal to the evaluator reading every series from the metric store: runs without
    the step or the metric, a later point at a step replacing the value, points logged after the
    index was built (folded by the stream consumer), and after a rebuild (`skytune reindex`)."""
    from skytune import metrics as metric_store
    from skytune.index import format as fmt
    from skytune.tracking import run_search
    from skytune.tracking.records import SearchRequest

    class Counting(metric_store.MetricStore):
        reads = 0

        def series(self, *args, **kwargs):
            Counting.reads += 1
            return super().series(*args, **kwargs)

    experiment = unique("steps")
    api.post("/v1/experiments", {"name": experiment})
    ids = {name: api.post("/v1/runs", {"experiment": experiment, "name": name}).json()["run_id"] for name in ("r0", "r1", "r2")}

    def log(name, points):
        response = api.post(f"/v1/runs/{ids[name]}/log-batch", {"metrics": [
            {"name": metric, "value": value, "step": step, "timestamp": ts} for metric, step, ts, value in points]})
        assert response.status in (200, 204), response.json()

    log("r0", [("loss", s, 1000 + s, 1.0 / (s + 1)) for s in range(4)])
    log("r1", [("loss", s, 2000 + s, 0.5 / (s + 1)) for s in range(2)])  # no step 3
    log("r2", [("acc", 3, 3000, 0.9)])  # no loss at all
    stack.streams.flush()

    request = SearchRequest(experiments=[experiment], filter="metrics.loss.window(0, 9).count >= 1",
                            order_by="metrics.loss.at(3) DESC, metrics.loss.window(1, 3).min",
                            columns="name, metrics.loss.at(3), metrics.loss.window(0, 9).max, metrics.loss.window(2, 3).last",
                            limit=2)

    def both():
        repo = DynamoRepository()
        scanned = run_search.search(repo, metric_store.MetricStore(), request)
        Counting.reads = 0
        pages, cursor = [], None
        while True:
            rows, _runs, cursor = run_search.search(repo, Counting(), request.model_copy(update={"cursor": cursor}),
                                                    IndexStore(repo))
            pages += rows
            if cursor is None:
                break
        assert Counting.reads == 0, "the index's series columns answer without reading a series"
        everything = run_search.search(repo, metric_store.MetricStore(), request.model_copy(update={"limit": 100}))[0]
        assert scanned[0] == everything[:2]
        assert pages == everything
        return pages

    assert both() == [
        {"name": "r0", "metrics.loss.at(3)": 0.25, "metrics.loss.window(0, 9).max": 1.0, "metrics.loss.window(2, 3).last": 0.25},
        {"name": "r1", "metrics.loss.at(3)": None, "metrics.loss.window(0, 9).max": 0.5, "metrics.loss.window(2, 3).last": None}]
    snapshot = IndexStore(DynamoRepository()).snapshot(experiment, fmt.groups_for([], [], [], metrics=["loss"]))
    (chunk,) = snapshot.chunks
    assert set(chunk.indexed_series("loss")) == {ids["r0"], ids["r1"]}

    # After the index was built: r1 reaches step 3, r0 logs step 3 again later (the latest point wins).
    log("r1", [("loss", 3, 2003, 0.05)])
    log("r0", [("loss", 3, 1100, 7.0)])
    stack.streams.flush()
    assert both() == [
        {"name": "r0", "metrics.loss.at(3)": 7.0, "metrics.loss.window(0, 9).max": 7.0, "metrics.loss.window(2, 3).last": 7.0},
        {"name": "r1", "metrics.loss.at(3)": 0.05, "metrics.loss.window(0, 9).max": 0.5, "metrics.loss.window(2, 3).last": 0.05}]

    # A rebuild (`skytune reindex`) writes the series columns again.
    assert api.post("/v1/index/rebuild", {"experiments": [experiment]}).status == 200
    assert both()[0]["metrics.loss.at(3)"] == 7.0
