"""Scraping metric points out of log events with validated definitions."""

import math

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skytune.ingestion import decode_subscription
from skytune.ingestion.cloudwatch_logs import LogEvent
from skytune.ingestion.errors import MetricDefinitionError
from skytune.ingestion.metric_definitions import (
    CompiledDefinition,
    ExtractionStats,
    ParsedPoint,
    extract_points,
    validate_definitions,
)
from tests.support.aws_events import cloudwatch_logs_event, sagemaker_log_stream

SAGEMAKER_STYLE = validate_definitions(
    [
        {"Name": "train:loss", "Regex": r"Train Loss: ([0-9\.]+)"},
        {"Name": "test:accuracy", "Regex": r"Test Accuracy: ([0-9\.]+)%"},
    ]
)


def test_sagemaker_style_line_through_a_real_subscription_event():
    event = cloudwatch_logs_event(
        "/aws/sagemaker/TrainingJobs",
        sagemaker_log_stream("job-1"),
        [("Train Loss: 0.52; Test Accuracy: 91.3%;", 1_700_000_000_500), ("no metrics here", 1_700_000_000_600)],
    )
    batch = decode_subscription(event)
    stats = ExtractionStats()
    points = extract_points(SAGEMAKER_STYLE, batch.events, stats=stats)
    event_id = batch.events[0].id
    assert points == [
        ParsedPoint("train:loss", 0.52, None, 1_700_000_000_500, event_id, 0),
        ParsedPoint("test:accuracy", 91.3, None, 1_700_000_000_500, event_id, 0),
    ]
    assert (stats.events, stats.points, stats.skipped) == (2, 2, 0)


def test_several_matches_in_one_line_get_distinct_ordinals():
    definitions = validate_definitions([{"Name": "loss", "Regex": r"loss=([0-9.]+)"}])
    points = extract_points(definitions, [LogEvent("e1", 5, "loss=0.3 loss=0.2 loss=0.1")])
    assert [(p.value, p.ordinal) for p in points] == [(0.3, 0), (0.2, 1), (0.1, 2)]
    assert len({(p.metric, p.event_id, p.ordinal) for p in points}) == 3


def test_named_step_and_value_groups():
    definitions = validate_definitions(
        [
            {"Name": "val:acc", "Regex": r"epoch=(?P<step>\d+) .*val_acc=(?P<value>[-+0-9.eE]+)"},
            {"Name": "val:loss", "Regex": r"epoch=(?P<step>\d+) val_loss=([-+0-9.eE]+)"},
        ]
    )
    points = extract_points(definitions, [LogEvent("e", 9, "epoch=12 val_loss=1.5e-3 val_acc=-0.25")])
    assert [(p.metric, p.step, p.value) for p in points] == [("val:acc", 12, -0.25), ("val:loss", 12, 0.0015)]


def test_values_that_are_not_finite_decimals_are_skipped_and_counted():
    definitions = validate_definitions(
        [
            {"Name": "loss", "Regex": r"loss=(\S+)"},
            {"Name": "acc", "Regex": r"acc=(\S+);"},
            {"Name": "epoch_loss", "Regex": r"e=(?P<step>\S+) l=(?P<value>\S+)"},
        ]
    )
    events = [
        LogEvent("1", 1, "loss=nan acc=91.3%;"),  # nan, and the group captured the % sign
        LogEvent("2", 2, "loss=inf acc=1e999;"),
        LogEvent("3", 3, "loss=-Infinity acc=0x10;"),
        LogEvent("4", 4, "e=1.5 l=0.1 e=-1 l=0.2 e=3 l=0.3"),
        LogEvent("5", 5, "loss=+.5 acc=7.;"),
    ]
    stats = ExtractionStats()
    points = extract_points(definitions, events, stats=stats)
    assert [(p.metric, p.value, p.step, p.ordinal) for p in points] == [
        ("epoch_loss", 0.3, 3, 2),
        ("loss", 0.5, None, 0),
        ("acc", 7.0, None, 0),
    ]
    assert (stats.non_finite, stats.unparseable, stats.bad_step, stats.unprocessed) == (4, 2, 2, 0)
    assert stats.skipped == 8


def test_patterns_that_backtrack_exponentially_elsewhere_run_in_linear_time():
    """RE2: the classic runaway shapes are accepted and a near-miss line of 100,000 characters is
    scanned at once (a backtracking engine would not finish)."""
    runaway, = validate_definitions([{"Name": "runaway", "Regex": r"^(?:a|aa)*(\d)$"}])
    nested, = validate_definitions([{"Name": "nested", "Regex": r"(?:a+)+(\d)x"}])
    events = [LogEvent("slow", 1, "a" * 100_000 + "!"), LogEvent("fast", 2, "aaaa7")]
    started = time.perf_counter()
    points = extract_points([runaway, nested], events)
    assert time.perf_counter() - started < 1.0
    assert [(p.metric, p.event_id, p.value) for p in points] == [("runaway", "fast", 7.0)]


