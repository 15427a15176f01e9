"""Tracking domain without storage: validation, ids, lineage walks, search wiring."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from skytune.errors import InvalidInput, NotFound
from skytune.tracking import lineage, run_search
from skytune.tracking.ids import ULID_PATTERN, new_ulid, ulid_timestamp_ms
from skytune.tracking.records import Artifact, LogBatch, Run, RunInput, RunStatus, SearchRequest

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@given(st.integers(0, 2**48 - 1), st.binary(min_size=10, max_size=10))
def test_ulid_round_trips_its_timestamp(ms, entropy):
    ulid = new_ulid(ms, entropy)
    assert ULID_PATTERN.match(ulid) and ulid_timestamp_ms(ulid) == ms


@given(st.integers(0, 2**48 - 2), st.integers(0, 2**48 - 2))
def test_ulids_sort_by_time(a, b):
    first, second = new_ulid(a, b"\xff" * 10), new_ulid(b, b"\x00" * 10)
    if a < b:
        assert first < second


def test_params_keep_their_types_and_refuse_what_dynamodb_cannot_store():
    params = RunInput(experiment="e", params={"a": True, "b": 3, "c": 0.5, "d": "x", "e": 0}).params
    assert [type(v) for v in params.values()] == [bool, int, float, str, int]
    for bad in ({"x": 1e300}, {"x": 1e-200}, {"x": 10**40}, {"x": "y" * 6001}, {"bad\nname": 1}, {" lead": 1}):
        with pytest.raises(ValidationError):
            RunInput(experiment="e", params=bad)


def test_batch_refuses_nan_and_names_the_point():
    with pytest.raises(ValidationError) as raised:
        LogBatch.model_validate_json('{"metrics": [{"name": "a", "value": 1}, {"name": "a", "value": NaN}]}')
    assert raised.value.errors()[0]["loc"] == ("metrics", 1, "value")


def test_artifact_uris_have_no_whitespace():
    with pytest.raises(ValidationError):
        Artifact(name="a", uri="s3://b/has space")


def run(run_id, inputs=(), outputs=()):
    return Run(run_id=run_id, experiment="e", name=run_id, status=RunStatus.COMPLETED, created_at=NOW, updated_at=NOW,
               inputs=[Artifact(name=f"i{n}", uri=u) for n, u in enumerate(inputs)],
               outputs=[Artifact(name=f"o{n}", uri=u) for n, u in enumerate(outputs)])


class Link:
    def __init__(self, run_id, uri, name, direction):
        self.run_id, self.uri, self.name, self.direction = run_id, uri, name, direction
        self.media_type = self.digest = None


class FakeLineageRepo:
    def __init__(self, runs):
        self.runs = {r.run_id: r for r in runs}

    def get_runs(self, ids):
        return [self.runs[i] for i in ids if i in self.runs]

    def artifact_links_by_uri(self, uri):
        links = []
        for r in self.runs.values():
            links += [Link(r.run_id, a.uri, a.name, "input") for a in r.inputs if a.uri == uri]
            links += [Link(r.run_id, a.uri, a.name, "output") for a in r.outputs if a.uri == uri]
        return links


def test_lineage_walks_both_ways_by_depth_and_survives_cycles():
    repo = FakeLineageRepo([run("a", ["raw"], ["f"]), run("b", ["f"], ["m"]), run("c", ["m"], ["raw"])])  # a cycle
    one = lineage.of_run(repo, "b")
    assert [r["run_id"] for r in one["upstream"]["runs"]] == ["a"]
    assert [r["run_id"] for r in one["downstream"]["runs"]] == ["c"]
    far = lineage.of_run(repo, "b", depth=5)
    assert {r["run_id"]: r["depth"] for r in far["upstream"]["runs"]} == {"a": 1, "c": 2}
    assert "b" not in {r["run_id"] for r in far["downstream"]["runs"]}
    by_uri = lineage.of_artifact(repo, "m", depth=1)
    assert [r["run_id"] for r in by_uri["upstream"]["runs"]] == ["b"]
    assert [r["run_id"] for r in by_uri["downstream"]["runs"]] == ["c"]
    with pytest.raises(NotFound):
        lineage.of_artifact(repo, "nothing")
    with pytest.raises(InvalidInput):
        lineage.of_run(repo, "b", depth=0)


class FakeSearchRepo:
    def __init__(self, records):
        self.records = records

    def experiment_names(self):
        return sorted({r["experiment"] for r in self.records})

    def get_experiment(self, name):
        return name if name in self.experiment_names() else None

    def iter_run_records(self, experiment, params=None, tags=None, metrics=None):
        # Whole records whatever the projection asks for: always a correct answer.
        return (r for r in self.records if r["experiment"] == experiment)

    def run_records(self, run_ids):
        by_id = {r["run_id"]: r for r in self.records}
        return [by_id[run_id] for run_id in run_ids]


def summary(values):
    """The stored form the metric store keeps (its own Summary JSON)."""
    from skytune.metrics import Summary

    s = Summary()
    for step, v in enumerate(values):
        s.add(v, step, 1000 + step)
    return s.to_json()


def record(run_id, experiment, lr, acc):
    return {"run_id": run_id, "name": run_id, "experiment": experiment, "status": "Completed", "trials": [],
            "parent": None, "source": None, "created_at": NOW, "start_time": NOW, "end_time": None,
            "params": {"lr": lr}, "tags": {}, "metric_summaries": {"acc": summary(acc)}}


class NoSeries:
    def series(self, *args, **kwargs):
        raise AssertionError("summaries only: no series read expected")


def test_search_decodes_only_what_it_needs_and_reports_bad_queries_by_field():
    repo = FakeSearchRepo([record("r1", "e1", 0.1, [0.5, 0.7]), record("r2", "e1", 0.01, [0.9]),
                           record("r3", "e2", 0.001, [0.2])])
    rows, _runs, cursor = run_search.search(repo, NoSeries(), SearchRequest(
        filter="params.lr < 0.05 OR metrics.acc.max > 0.6", order_by="metrics.acc.max DESC", columns="run_id"))
    assert [r["run_id"] for r in rows] == ["r2", "r1", "r3"] and cursor is None
    with pytest.raises(InvalidInput) as raised:
        run_search.search(repo, NoSeries(), SearchRequest(filter="params.lr <"))
    assert raised.value.field == "filter" and raised.value.details["position"] == 11
    with pytest.raises(NotFound):
        run_search.search(repo, NoSeries(), SearchRequest(experiments=["nope"]))


def test_lazy_summaries_decode_on_access():
    lazy = run_search.LazySummaries({"acc": summary([1.0, 3.0])})
    assert len(lazy) == 1 and list(lazy) == ["acc"] and not lazy._decoded
    assert lazy["acc"]["avg"] == 2.0 and json.dumps(lazy["acc"])
