"""Projection, the runs table, CSV, group-by and referenced()."""

from __future__ import annotations

import csv
import io
import math
import statistics

import pytest

from skytune.tracking.query import (
    Aggregate,
    FilterSyntaxError,
    FilterValidationError,
    MetricStat,
    Param,
    References,
    SeriesRead,
    group_by,
    parse_aggregates,
    parse_columns,
    parse_filter,
    parse_order_by,
    project,
    referenced,
    runs_table,
    table_columns,
    to_csv,
)

from .helpers import run


def test_columns_keep_the_text_as_written():
    columns = parse_columns("name,  params.lr , metrics.`val/acc`.max, metrics.loss.window(1,5).min")
    assert [c.key for c in columns] == ["name", "params.lr", "metrics.`val/acc`.max", "metrics.loss.window(1,5).min"]
    assert columns[2].field == MetricStat("val/acc", "max")
    assert parse_columns(["name", "params.lr, tags.t"]) == parse_columns("name, params.lr, tags.t")
    assert [c.key for c in parse_columns("name, name, Name")] == ["name", "Name"]
    assert parse_columns(None) == [] and parse_columns("") == []


def test_column_errors_carry_position_and_item():
    with pytest.raises(FilterSyntaxError) as caught:
        parse_columns("name params.lr")
    assert caught.value.position == 5
    with pytest.raises(FilterValidationError) as caught:
        parse_columns(["name", "metrics.acc.best"])
    assert caught.value.position == 12 and caught.value.item == 1


def test_project_is_json_ready():
    target = run(
        "r1",
        name="n",
        trial=("t1", "t2"),
        created="2026-01-01T00:00:00Z",
        params={"lr": 0.1, "bad": math.nan},
        metrics={"acc": {"max": 0.9}},
        series={"acc": [(1, 0.5), (2, 0.9)]},
    )
    columns = parse_columns("run_id, name, trial, created, params.lr, params.bad, params.none, metrics.acc.max, metrics.acc.at(2)")
    assert project(target, columns) == {
        "run_id": "r1",
        "name": "n",
        "trial": ["t1", "t2"],
        "created": 1_767_225_600_000,
        "params.lr": 0.1,
        "params.bad": None,
        "params.none": None,
        "metrics.acc.max": 0.9,
        "metrics.acc.at(2)": 0.9,
    }


RUNS = [
    run("r1", name="a", trial=["sweep"], params={"lr": 0.1, "seed": 1}, tags={"t": "x"}, metrics={"acc": {"max": 0.8, "min": 0.1}}),
    run("r2", name="b", trial=["sweep", "best"], params={"lr": 0.1, "seed": 2}, metrics={"acc": {"max": 0.9}, "loss": {"min": 0.3}}),
    run("r3", name="c", params={"lr": 0.01, "seed": 1, "opt": "adam"}, metrics={"acc": {"max": 0.7}}),
    run("r4", name="d", params={"lr": 0.01, "seed": 2}, metrics={"acc": {"max": math.nan}}),
    run("r5", name="e", params={"seed": 3}, metrics={"acc": {"max": 0.5}}),
    run("r6", name="f", params={"lr": 0.1, "seed": 3}, metrics={"acc": {"max": 1.0}}),
    run("r7", name="g", params={"lr": True}, metrics={"acc": {"max": 0.6}}),
]


def test_table_columns_are_stable_and_complete():
    keys = [c.key for c in table_columns(RUNS, metric_stats=("max", "min"))]
    assert keys == [
        "run_id", "name", "experiment", "trial", "status", "created", "started", "ended", "source", "parent",
        "params.lr", "params.opt", "params.seed",
        "metrics.acc.max", "metrics.acc.min", "metrics.loss.max", "metrics.loss.min",
        "tags.t",
    ]  # fmt: skip
    assert keys == [c.key for c in table_columns(list(reversed(RUNS)), metric_stats=("max", "min"))]
    assert [c.key for c in parse_columns(keys)] == keys  # canonical keys parse back
    with pytest.raises(ValueError):
        table_columns(RUNS, metric_stats=("best",))


