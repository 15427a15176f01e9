"""Sort keys, the documented order, cursors and pages."""

from __future__ import annotations

import base64
import json
import math

import pytest

from skytune.tracking.query import (
    CursorError,
    FilterSyntaxError,
    FilterValidationError,
    MetricStat,
    Param,
    SortKey,
    decode_cursor,
    encode_cursor,
    page,
    parse_order_by,
    render_order_by,
    search_runs,
    sort_runs,
)
from skytune.tracking.query.parser import MAX_ORDER_KEYS

from .helpers import run


def test_parse_order_by():
    order = parse_order_by("metrics.val_acc.max DESC, params.lr, name ASC")
    assert [key.render() for key in order] == ["metrics.val_acc.max DESC", "params.lr ASC", "name ASC"]
    assert order[0] == SortKey(MetricStat("val_acc", "max"), descending=True)
    assert order[1] == SortKey(Param("lr"))
    assert parse_order_by(None) == [] and parse_order_by("  ") == []
    assert parse_order_by(["params.lr desc", "name"]) == parse_order_by("params.lr DESC, name")
    assert parse_order_by(render_order_by(order)) == order


@pytest.mark.parametrize(
    ("text", "position", "error"),
    [
        ("params.lr DOWN", 10, FilterSyntaxError),
        ("params.lr,", 10, FilterSyntaxError),
        ("params.lr DESC name", 15, FilterSyntaxError),
        ("metrics.acc.best DESC", 12, FilterValidationError),
        (", name", 0, FilterSyntaxError),
    ],
)
def test_order_by_errors(text, position, error):
    with pytest.raises(error) as caught:
        parse_order_by(text)
    assert caught.value.position == position


def test_order_by_key_limit():
    with pytest.raises(FilterValidationError):
        parse_order_by(", ".join(["name"] * (MAX_ORDER_KEYS + 1)))


def ids(runs) -> list[str]:
    return [r.run_id for r in runs]


MIXED = [
    run("a", params={"x": 2}),
    run("b", params={"x": "beta"}),
    run("c", params={"x": 1.5}),
    run("d", params={}),
    run("e", params={"x": True}),
    run("f", params={"x": "alpha"}),
    run("g", params={"x": False}),
    run("h", params={"x": math.nan}),
    run("i", params={"x": 2.0}),
    run("j", params={"x": "alph"}),
]


def test_ascending_mixed_types_missing_last():
    # numbers, strings, booleans, missing (absent and NaN); ties on run_id
    assert ids(sort_runs(MIXED, parse_order_by("params.x"))) == ["c", "a", "i", "j", "f", "b", "g", "e", "d", "h"]


def test_descending_keeps_type_groups_and_missing_last():
    assert ids(sort_runs(MIXED, parse_order_by("params.x DESC"))) == ["a", "i", "c", "b", "f", "j", "e", "g", "d", "h"]


def test_several_keys_and_run_id_tie_break():
    runs = [
        run("r3", params={"lr": 0.1}, metrics={"acc": {"max": 0.9}}),
        run("r1", params={"lr": 0.1}, metrics={"acc": {"max": 0.9}}),
        run("r2", params={"lr": 0.01}, metrics={"acc": {"max": 0.9}}),
        run("r4", params={"lr": 0.5}, metrics={"acc": {"max": 0.95}}),
        run("r5", params={"lr": 0.5}),
    ]
    assert ids(sort_runs(runs, parse_order_by("metrics.acc.max DESC, params.lr"))) == ["r4", "r2", "r1", "r3", "r5"]
    assert ids(sort_runs(runs, [])) == ["r1", "r2", "r3", "r4", "r5"]


def test_unknown_metric_sorts_every_run_last_by_run_id():
    runs = [run("b"), run("a")]
    assert ids(sort_runs(runs, parse_order_by("metrics.unknown.max DESC"))) == ["a", "b"]


def test_string_descending_puts_longer_before_prefix():
    runs = [run("1", name="ab"), run("2", name="abc"), run("3", name="b"), run("4", name="")]
    assert ids(sort_runs(runs, parse_order_by("name DESC"))) == ["3", "2", "1", "4"]
    assert ids(sort_runs(runs, parse_order_by("name"))) == ["4", "1", "2", "3"]


