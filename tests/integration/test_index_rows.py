"""Pages shown in full from the index's row items (skytune.index.rows) on DynamoDB Local: the rows
follow the runs through the stream consumer, equal what the tables give, and a row that is missing
or does not decode sends its run to the tables instead of ever being shown wrong."""
from __future__ import annotations

import uuid

import pytest

from skytune.index import IndexStore
from skytune.index import rows as row_format
from skytune.index.items import ROW_PREFIX, IndexChunkItem, IndexRowItem, index_pk, row_sk
from skytune.metrics import MetricStore
from skytune.storage.repository import DynamoRepository
from skytune.tracking import run_search
from skytune.tracking.records import SearchRequest


@pytest.fixture(scope="module")
def stack(local_stack, bound_tables):
    return local_stack


@pytest.fixture
def table_reads(monkeypatch):
    """The run ids each full page read from the tables (instead of from row items). A page of a
    few runs of a small bucket would be read from the decoded chunks (a page of at least a tenth of
    their runs: `FULL_ROWS_SHARE`); as in large buckets, these pages (smaller than the bucket) go to
    the rows."""
    from skytune.index import search as indexed

    monkeypatch.setattr(indexed, "FULL_ROWS_SHARE", 1)
    asked: list[list[str]] = []
    original = run_search.page_records

    def spy(repo, run_ids):
        asked.append(list(run_ids))
        return original(repo, run_ids)

    monkeypatch.setattr(run_search, "page_records", spy)
    return asked


def stored_row(experiment: str, run_id: str) -> dict | None:
    try:
        item = IndexRowItem.get(index_pk(experiment), row_sk(run_id), consistent_read=True)
    except IndexRowItem.DoesNotExist:
        return None
    return row_format.decode(bytes(item.blob))


def row_ids(experiment: str) -> set[str]:
    return {item.sk[len(ROW_PREFIX):] for item in IndexRowItem.query(index_pk(experiment), IndexRowItem.sk.startswith(ROW_PREFIX))}


def page(experiment: str, index, **query) -> list[dict]:
    request = SearchRequest(experiments=[experiment], **query)
    return run_search.search(DynamoRepository(), MetricStore(), request, index)[0]


def make_runs(api, experiment: str, count: int) -> dict[str, str]:
    api.post("/v1/experiments", {"name": experiment})
    runs = {}
    for i in range(count):
        run = api.post("/v1/runs", {"experiment": experiment, "name": f"r{i:02d}",
                                    "params": {"lr": i / 100, "layers": i % 4, "opt": ["adam", "sgd"][i % 2]},
                                    "tags": {"team": "a" if i % 3 else "b"}}).json()["run_id"]
        api.post(f"/v1/runs/{run}/log-batch", {"metrics": [
            {"name": "loss", "value": 1 / (i + step + 1), "step": step, "timestamp": step} for step in range(3)] + [
            {"name": "acc", "value": i / 40, "step": 0, "timestamp": 0}]})
        runs[f"r{i:02d}"] = run
    return runs


def test_rows_follow_the_runs_and_a_page_reads_no_run_from_the_tables(api, stack, table_reads):
    experiment = f"rows-{uuid.uuid4().hex[:8]}"
    runs = make_runs(api, experiment, 8)
    stack.streams.flush()
    repo = DynamoRepository()
    # every run's row is its record as the tables give it
    assert row_ids(experiment) == set(runs.values())
    for record in repo.run_records(list(runs.values()), consistent=True):
        assert stored_row(experiment, record["run_id"]) == record
    # a page of 2: rows from the row items, none from the tables, and the
    # same rows the scan path (the reference, every run read from the tables) gives
    query = {"filter": "params.opt = 'sgd' OR metrics.loss.min < 0.04", "order_by": "metrics.acc.max DESC", "limit": 2}
    index = IndexStore(repo)
    got = page(experiment, index, **query)
    assert [row["name"] for row in got] == ["r07", "r05"]
    assert table_reads == [[]]
    assert got == page(experiment, None, **query)
    assert got[0]["params.lr"] == 0.07 and got[0]["tags.team"] == "a" and got[0]["metrics.loss.min"] == 1 / 10
    # an update and new points: the consumer rewrites the row
    api.patch(f"/v1/runs/{runs['r07']}", {"tags": {"team": "z"}})
    api.post(f"/v1/runs/{runs['r07']}/log-batch", {"metrics": [{"name": "loss", "value": 0.001, "step": 9, "timestamp": 9}]})
    stack.streams.flush()
    assert stored_row(experiment, runs["r07"]) == repo.run_records([runs["r07"]], consistent=True)[0]
    got = page(experiment, index, **query)
    assert got[0]["name"] == "r07" and got[0]["tags.team"] == "z" and got[0]["metrics.loss.min"] == 0.001
    assert got == page(experiment, None, **query)
    # a deleted run's row goes with it
    assert api.delete(f"/v1/runs/{runs['r00']}").status in (200, 204)
    stack.streams.flush()
    assert runs["r00"] not in row_ids(experiment) and len(row_ids(experiment)) == 7


def test_a_missing_or_corrupt_row_is_read_from_the_tables_never_shown_wrong(api, stack, table_reads):
    experiment = f"rows-bad-{uuid.uuid4().hex[:8]}"
    runs = make_runs(api, experiment, 6)
    stack.streams.flush()
    query = {"order_by": "params.lr DESC", "limit": 3}
    expected = page(experiment, None, **query)
    assert [row["name"] for row in expected] == ["r05", "r04", "r03"]
    # r05's row: another run's record under its key, with a valid checksum, is refused;
    # r04's row: bytes that fail the checksum; r03's row: gone
    wrong = row_format.encode(DynamoRepository().run_records([runs["r00"]])[0])
    from skytune.index import format as fmt

    IndexRowItem(index_pk(experiment), row_sk(runs["r05"]), crc=fmt.checksum(wrong), blob=wrong).save()
    corrupt = IndexRowItem.get(index_pk(experiment), row_sk(runs["r04"]))
    corrupt.blob = bytes(corrupt.blob)[:-3] + b"xyz"
    corrupt.save()
    IndexRowItem(index_pk(experiment), row_sk(runs["r03"])).delete()
    del table_reads[:]
    assert page(experiment, IndexStore(DynamoRepository()), **query) == expected
    assert sorted(table_reads[0]) == sorted([runs["r05"], runs["r04"], runs["r03"]])
    # a rebuild writes them again (and deletes rows of runs it no longer has)
    ghost = f"01{uuid.uuid4().hex[:24].upper()}"
    IndexRowItem(index_pk(experiment), row_sk(ghost), crc=fmt.checksum(wrong), blob=wrong).save()
    IndexStore(DynamoRepository()).rebuild(experiment)
    assert row_ids(experiment) == set(runs.values())
    del table_reads[:]
    assert page(experiment, IndexStore(DynamoRepository()), **query) == expected
    assert table_reads == [[]]


def test_deleting_an_experiment_deletes_its_rows(api, stack):
    experiment = f"rows-gone-{uuid.uuid4().hex[:8]}"
    runs = make_runs(api, experiment, 2)
    stack.streams.flush()
    assert row_ids(experiment) == set(runs.values())
    for run in runs.values():
        assert api.delete(f"/v1/runs/{run}").status in (200, 204)
    assert api.delete(f"/v1/experiments/{experiment}").status in (200, 204)
    stack.streams.flush()
    assert row_ids(experiment) == set() and list(IndexChunkItem.query(index_pk(experiment))) == []