def test_the_delivery_time_budget_stops_before_an_event_and_counts_the_rest():
    definitions = validate_definitions([{"Name": "loss", "Regex": r"loss=([0-9.]+)"}])
    events = [LogEvent(str(i), i, f"loss={i}") for i in range(10)]
    ticks = iter(range(100))
    stats = ExtractionStats()
    points = extract_points(definitions, events, deadline=3.5, clock=lambda: next(ticks), stats=stats)
    assert [p.value for p in points] == [0.0, 1.0, 2.0, 3.0]
    assert (stats.events, stats.unprocessed) == (4, 6)


@pytest.mark.parametrize("pattern", [r"(a)\1 ([0-9]+)", r"(?=loss)loss=([0-9]+)", r"(?<=loss=)([0-9]+)",
                                     r"(?<!x)loss=([0-9]+)", r"(?!x)loss=([0-9]+)"])
def test_lookaround_and_backreferences_are_refused_at_registration(pattern):
    with pytest.raises(MetricDefinitionError) as error:
        validate_definitions([{"Name": "m", "Regex": pattern}])
    assert error.value.field == "MetricDefinitions[0].Regex"
    assert "RE2" in str(error.value) and "lookaround or a backreference" in str(error.value)


def test_lazy_quantifiers_and_named_groups_work_as_in_sagemaker_examples():
    definitions = validate_definitions([{"Name": "loss", "Regex": r"Train Loss: (?P<value>.*?);"},
                                        {"Name": "acc", "Regex": r"epoch=(?P<step>\d+).*?acc=(?P<value>[0-9.]+)"}])
    points = extract_points(definitions, [LogEvent("e", 5, "Train Loss: 0.25; epoch=3 x acc=0.9 acc=0.8")])
    assert [(p.metric, p.value, p.step) for p in points] == [("loss", 0.25, None), ("acc", 0.9, 3)]


def test_a_slow_definition_is_refused_at_registration(monkeypatch):
    from skytune.ingestion import metric_definitions

    monkeypatch.setattr(metric_definitions, "SLOW_DEFINITION_S", 0.0)
    with pytest.raises(MetricDefinitionError) as error:
        validate_definitions([{"Name": "m", "Regex": r"(\w+\s?)+x([0-9]+)"}])
    assert "too slow" in str(error.value)


def test_order_key_is_independent_of_delivery():
    a = ParsedPoint("m", 1.0, None, 10, "200", 1)
    b = ParsedPoint("m", 2.0, None, 10, "200", 0)
    c = ParsedPoint("m", 3.0, None, 9, "300", 0)
    assert sorted([a, b, c], key=lambda p: p.order_key) == [c, b, a]


# --- properties: lines generated from a template --------------------------------------------

TEMPLATE_DEFINITIONS = validate_definitions(
    [
        {"Name": "train:loss", "Regex": r"epoch=(?P<step>\d+) loss=(?P<value>[-+]?[0-9.]+(?:[eE][-+]?\d+)?)"},
        {"Name": "val:acc", "Regex": r"val_acc=([0-9.]+)%"},
    ]
)
NOISE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,;:[]()-_/|", max_size=20)
FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
PERCENT = st.floats(min_value=0, max_value=100, allow_nan=False)
LINE = st.tuples(st.integers(0, 10**9), FINITE, PERCENT, NOISE, NOISE, NOISE)


def _render(step, loss, acc, noise1, noise2, noise3):
    return f"{noise1} epoch={step} loss={loss!r} {noise2} val_acc={acc:.4f}%{noise3}"


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(LINE, min_size=1, max_size=20), start=st.integers(0, 2**41))
def test_extracted_values_and_steps_equal_the_generated_ones(lines, start):
    events = [LogEvent(str(10**55 + i), start + i, _render(*line)) for i, line in enumerate(lines)]
    stats = ExtractionStats()
    points = extract_points(TEMPLATE_DEFINITIONS, events, stats=stats)
    expected = []
    for index, (step, loss, acc, *_noise) in enumerate(lines):
        expected.append(ParsedPoint("train:loss", loss, step, start + index, str(10**55 + index), 0))
        expected.append(ParsedPoint("val:acc", float(f"{acc:.4f}"), None, start + index, str(10**55 + index), 0))
    assert points == expected
    assert stats.skipped == 0


@settings(max_examples=200, deadline=None)
@given(messages=st.lists(st.text(max_size=200), max_size=10))
def test_random_junk_never_raises_and_only_yields_finite_values(messages):
    events = [LogEvent(str(i), i, message) for i, message in enumerate(messages)]
    stats = ExtractionStats()
    points = extract_points(TEMPLATE_DEFINITIONS + SAGEMAKER_STYLE, events, stats=stats)
    assert all(math.isfinite(p.value) for p in points)
    assert all(p.step is None or p.step >= 0 for p in points)
    assert stats.events == len(messages)
    assert stats.points == len(points)

