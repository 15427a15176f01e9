"""The three ingestion paths with the events AWS sends, into DynamoDB Local, exactly once."""
from __future__ import annotations

import random
import uuid

import pytest

from skytune.ingestion.sources import sagemaker_run_id
from skytune.ingestion.pipeline import RunNotReady
from skytune.metrics import MetricStore, Summary
from tests.support import aws_events
from tests.support.faults import throttle_dynamodb_writes

LOGS = "skytune_ingest.logs.lambda_handler"
STREAM = "skytune_ingest.metric_stream.lambda_handler"
EVENTS = "skytune_ingest.events.lambda_handler"
T0 = 1_800_000_000_000
STEP_DEFINITION = [{"Name": "loss", "Regex": r"epoch=(?P<step>\d+) loss=(?P<value>[-0-9.e]+)"}]


def new_run(api, experiment="ingest") -> str:
    api.post("/v1/experiments", {"name": experiment})
    response = api.post("/v1/runs", {"experiment": experiment, "name": f"run-{uuid.uuid4().hex[:8]}"})
    assert response.status in (200, 201), response.body
    return response.json()["run_id"]


def summaries(api, run_id) -> dict:
    return api.get(f"/v1/runs/{run_id}").json()["metrics"]


def series(api, run_id, metric) -> list[tuple[int, float]]:
    body = api.get(f"/v1/runs/{run_id}/metrics/{metric}").json()
    return [(p["step"], p["value"]) for p in body["points"]]


def truth(points: list[tuple[int, int, float]]) -> dict:
    return Summary.of((v, s, t) for s, t, v in points).public()


def test_log_lines_become_metrics_of_the_registered_run(api, functions):
    run_id = new_run(api)
    registered = api.post(f"/v1/runs/{run_id}/log-sources", {
        "log_group": "/my/jobs", "stream_prefix": "trainer-", "metric_definitions": [
            {"Name": "train:loss", "Regex": "Train Loss: ([0-9\\.]+);"},
            {"Name": "test:acc", "Regex": "Test Accuracy: ([0-9\\.]+)%;"},
        ]})
    assert registered.status == 201
    lines = [(f"Train Loss: {0.9 - i / 10:.2f}; Test Accuracy: {80 + i}.5%;", T0 + i * 1000) for i in range(5)]
    event = aws_events.cloudwatch_logs_event("/my/jobs", "trainer-7", lines)
    result = functions.invoke(LOGS, event)
    assert result["points"] == 10 and result["duplicates"] == 0
    assert functions.invoke(LOGS, event)["duplicates"] == 10  # redelivered: nothing new
    assert series(api, run_id, "train:loss") == [(i, round(0.9 - i / 10, 2)) for i in range(5)]
    stats = summaries(api, run_id)["test:acc"]
    assert (stats["count"], stats["min"], stats["max"], stats["last_step"]) == (5, 80.5, 84.5, 4)


def test_control_messages_and_unregistered_streams_change_nothing(functions):
    assert functions.invoke(LOGS, aws_events.cloudwatch_logs_control_event()) == {"control_message": True}
    event = aws_events.cloudwatch_logs_event("/nobody/registered", "s", [("loss=1", T0)])
    assert functions.invoke(LOGS, event)["run_id"] is None


def test_registering_a_regex_re2_cannot_run_is_a_400_naming_the_field(api):
    run_id = new_run(api)
    for pattern in (r"(?<=loss=)([0-9.]+)", r"(\w)\1=([0-9]+)"):
        response = api.post(f"/v1/runs/{run_id}/log-sources", {
            "log_group": "/g", "metric_definitions": [{"Name": "ok", "Regex": "a=([0-9]+)"}, {"Name": "x", "Regex": pattern}]})
        assert response.status == 400, response.body
        error = response.json()["error"]
        assert error["field"] == "metric_definitions[1].Regex" and "lookaround or a backreference" in error["message"]
    # A pattern that backtracks exponentially in other engines is fine on RE2.
    response = api.post(f"/v1/runs/{run_id}/log-sources", {
        "log_group": "/g", "metric_definitions": [{"Name": "x", "Regex": "(?:a+)+b([0-9]+)"}]})
    assert response.status < 300, response.body