def test_runs_table_and_csv():
    rows = runs_table(RUNS[:2], "name, trial, params.lr, metrics.acc.max, tags.t")
    assert rows == [
        {"name": "a", "trial": ["sweep"], "params.lr": 0.1, "metrics.acc.max": 0.8, "tags.t": "x"},
        {"name": "b", "trial": ["sweep", "best"], "params.lr": 0.1, "metrics.acc.max": 0.9, "tags.t": None},
    ]
    text = to_csv(rows)
    assert text == (
        "name,trial,params.lr,metrics.acc.max,tags.t\r\n"
        "a,sweep,0.1,0.8,x\r\n"
        "b,sweep;best,0.1,0.9,\r\n"
    )
    full = runs_table(RUNS)
    assert list(full[0]) == [c.key for c in table_columns(RUNS)]
    assert full[6]["params.lr"] is True and full[4]["params.lr"] is None


def test_csv_cells_quoting_and_formula_guard():
    rows = [{"a": "=SUM(A1)", "b": -1.5, "c": 'say "hi", ok', "d": False, "e": 1e-7, "f": math.nan}]
    text = to_csv(rows, ["a", "b", "c", "d", "e", "f", "missing"])
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed == [["a", "b", "c", "d", "e", "f", "missing"], ["'=SUM(A1)", "-1.5", 'say "hi", ok', "false", "1e-07", "", ""]]
    assert "'=" not in to_csv(rows, ["a"], guard_formulas=False)
    assert to_csv([], "name, params.lr") == "name,params.lr\r\n"


def test_group_by_mean_std_count_median():
    rows = group_by(
        RUNS,
        keys=["params.lr"],
        aggregates=[
            "count()",
            "count(metrics.acc.max)",
            "mean(metrics.acc.max)",
            "std(metrics.acc.max)",
            "median(metrics.acc.max)",
            "min(metrics.acc.max)",
            "max(metrics.acc.max)",
            "sum(params.seed)",
        ],
    )
    # groups: 0.01, 0.1 (numbers ascending), true (boolean), then missing
    assert [row["params.lr"] for row in rows] == [0.01, 0.1, True, None]
    low, high, flag, missing = rows
    assert low["count()"] == 2 and low["count(metrics.acc.max)"] == 1  # NaN skipped
    assert low["mean(metrics.acc.max)"] == 0.7 and low["std(metrics.acc.max)"] is None  # n < 2
    assert high["count()"] == 3
    assert high["mean(metrics.acc.max)"] == pytest.approx(0.9)
    assert high["std(metrics.acc.max)"] == pytest.approx(statistics.stdev([0.8, 0.9, 1.0]))
    assert high["std(metrics.acc.max)"] == pytest.approx(0.1)  # sample (n-1) std
    assert high["median(metrics.acc.max)"] == 0.9
    assert (high["min(metrics.acc.max)"], high["max(metrics.acc.max)"]) == (0.8, 1.0)
    assert high["sum(params.seed)"] == 6
    assert flag["count()"] == 1 and missing["count()"] == 1 and missing["mean(metrics.acc.max)"] == 0.5


def test_group_by_several_keys_multi_valued_and_empty_aggregates():
    rows = group_by(RUNS, "trial, params.seed", "count(), mean(params.opt)")
    assert [(r["trial"], r["params.seed"], r["count()"]) for r in rows] == [
        ("best", 2, 1),
        ("sweep", 1, 1),
        ("sweep", 2, 1),
        (None, 1, 1),
        (None, 2, 1),
        (None, 3, 2),
        (None, None, 1),
    ]
    assert all(r["mean(params.opt)"] is None for r in rows)  # strings are not averaged


def test_group_keys_separate_true_from_one_but_join_one_and_one_point_zero():
    runs = [run("a", params={"k": 1}), run("b", params={"k": 1.0}), run("c", params={"k": True})]
    rows = group_by(runs, "params.k", "count()")
    assert [(r["params.k"], r["count()"]) for r in rows] == [(1, 2), (True, 1)]