def test_trial_sorts_by_smallest_name_and_timestamps_by_instant():
    runs = [run("1", trial=["z", "b"]), run("2", trial=["c"]), run("3")]
    assert ids(sort_runs(runs, parse_order_by("trial"))) == ["1", "2", "3"]
    runs = [run("1", created="2026-01-02"), run("2", created=1_767_225_600_000), run("3", created="garbage")]
    assert ids(sort_runs(runs, parse_order_by("created DESC"))) == ["1", "2", "3"]


# --- pagination -----------------------------------------------------------------------------


def numbered(count: int) -> list:
    return [run(f"run-{i:03d}", params={"score": i % 7}) for i in range(count)]


def test_pages_walk_every_row_once_in_order():
    runs = numbered(25)
    order = parse_order_by("params.score DESC")
    seen, cursor, pages = [], None, 0
    while True:
        result = page(reversed(runs), order, cursor, limit=10)
        seen += ids(result.items)
        pages += 1
        cursor = result.next_cursor
        if cursor is None:
            break
    assert pages == 3
    assert seen == ids(sort_runs(runs, order))


def test_exact_multiple_of_the_limit_ends_without_an_empty_page():
    runs = numbered(20)
    first = page(runs, [], None, 10)
    second = page(runs, [], first.next_cursor, 10)
    assert len(second.items) == 10 and second.next_cursor is None


def test_pages_are_stable_under_inserts_and_deletes():
    runs = numbered(30)
    order = parse_order_by("params.score")
    first = page(runs, order, None, 10)
    # New runs both before and after the cursor, and a deletion of a later run.
    runs += [run("new-early", params={"score": -1}), run("new-late", params={"score": 99})]
    runs = [r for r in runs if r.run_id != "run-006"]
    second = page(runs, order, first.next_cursor, 10)
    third = page(runs, order, second.next_cursor, 100)
    walked = ids(first.items) + ids(second.items) + ids(third.items)
    assert "new-early" not in walked and walked[-1] == "new-late"
    originals = [i for i in walked if i.startswith("run-")]
    assert len(originals) == len(set(originals)) == 29
    assert originals == ids(sort_runs([r for r in numbered(30) if r.run_id != "run-006"], order))


def test_cursor_round_trip_and_rejections():
    order = parse_order_by("params.score DESC, name")
    cursor = encode_cursor(order, [3.5, None], "run-9", context="f")
    assert "=" not in cursor
    assert decode_cursor(cursor, order, context="f") == ((0, -3.5), (3, 0), "run-9")
    with pytest.raises(CursorError):
        decode_cursor(cursor, order, context="another filter")
    with pytest.raises(CursorError):
        decode_cursor(cursor, parse_order_by("params.score"), context="f")
    with pytest.raises(CursorError):
        decode_cursor("not base64 !!", order)
    forged = base64.urlsafe_b64encode(json.dumps({"v": [{"x": 1}, None], "id": "r"}).encode()).decode()
    with pytest.raises(CursorError):
        decode_cursor(forged, order)
    with pytest.raises(CursorError):
        decode_cursor("x" * 10_000, order)


def test_page_limit_is_checked():
    with pytest.raises(ValueError):
        page([], [], None, 0)


def test_search_runs_filters_sorts_pages_and_projects():
    runs = [run(f"r{i}", name=f"n{i}", params={"lr": i / 10}, metrics={"acc": {"max": i / 100}}) for i in range(10)]
    first = search_runs(
        runs, filter="params.lr >= 0.3", order_by="metrics.acc.max DESC", columns="name, params.lr", limit=3
    )
    assert first.rows == [{"name": "n9", "params.lr": 0.9}, {"name": "n8", "params.lr": 0.8}, {"name": "n7", "params.lr": 0.7}]
    second = search_runs(
        runs, filter="params.lr >= 0.3", order_by="metrics.acc.max DESC", cursor=first.next_cursor, limit=10
    )
    assert second.rows == [{"run_id": f"r{i}"} for i in (6, 5, 4, 3)]
    assert second.next_cursor is None
    with pytest.raises(CursorError):  # same cursor, different filter
        search_runs(runs, filter="params.lr >= 0.4", order_by="metrics.acc.max DESC", cursor=first.next_cursor)
