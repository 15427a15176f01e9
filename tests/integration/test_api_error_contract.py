"""The decisions of issue 9 §1's last bullet, pinned through the API (docs/search.md says the same):
one error code per status with the search problem's kind in details, one text limit, one sort-key
limit, steps >= 0, at(k) = window(k, k).first = .last at a repeated step, a never-logged metric's
window count missing, min_step/max_step the steps of the extremes, and SageMaker names verbatim."""
from __future__ import annotations

import uuid

import pytest

from skytune.tracking import limits as tracking_limits


@pytest.fixture(scope="module")
def experiment(api, local_stack):
    name = f"contract-{uuid.uuid4().hex[:8]}"
    assert api.post("/v1/experiments", {"name": name}).status == 201
    run = api.post("/v1/runs", {"experiment": name, "name": "r"}).json()
    points = [
        # loss: a repeated step 2 (timestamps 10 then 20), the minimum at step 1 and again at step 3
        {"name": "loss", "value": v, "step": s, "timestamp": t}
        for v, s, t in [(3.0, 0, 1), (1.0, 1, 2), (2.5, 2, 10), (2.0, 2, 20), (1.0, 3, 3), (5.0, 4, 4)]
    ] + [{"name": "test:accuracy", "value": 0.9, "step": 0, "timestamp": 1}]
    logged = api.post(f"/v1/runs/{run['run_id']}/log-batch", {"metrics": points})
    assert logged.status == 200, logged.body
    other = api.post("/v1/runs", {"experiment": name, "name": "s"}).json()
    assert api.post(f"/v1/runs/{other['run_id']}/log-batch",
                    {"metrics": [{"name": "test:accuracy", "value": 0.95, "step": 0, "timestamp": 1}]}).status == 200
    local_stack.streams.flush()  # search reads the experiment index: let the stream consumer fold these writes
    return name, run["run_id"], other["run_id"]


def search(api, experiment: str, **body):
    return api.post("/v1/runs/search", {"experiments": [experiment], "columns": "name", **body})


def names(response) -> list[str]:
    assert response.status == 200, response.body
    return [row["name"] for row in response.json()["rows"]]


def test_a_search_error_has_the_envelope_code_and_its_kind_in_details(api, experiment):
    response = search(api, experiment[0], filter="params.lr >")
    assert response.status == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("ValidationError", "filter")
    assert error["details"]["code"] == "FilterSyntaxError" and error["details"]["position"] == 11
    bad = search(api, experiment[0], filter="colour = 'red'").json()["error"]
    assert bad["details"]["code"] == "FilterValidationError"


@pytest.mark.parametrize("field", ["filter", "order_by", "columns"])
def test_every_text_is_limited_to_the_documented_10000_characters(api, experiment, field):
    start = "name = 'r'" if field == "filter" else "name"
    text = start + " " * (tracking_limits.FILTER_MAX_LENGTH - len(start))
    assert search(api, experiment[0], **{field: text}).status == 200
    response = search(api, experiment[0], **{field: text + " "})
    assert response.status == 400 and response.json()["error"]["field"] == field


def test_order_by_as_a_list_stops_at_10_keys_like_the_text(api, experiment):
    assert search(api, experiment[0], order_by=["name"] * 10).status == 200
    response = search(api, experiment[0], order_by=["name"] * 11)  # was: accepted up to 25
    assert response.status == 400 and response.json()["error"]["field"] == "order_by"
    assert search(api, experiment[0], order_by=", ".join(["name"] * 11)).status == 400


def test_a_negative_step_is_refused_in_search_as_in_log_batch(api, experiment):
    response = search(api, experiment[0], filter="metrics.loss.at(-1) < 1")
    assert response.status == 400 and response.json()["error"]["details"]["code"] == "FilterValidationError"


def test_at_and_window_first_and_last_agree_at_a_repeated_step(api, experiment):
    name = experiment[0]
    row = search(api, name, filter="name = 'r'",
                 columns="metrics.loss.at(2), metrics.loss.window(2, 2).first, metrics.loss.window(2, 2).last, "
                         "metrics.loss.window(2, 4).first, metrics.loss.window(2, 2).count").json()["rows"][0]
    assert row == {"metrics.loss.at(2)": 2.0, "metrics.loss.window(2, 2).first": 2.0,
                   "metrics.loss.window(2, 2).last": 2.0, "metrics.loss.window(2, 4).first": 2.0,
                   "metrics.loss.window(2, 2).count": 2}


def test_a_never_logged_metric_has_no_window_count_as_it_has_no_count(api, experiment):
    name = experiment[0]
    assert names(search(api, name, filter="metrics.loss.window(0, 9).count IS NULL")) == ["s"]
    assert names(search(api, name, filter="metrics.loss.count IS NULL")) == ["s"]
    assert names(search(api, name, filter="metrics.loss.window(7, 9).count = 0")) == ["r"]  # logged, empty window