def test_past_the_time_budget_the_rest_of_a_delivery_is_retried_from_where_it_stopped(api, bound_tables):
    from skytune.ingestion.cloudwatch_logs import decode_subscription
    from skytune.ingestion.pipeline import ingest_log_batch
    from skytune.metrics import MetricStore

    run_id = new_run(api)
    api.post(f"/v1/runs/{run_id}/log-sources", {"log_group": "/budget", "stream_prefix": "",
                                                 "metric_definitions": [{"Name": "acc", "Regex": r"acc=([0-9.]+)"}]})
    lines = [(f"acc={i / 100}", T0 + i) for i in range(30)]
    batch = decode_subscription(aws_events.cloudwatch_logs_event("/budget", "trainer", lines, seed=3))
    store, ticks = MetricStore(), iter(range(10_000))
    first = ingest_log_batch(batch, store, deadline=11.5, clock=lambda: next(ticks))
    assert (first.points, first.unprocessed) == (12, 18)
    assert summaries(api, run_id)["acc"]["count"] == 12
    retry = ingest_log_batch(batch, store, deadline=1e9)  # Lambda's retry of the same delivery
    assert (retry.points, retry.duplicates, retry.stats.events, retry.unprocessed) == (18, 0, 18, 0)
    assert series(api, run_id, "acc") == [(i, i / 100) for i in range(30)]
    assert summaries(api, run_id)["acc"] == truth([(i, T0 + i, i / 100) for i in range(30)])


def test_sagemaker_logs_before_the_job_event_ask_for_a_retry(functions):
    event = aws_events.cloudwatch_logs_event("/aws/sagemaker/TrainingJobs", "early-job/algo-1-1700000000", [("Train Loss: 0.5;", T0)])
    with pytest.raises(RunNotReady):
        functions.invoke(LOGS, event)


def test_metric_stream_records_are_answered_one_by_one(api, functions):
    run_id = new_run(api)
    assert api.post(f"/v1/runs/{run_id}/metric-stream-sources", {"name": "RunId", "value": run_id}).status == 201
    datum = aws_events.MetricDatum("Custom/Train", "GPUUtilization", {"RunId": run_id}, T0, "Percent", 90.0, 10.0, 150.0, 3.0)
    stranger = aws_events.MetricDatum("AWS/EC2", "CPUUtilization", {"InstanceId": "i-1"}, T0, "Percent", 1.0, 1.0, 1.0, 1.0)
    event = aws_events.firehose_metric_stream_event([[datum], [stranger]])
    event["records"].append({"recordId": "broken", "approximateArrivalTimestamp": T0, "data": "not base64!!"})
    response = functions.invoke(STREAM, event)
    results = {r["recordId"]: r["result"] for r in response["records"]}
    ids = [r["recordId"] for r in event["records"]]
    assert results == {ids[0]: "Ok", ids[1]: "Dropped", "broken": "ProcessingFailed"}
    stats = summaries(api, run_id)
    assert stats["GPUUtilization"]["last"] == 50.0  # sum / count is the point value
    assert (stats["GPUUtilization:max"]["last"], stats["GPUUtilization:min"]["last"], stats["GPUUtilization:count"]["last"]) == (90.0, 10.0, 3.0)


def test_opentelemetry_metric_stream_records_are_stored(api, functions, monkeypatch):
    run_id = new_run(api)
    api.post(f"/v1/runs/{run_id}/metric-stream-sources", {"name": "RunId", "value": run_id})
    monkeypatch.setenv("METRIC_STREAM_FORMAT", "opentelemetry1.0")
    datum = aws_events.MetricDatum("Custom/Train", "Throughput", {"RunId": run_id}, T0, "Count", 8.0, 2.0, 20.0, 4.0)
    response = functions.invoke(STREAM, aws_events.firehose_metric_stream_event([[datum]], format="opentelemetry1.0"))
    assert [r["result"] for r in response["records"]] == ["Ok"]
    assert summaries(api, run_id)["Throughput"]["last"] == 5.0


