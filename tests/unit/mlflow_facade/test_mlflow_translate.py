"""The MLflow facade's translations (pure): params keep their strings, filters become skytune's."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from skytune.tracking.query import parse_filter
from skytune_mlflow import translate


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=30), st.integers().map(str), st.floats(allow_nan=True).map(repr),
                 st.sampled_from(["True", "False", "None", "1.0", "1e-05", "007", "-0", "1_000", " 1", "nan", "inf"])))
def test_a_param_string_comes_back_exactly_as_logged(text):
    assert translate.param_to_mlflow(translate.param_to_skytune(text)) == text


def test_numeric_strings_are_stored_typed():
    assert translate.param_to_skytune("3") == 3 and translate.param_to_skytune("0.01") == 0.01
    assert translate.param_to_skytune("True") is True
    assert translate.param_to_skytune("1e400") == "1e400" and translate.param_to_skytune("nan") == "nan"


def test_filters_become_skytune_filters_that_parse():
    cases = {
        "metrics.rmse < 1 and params.alpha = '0.5'": "metrics.rmse < 1 and params.alpha = 0.5",
        "tags.mlflow.source.type = 'LOCAL'": "tags.`mlflow.source.type` = 'LOCAL'",
        "attributes.status = 'FINISHED'": "status = 'Completed'",
        "attributes.run_name = 'x'": "tags.display_name = 'x'",
        "tags.`mlflow.runName` LIKE 'dig%'": "tags.display_name LIKE 'dig%'",
        "params.solver = 'lbfgs' AND params.C != '1'": "params.solver = 'lbfgs' AND params.C != 1",
        "attributes.status IN ('RUNNING', 'KILLED')": "status IN ('InProgress', 'Stopped')",
        "tags.note = 'tags.a.b stays'": "tags.note = 'tags.a.b stays'",
    }
    for mlflow_filter, expected in cases.items():
        assert translate.filter_to_skytune(mlflow_filter) == expected
        parse_filter(expected)
    assert translate.filter_to_skytune("  ") is None
    assert translate.order_to_skytune(None) == ["started DESC"]
    assert translate.order_to_skytune(["attributes.start_time ASC", "metrics.acc DESC"]) == ["started ASC", "metrics.acc DESC"]


def test_runs_read_as_mlflow_runs():
    run = {"run_id": "R1", "experiment": "Default", "name": "R1", "status": "Stopped",
           "start_time": "2026-01-01T00:00:00Z", "end_time": None, "params": {"lr": 0.1, "deep": True},
           "tags": {"display_name": "digits"},
           "metrics": {"loss": {"last": 0.5, "last_step": 4, "last_timestamp": 1700000000000}, "empty": {"last": None}}}
    shaped = translate.run_to_mlflow(run)
    assert shaped["info"]["experiment_id"] == "0" and shaped["info"]["status"] == "KILLED"
    assert shaped["info"]["run_name"] == "digits" and "end_time" not in shaped["info"]
    assert shaped["info"]["start_time"] == 1767225600000
    assert shaped["data"]["params"] == [{"key": "lr", "value": "0.1"}, {"key": "deep", "value": "True"}]
    assert {"key": "mlflow.runName", "value": "digits"} in shaped["data"]["tags"]
    assert shaped["data"]["metrics"] == [{"key": "loss", "value": 0.5, "timestamp": 1700000000000, "step": 4}]