def test_min_step_and_max_step_are_the_steps_of_the_extremes(api, experiment):
    run = api.get(f"/v1/runs/{experiment[1]}").json()
    summary = run["metrics"]["loss"]
    assert (summary["min"], summary["min_step"]) == (1.0, 1)  # the minimum repeats at step 3: the earliest
    assert (summary["max"], summary["max_step"]) == (5.0, 4)
    assert summary["last_step"] == 4


def test_a_sagemaker_sort_expression_works_verbatim(api, experiment):
    name = experiment[0]
    response = search(api, name, order_by="metrics.test:accuracy.max DESC",
                      columns="name, metrics.test:accuracy.max")
    assert response.status == 200, response.body
    assert response.json()["rows"] == [{"name": "s", "metrics.test:accuracy.max": 0.95},
                                       {"name": "r", "metrics.test:accuracy.max": 0.9}]
    assert names(search(api, name, filter="metrics.test:accuracy.last > 0.92")) == ["s"]


def test_a_wrong_method_puts_the_allowed_methods_in_details(api):
    response = api.request("PUT", "/v1/experiments")
    assert response.status == 405
    assert response.json()["error"]["details"] == {"allowed": ["GET", "POST"]}


def test_the_table_can_be_the_frame_of_sagemaker_experiment_analytics(api, experiment):
    name, run_id, _other = experiment
    response = api.post("/v1/analytics/table", {
        "experiments": [name], "filter": "name = 'r'", "column_names": "sagemaker", "datetimes": "iso8601",
        "order_by": "metrics.test:accuracy.max DESC", "metric_stats": ["max", "last"]})
    assert response.status == 200, response.body
    body = response.json()
    assert body["columns"][:6] == ["TrialComponentName", "DisplayName", "Experiments", "Trials", "Status", "CreationTime"]
    assert "test:accuracy - Max" in body["columns"] and "loss - Last" in body["columns"]
    [row] = body["rows"]
    assert (row["TrialComponentName"], row["DisplayName"], row["test:accuracy - Max"]) == (run_id, "r", 0.9)
    assert row["CreationTime"].endswith("Z") and row["CreationTime"][:2] == "20"
    csv = api.post("/v1/analytics/table", {"experiments": [name], "column_names": "sagemaker", "format": "csv",
                                           "columns": "run_id, metrics.loss.min"})
    assert csv.body.decode().splitlines()[0] == "TrialComponentName,loss - Min"


def _shim(api, experiment):
    from urllib.parse import urlsplit

    from skytune.client.http import Client
    from skytune.sagemaker import ExperimentAnalytics

    def in_process(method, url, headers, body, _timeout):
        parts = urlsplit(url)
        return api.emulator.handle(method, parts.path + (f"?{parts.query}" if parts.query else ""), headers, body or b"")

    client = Client("http://127.0.0.1:1", auth="none", transport=in_process)
    return client, ExperimentAnalytics(experiment_name=experiment[0], sort_by="metrics.test:accuracy.max",
                                       sort_order="Descending", metric_names=["test:accuracy"], client=client)


def test_the_sagemaker_shim_pages_the_frame_with_sagemaker_names(api, experiment):
    from skytune.sagemaker import ExperimentAnalytics

    client, _ = _shim(api, experiment)
    analytics = ExperimentAnalytics(experiment_name=experiment[0], sort_by="metrics.test:accuracy.max",
                                    sort_order="Descending", metric_names=["test:accuracy"], client=client)
    rows, columns = analytics.rows()
    assert columns[:8] == ["TrialComponentName", "DisplayName", "SourceArn", "Trials", "Experiments", "CreationTime",
                           "StartTime", "EndTime"]
    assert columns[8:] == [f"test:accuracy - {s}" for s in ("Min", "Max", "Avg", "StdDev", "Last", "Count")]
    assert [(r["DisplayName"], r["test:accuracy - Max"]) for r in rows] == [("s", 0.95), ("r", 0.9)]
    assert rows[0]["CreationTime"].endswith("Z")
    with pytest.raises(ValueError):
        ExperimentAnalytics(experiment_name="x", search_expression={"Filters": []}, client=client)


def test_the_sagemaker_shim_dataframe_has_datetime_columns(api, experiment):
    pytest.importorskip("pandas")  # not in the dev extra; the rows above are what it is built from
    columns = _shim(api, experiment)[1].rows()[1]
    frame = _shim(api, experiment)[1].dataframe()
    assert str(frame["CreationTime"].dtype).startswith("datetime64") and list(frame.columns) == columns