def test_aggregate_parsing_and_errors():
    assert parse_aggregates("count(), mean(metrics.a.max)") == [
        Aggregate("count", None, "count()"),
        Aggregate("mean", MetricStat("a", "max"), "mean(metrics.a.max)"),
    ]
    with pytest.raises(FilterValidationError) as caught:
        parse_aggregates("avgg(params.x)")
    assert caught.value.position == 0
    with pytest.raises(FilterSyntaxError) as caught:
        parse_aggregates("mean()")
    assert caught.value.position == 5
    with pytest.raises(FilterSyntaxError) as caught:
        parse_aggregates("mean(params.x")
    assert caught.value.position == 13
    with pytest.raises(ValueError):
        group_by(RUNS, [], "count()")


def test_referenced_collects_what_storage_must_fetch():
    expr = parse_filter(
        "params.lr < 0.1 AND (tags.team = 'x' OR NOT status = 'Failed') "
        "AND metrics.loss.at(10) < 1 AND metrics.loss.window(5, 8).min < 1 AND metrics.acc.max > 0 "
        "AND metrics.loss.window(11, 20).count > 0 AND metrics.loss.window(30, 40).count > 0"
    )
    needs = referenced(expr, parse_order_by("created DESC, params.seed"), parse_columns("name"), parse_aggregates("mean(metrics.acc.min)"))
    assert needs.attributes == {"status", "created", "name"}
    assert needs.params == {"lr", "seed"}
    assert needs.tags == {"team"}
    assert needs.metric_stats == {("acc", "max"), ("acc", "min")}
    assert needs.summary_metrics == {"acc"}
    assert needs.series == {
        SeriesRead("loss", 10, 10),
        SeriesRead("loss", 5, 8),
        SeriesRead("loss", 11, 20),
        SeriesRead("loss", 30, 40),
    }
    # (5, 8) and (10, 20) stay apart: step 9 is not needed.
    assert needs.series_windows() == {"loss": [(5, 8), (10, 20), (30, 40)]}
    assert needs.needs_series
    assert referenced(parse_filter(None)) == References()
    assert referenced(Param("a")) | referenced(MetricStat("m", "min")) == References(
        params=frozenset({"a"}), metric_stats=frozenset({("m", "min")})
    )
    with pytest.raises(TypeError):
        referenced(42)


# -- SageMaker's frame (issue 12 §4) ------------------------------------------------------------------
def test_sagemaker_column_names_follow_experiment_analytics():
    from skytune.tracking.query.analytics import sagemaker_column_names

    keys = ["run_id", "name", "source", "trial", "experiment", "created", "params.lr", "metrics.test:accuracy.max",
            "metrics.test:accuracy.stddev", "metrics.loss.at(3)", "tags.team", "params.DisplayName"]
    assert sagemaker_column_names(keys) == [
        "TrialComponentName", "DisplayName", "SourceArn", "Trials", "Experiments", "CreationTime", "lr",
        "test:accuracy - Max", "test:accuracy - StdDev", "metrics.loss.at(3)", "tags.team",
        "params.DisplayName",  # would repeat DisplayName: keeps its own key
    ]


def test_datetime_columns_become_rfc3339_utc_strings():
    from skytune.tracking.query.analytics import shape_table

    rows = [{"created": 1769817600250, "ended": None, "metrics.loss.last_timestamp": 0, "params.lr": 1769817600250}]
    shaped, names = shape_table(rows, list(rows[0]), naming="sagemaker", datetimes="iso8601")
    assert names == ["CreationTime", "EndTime", "loss - LastTimestamp", "lr"]
    assert shaped == [{"CreationTime": "2026-01-31T00:00:00.250Z", "EndTime": None,
                       "loss - LastTimestamp": "1970-01-01T00:00:00.000Z", "lr": 1769817600250}]
    assert shape_table(rows, list(rows[0])) == (rows, list(rows[0]))
