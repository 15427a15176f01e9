"""The index's series columns (skytune.index.series): parts small enough for one read unit, exact round
trip through the real chunk encoding, one part rewritten when one run gains a point, and the limits
on what is held."""
from __future__ import annotations

import random

from skytune.index import format as fmt
from skytune.index import series as sv


def rows(count: int, points: int, seed: int = 0) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        steps = sorted(rnd.sample(range(points * 3), points))
        out.append({"id": f"run{i:05d}", "s": {"loss": [steps, [rnd.uniform(-1e6, 1e6) for _ in steps]],
                                              "acc": [[0, 0, 5], [0.5, 0.25, 1e-300]]}})
    return out


def decoded(blobs: dict[str, bytes]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for group, blob in blobs.items():
        if sv.is_series_group(group):
            out.setdefault(sv.metric_of(group), {}).update(sv.decode_part(fmt.decode_group(blob)))
    return out


def test_parts_fit_a_read_unit_and_round_trip_exactly():
    data = rows(300, 60)
    blobs = sv.encode(data)
    loss_parts = [group for group in blobs if group.startswith("sv:loss#")]
    assert len(loss_parts) > 4
    assert max(len(blob) for blob in blobs.values()) <= sv.PART_BYTES
    back = decoded(blobs)
    for row in data:
        for metric, (steps, values) in row["s"].items():
            assert back[metric][row["id"]] == (steps, values)  # same steps (several at one step too), same floats


def test_one_run_gaining_a_point_rewrites_one_part():
    data = rows(300, 20)
    before = sv.encode(data)
    steps, values = data[17]["s"]["loss"]
    data[17]["s"]["loss"] = [steps + [steps[-1] + 1], values + [0.125]]
    after = sv.encode(data)
    assert set(before) == set(after)
    assert [group for group in after if after[group] != before[group]] == [
        next(group for group, blob in after.items() if group.startswith("sv:loss#") and "run00017" in decoded({group: blob})["loss"])]


def test_only_short_series_of_runs_with_few_points_are_held():
    assert sv.wanted({"loss": 10, "acc": 256, "lr": 257, "empty": 0}) == ["acc", "loss"]
    assert sv.wanted({"loss": 10, "steps": sv.MAX_RUN_POINTS}) is None  # a fold never reads a long curve


def test_a_chunk_answers_from_its_parts_once_all_are_loaded():
    data = rows(50, 40)
    row_data = [{**row, "a": {"name": row["id"]}, "p": {}, "t": {}, "m": {"loss": {"count": 40}, "acc": {"count": 3}}}
                for row in data]
    blobs = fmt.encode(row_data)
    present = {group: 1 for group in blobs}
    chunk = fmt.Chunk({"f": fmt.FORMAT, "ids": sorted(row["id"] for row in data)}, present)
    for group in sorted(fmt.select_groups({"a", "m:loss", *[sv.group_prefix("loss")]}, present) - {"a"}):
        assert chunk.indexed_series("loss") is None  # not before every part is in
        chunk.add(group, fmt.decode_group(blobs[group]))
    assert chunk.indexed_series("loss") is not None and chunk.indexed_series("acc") is None
    run = chunk.runs[3]
    steps, values = data[3]["s"]["loss"]
    assert list(run.series("loss")) == list(zip(steps, values))
    assert run.series("val") == []  # a metric the run never logged