def test_sagemaker_training_job_becomes_a_tracked_run(api, functions):
    job = f"job-{uuid.uuid4().hex[:6]}"
    started = aws_events.sagemaker_training_job_state_change(
        job, "InProgress", hyperparameters={"lr": "0.01", "epochs": "10", "optimizer": "adam"},
        channels={"train": "s3://data/train/"}, creation_ms=T0, start_ms=T0 + 5000)
    completed = aws_events.sagemaker_training_job_state_change(
        job, "Completed", hyperparameters={"lr": "0.01", "epochs": "10", "optimizer": "adam"}, model_artifacts="s3://out/model.tar.gz", final_metrics=[("train:loss", 0.12, T0 + 90000)],
        creation_ms=T0, start_ms=T0 + 5000, end_ms=T0 + 100000)
    functions.invoke(EVENTS, completed)
    functions.invoke(EVENTS, started)  # late and out of order: must not reopen the run
    functions.invoke(EVENTS, completed)  # duplicate delivery
    run = api.get(f"/v1/runs/{sagemaker_run_id(job)}").json()
    assert run["status"] == "Completed" and run["name"] == job
    assert run["experiment"] == "sagemaker-training-jobs"
    assert run["params"] == {"lr": 0.01, "epochs": 10, "optimizer": "adam"}
    assert run["outputs"][0]["uri"] == "s3://out/model.tar.gz"
    assert run["metrics"]["final:train:loss"]["count"] == 1
    # its log streams are now scraped with the job's metric definitions
    logs = aws_events.cloudwatch_logs_event("/aws/sagemaker/TrainingJobs", f"{job}/algo-1-1700000000",
                                            [("Train Loss: 0.5;", T0 + 6000), ("Train Loss: 0.25;", T0 + 7000)])
    assert functions.invoke(LOGS, logs)["points"] == 2
    assert series(api, run["run_id"], "train:loss") == [(0, 0.5), (1, 0.25)]


def test_every_path_replayed_shuffled_and_throttled_stores_exactly_the_ground_truth(api, functions):
    rnd = random.Random(2026)
    # logs: 1200 points with explicit steps in 24 deliveries
    log_run = new_run(api)
    api.post(f"/v1/runs/{log_run}/log-sources", {"log_group": "/fault/logs", "stream_prefix": "", "metric_definitions": STEP_DEFINITION})
    log_truth = [(step, T0 + step, rnd.uniform(-3, 3)) for step in range(1200)]
    deliveries = [("logs", aws_events.cloudwatch_logs_event(
        "/fault/logs", "trainer", [(f"epoch={s} loss={v!r}", t) for s, t, v in log_truth[i:i + 50]], seed=i))
        for i in range(0, 1200, 50)]
    # metric stream: 30 records x 10 datapoints (x5 series) = 1500 points
    stream_run = new_run(api)
    api.post(f"/v1/runs/{stream_run}/metric-stream-sources", {"name": "RunId", "value": stream_run})
    datapoints = [aws_events.MetricDatum("Custom/Train", "GPU", {"RunId": stream_run}, T0 + i * 60_000, "Percent",
                                         hi, lo, hi + lo, 2.0)
                  for i, (hi, lo) in enumerate((rnd.uniform(50, 100), rnd.uniform(0, 50)) for _ in range(300))]
    for r in range(30):
        deliveries.append(("stream", aws_events.firehose_metric_stream_event([datapoints[r * 10:(r + 1) * 10]], seed=r)))
    # EventBridge + SageMaker logs: a job whose logs may arrive before its run exists
    job = f"fault-{uuid.uuid4().hex[:6]}"
    job_truth = [(step, T0 + step, float(step) / 7) for step in range(400)]
    deliveries.append(("events", aws_events.sagemaker_training_job_state_change(job, "InProgress", hyperparameters={"lr": "0.1"}, creation_ms=T0, start_ms=T0 + 1)))
    deliveries.append(("events", aws_events.sagemaker_training_job_state_change(job, "Completed", creation_ms=T0, start_ms=T0 + 1, end_ms=T0 + 9_000_000)))
    for event in deliveries[-2:]:
        event[1]["detail"]["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": "loss", "Regex": r"step (?P<step>\d+): (?P<value>[0-9.e-]+)"}]
    for i in range(0, 400, 40):
        lines = [(f"step {s}: {v!r}", t) for s, t, v in job_truth[i:i + 40]]
        deliveries.append(("logs", aws_events.cloudwatch_logs_event("/aws/sagemaker/TrainingJobs", f"{job}/algo-1-1700000000", lines, seed=1000 + i)))

    queue = [d for d in deliveries for _ in range(rnd.choice((2, 3)))]
    rnd.shuffle(queue)
    handler = {"logs": LOGS, "stream": STREAM, "events": EVENTS}
    retried = 0
    with throttle_dynamodb_writes(rate=0.10, seed=11) as faults:
        while queue:
            kind, event = queue.pop(0)
            try:
                response = functions.invoke(handler[kind], event)
            except Exception:  # noqa: BLE001 - as Lambda's async retry: deliver again later
                retried += 1
                queue.append((kind, event))
                continue
            if kind == "stream":
                failed = {r["recordId"] for r in response["records"] if r["result"] == "ProcessingFailed"}
                if failed:  # as a replay from the processing-failed/ prefix
                    retried += 1
                    queue.append((kind, {**event, "records": [r for r in event["records"] if r["recordId"] in failed]}))
    assert faults["throttled"] > 10

    assert series(api, log_run, "loss") == [(s, v) for s, _, v in log_truth]
    assert summaries(api, log_run)["loss"] == truth(log_truth)
    stream_stats = summaries(api, stream_run)
    for name, value in {"GPU": lambda d: d.sum / d.count, "GPU:max": lambda d: d.max, "GPU:min": lambda d: d.min,
                        "GPU:sum": lambda d: d.sum, "GPU:count": lambda d: d.count}.items():
        expected = [(d.timestamp_ms // 1000, d.timestamp_ms, value(d)) for d in datapoints]
        assert stream_stats[name] == truth(expected), name
    job_run = api.get(f"/v1/runs/{sagemaker_run_id(job)}").json()
    assert job_run["status"] == "Completed"
    assert job_run["metrics"]["loss"] == truth(job_truth)
    assert series(api, job_run["run_id"], "loss") == [(s, v) for s, _, v in job_truth]


def _overlapping_slices(rnd: random.Random, n: int, width: int, count: int) -> list[tuple[int, int]]:
    """`count` windows over 0..n that cover every index and overlap each other at random (the way
    Firehose and CloudWatch Logs re-batch on retry)."""
    covering = [(i, min(n, i + width)) for i in range(0, n, width)]
    extra = []
    for _ in range(count - len(covering)):
        start = rnd.randrange(n)
        extra.append((start, min(n, start + rnd.randint(1, 2 * width))))
    return covering + extra


def test_overlapping_rebatched_deliveries_on_every_path_store_exactly_the_ground_truth(api, functions):
    """Issue 9: deliveries that repeat *points* in different batches (not byte-identical
    redeliveries), shuffled, under throttling, on the three paths: each point is stored once."""
    rnd = random.Random(909)
    deliveries = []
    # logs: 600 events with fixed CloudWatch event ids, delivered in overlapping windows
    log_run = new_run(api)
    api.post(f"/v1/runs/{log_run}/log-sources", {"log_group": "/fault/overlap", "stream_prefix": "",
                                                  "metric_definitions": STEP_DEFINITION})
    log_truth = [(step, T0 + step * 100, rnd.uniform(-3, 3)) for step in range(600)]
    event_ids = aws_events.cloudwatch_log_event_ids(600, T0, seed=5)
    for a, b in _overlapping_slices(rnd, 600, 60, 25):
        lines = [(f"epoch={s} loss={v!r}", t) for s, t, v in log_truth[a:b]]
        deliveries.append(("logs", aws_events.cloudwatch_logs_event("/fault/overlap", "trainer", lines,
                                                                    event_ids=event_ids[a:b])))
    # metric stream: 200 datapoints re-grouped into different records and invocations
    stream_run = new_run(api)
    api.post(f"/v1/runs/{stream_run}/metric-stream-sources", {"name": "RunId", "value": stream_run})
    datapoints = [aws_events.MetricDatum("Custom/Train", f"GPU{i % 2}", {"RunId": stream_run}, T0 + (i // 2) * 60_000,
                                         "Percent", hi, lo, hi + lo, 2.0)
                  for i, (hi, lo) in enumerate((rnd.uniform(50, 100), rnd.uniform(0, 50)) for _ in range(200))]
    for n, (a, b) in enumerate(_overlapping_slices(rnd, 200, 20, 20)):
        cut = rnd.randint(a, b)
        records = [datapoints[a:cut], datapoints[cut:b]]
        deliveries.append(("stream", aws_events.firehose_metric_stream_event([r for r in records if r], seed=100 + n)))
    # one record with a malformed line among valid ones: the valid datapoints are still stored
    payload = aws_events.metric_stream_json(datapoints[:6]) + b'{"metric_name": broken\n'
    deliveries.append(("stream", aws_events.firehose_transformation_event([payload], seed=999)))
    # log-batch with an idempotency key: 500 points re-sent in overlapping requests
    batch_run = new_run(api)
    batch_truth = [(step, T0 + step, rnd.uniform(0, 1)) for step in range(500)]
    for n, (a, b) in enumerate(_overlapping_slices(rnd, 500, 100, 10)):
        body = {"metrics": [{"name": "acc", "value": v, "step": s, "timestamp": t} for s, t, v in batch_truth[a:b]]}
        deliveries.append(("batch", body | {"key": f"request-{n}"}))

    queue = [d for d in deliveries for _ in range(rnd.choice((1, 2)))]
    rnd.shuffle(queue)
    handler = {"logs": LOGS, "stream": STREAM}
    folder = MetricStore(sleep=lambda s: None, seed=3)
    folds = 0
    with throttle_dynamodb_writes(rate=0.10, seed=12) as faults:
        while queue:
            if rnd.random() < 0.15:  # folds interleaved with the deliveries (besides the writers' own)
                for run in (log_run, stream_run, batch_run):
                    try:
                        folds += not folder.fold(run, close_all=rnd.random() < 0.3).aborted
                    except Exception:  # noqa: BLE001 - a throttled fold: the next one finishes it
                        pass
            kind, event = queue.pop(0)
            if kind == "batch":
                response = api.post(f"/v1/runs/{batch_run}/log-batch", {"metrics": event["metrics"]},
                                    headers={"Idempotency-Key": event["key"]})
                assert response.status in (200, 500), response.body  # 500: throttled past retries; re-sent
                if response.status != 200:
                    queue.append((kind, event))
                continue
            try:
                response = functions.invoke(handler[kind], event)
            except Exception:  # noqa: BLE001 - as Lambda's async retry: deliver again later
                queue.append((kind, event))
                continue
            if kind == "stream":
                failed = {r["recordId"] for r in response["records"] if r["result"] == "ProcessingFailed"}
                if failed and event["records"][0]["recordId"] != aws_events.firehose_record_ids(1, seed=999)[0]:
                    queue.append((kind, {**event, "records": [r for r in event["records"] if r["recordId"] in failed]}))
    assert faults["throttled"] > 5 and folds > 3

    def check():
        assert series(api, log_run, "loss") == [(s, v) for s, _, v in log_truth]
        assert summaries(api, log_run)["loss"] == truth(log_truth)
        stream_stats = summaries(api, stream_run)
        for gpu in ("GPU0", "GPU1"):
            for suffix, value in {"": lambda d: d.sum / d.count, ":max": lambda d: d.max, ":min": lambda d: d.min,
                                  ":sum": lambda d: d.sum, ":count": lambda d: d.count}.items():
                expected = [(d.timestamp_ms // 1000, d.timestamp_ms, value(d)) for d in datapoints if d.metric_name == gpu]
                assert stream_stats[gpu + suffix] == truth(expected), gpu + suffix
        assert series(api, batch_run, "acc") == [(s, v) for s, _, v in batch_truth]
        assert summaries(api, batch_run)["acc"] == truth(batch_truth)

    check()
    for run in (log_run, stream_run, batch_run):  # everything folded: the summary items alone are exact
        assert not folder.fold(run, close_all=True).aborted
    check()


def test_a_metric_stream_record_with_a_malformed_line_keeps_its_valid_datapoints(api, functions):
    run_id = new_run(api)
    api.post(f"/v1/runs/{run_id}/metric-stream-sources", {"name": "RunId", "value": run_id})
    good = [aws_events.MetricDatum("Custom/Train", "Loss", {"RunId": run_id}, T0 + i * 60_000, "None", 2.0, 1.0, 3.0, 2.0)
            for i in range(3)]
    payload = aws_events.metric_stream_json(good[:2]) + b"not json at all\n" + aws_events.metric_stream_json(good[2:])
    response = functions.invoke(STREAM, aws_events.firehose_transformation_event([payload], seed=77))
    assert [r["result"] for r in response["records"]] == ["ProcessingFailed"]  # kept for inspection and replay
    assert summaries(api, run_id)["Loss"]["count"] == 3
    # The replay from processing-failed/ changes nothing.
    functions.invoke(STREAM, aws_events.firehose_transformation_event([payload], seed=78))
    assert summaries(api, run_id)["Loss"]["count"] == 3
