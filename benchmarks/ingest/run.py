"""Ingestion benchmark: points per second through each handler into DynamoDB Local (one process), and
write capacity per 1,000,000 points against the naive one-item-per-point design and SageMaker's
BatchPutMetrics request count.

    .venv/bin/python -m benchmarks.ingest.run [--points 200000]
"""
from __future__ import annotations

import argparse
import base64
import json
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.capacity import capacity_meter  # noqa: E402
from skytune.local.runtime import LocalStack  # noqa: E402
from skytune.local.synth import synthesise  # noqa: E402
from skytune.local.template import stack_name  # noqa: E402
from skytune.metrics import Summary  # noqa: E402
from tests.support import aws_events  # noqa: E402

T0 = 1_800_000_000_000
SAGEMAKER_POINTS_PER_REQUEST = 10  # BatchPutMetrics limit
MILLION = 1_000_000


def api(emulator, method, path, body=None):
    status, _, payload = emulator.handle(method, path, {"content-type": "application/json"}, json.dumps(body).encode() if body is not None else b"")
    assert status < 300, (status, payload[:300])
    return json.loads(payload)


def handler_id(stack, handler):
    return next(lid for lid, spec in stack.functions.specs.items() if spec.handler == handler)


def new_run(emulator, experiment) -> str:
    return api(emulator, "POST", "/v1/runs", {"experiment": experiment, "name": uuid.uuid4().hex[:12]})["run_id"]


STACK = None  # set by main: its stream consumer (the experiment index) is flushed into each row


def measure(label, n_points, work):
    """Ingestion's WCU excludes the index table: the stream consumer's writes (issue 11), flushed
    into the row and reported apart (`index_wcu`); they are not on the write path."""
    with capacity_meter() as meter:
        started = time.perf_counter()
        work()
        elapsed = time.perf_counter() - started
        if STACK is not None and STACK.streams is not None:
            STACK.streams.flush()
    index_table = None if STACK is None else next((f.environment["INDEX_TABLE"] for f in STACK.functions.specs.values()
                                                   if "INDEX_TABLE" in f.environment), None)
    index_wcu = meter["wcu_by_table"].get(index_table, 0.0)
    wcu = meter["wcu"] - index_wcu
    return {"path": label, "points": n_points, "seconds": round(elapsed, 2), "points_per_s": round(n_points / elapsed),
            "index_wcu": round(index_wcu, 1),
            "wcu": round(wcu, 1), "wcu_per_point": round(wcu / n_points, 4),
            "wcu_per_million": round(wcu / n_points * MILLION), "write_requests": sum(
                v for k, v in meter["requests"].items() if k in ("PutItem", "UpdateItem", "BatchWriteItem", "TransactWriteItems"))}


def bench_logs(stack, emulator, total, lines_per_delivery):
    run_id = new_run(emulator, "bench")
    api(emulator, "POST", f"/v1/runs/{run_id}/log-sources", {"log_group": "/bench", "stream_prefix": "", "metric_definitions": [
        {"Name": "train:loss", "Regex": r"Train Loss: ([0-9.]+);"}, {"Name": "test:acc", "Regex": r"Test Accuracy: ([0-9.]+)%;"}]})
    rnd = random.Random(1)
    lines = [(f"Train Loss: {rnd.random():.6f}; Test Accuracy: {rnd.uniform(50, 99):.3f}%;", T0 + i) for i in range(total // 2)]
    events = [aws_events.cloudwatch_logs_event("/bench", "s", lines[i:i + lines_per_delivery], seed=i) for i in range(0, len(lines), lines_per_delivery)]
    fn = handler_id(stack, "skytune_ingest.logs.lambda_handler")
    row = measure(f"CloudWatch Logs subscription ({lines_per_delivery} lines x 2 metrics per delivery)", len(lines) * 2,
                  lambda: [stack.functions.invoke(fn, e) for e in events])
    return {**row, "kind": "logs", "handler": "skytune_ingest.logs", "invocations": len(events),
            "log_bytes": sum(len(text) + 26 for text, _ in lines)}  # + CloudWatch's per-event overhead


def bench_stream(stack, emulator, total, records_per_invocation):
    """A training job's metrics through a metric stream: 10 metrics, one datapoint a minute each; a
    record holds one minute; Firehose hands the function `records_per_invocation` records at once."""
    run_id = new_run(emulator, "bench")
    api(emulator, "POST", f"/v1/runs/{run_id}/metric-stream-sources", {"name": "RunId", "value": run_id})
    rnd = random.Random(2)
    datapoints = [aws_events.MetricDatum("Custom/Train", f"m{i % 10}", {"RunId": run_id}, T0 + (i // 10) * 60_000, "Percent",
                                         hi, hi / 2, hi * 1.5, 2.0) for i, hi in enumerate(rnd.uniform(1, 100) for _ in range(total // 5))]
    minutes = [datapoints[i:i + 10] for i in range(0, len(datapoints), 10)]
    events = [aws_events.firehose_metric_stream_event(minutes[i:i + records_per_invocation], seed=i)
              for i in range(0, len(minutes), records_per_invocation)]
    fn = handler_id(stack, "skytune_ingest.metric_stream.lambda_handler")
    row = measure(f"Metric stream via Firehose ({records_per_invocation} one-minute records of 10 metrics x 5 statistics per invocation)", len(datapoints) * 5,
                  lambda: [stack.functions.invoke(fn, e) for e in events])
    records = [record for event in events for record in event["records"]]
    record_bytes = sum(len(base64.b64decode(record["data"])) for record in records) / len(records)
    return {**row, "kind": "metric_stream", "handler": "skytune_ingest.metric_stream", "invocations": len(events),
            "metric_updates": len(datapoints), "firehose_records": len(records), "firehose_record_bytes": round(record_bytes)}


def bench_api(stack, emulator, total, points_per_request):
    run_id = new_run(emulator, "bench")
    rnd = random.Random(3)
    batches = [{"metrics": [{"name": f"m{j % 5}", "value": rnd.random(), "step": (i + j) // 5, "timestamp": T0 + i + j}
                            for j in range(points_per_request)]} for i in range(0, total, points_per_request)]
    row = measure(f"HTTP log-batch ({points_per_request} points, 5 metrics per request)", total,
                  lambda: [api(emulator, "POST", f"/v1/runs/{run_id}/log-batch", b) for b in batches])
    return {**row, "kind": "http", "handler": "skytune_api", "invocations": len(batches)}


def bench_naive(stack, total):
    """One DynamoDB item per point (what a straightforward design stores), written with BatchWriteItem."""
    client = stack.dynamodb_client()
    table = f"naive-{uuid.uuid4().hex[:6]}"
    client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}])
    rnd = random.Random(4)
    run_id = str(uuid.uuid4())
    items = [{"PutRequest": {"Item": {"pk": {"S": f"RUN#{run_id}#M#m{i % 5}"}, "sk": {"S": f"{i // 5:010d}#{T0 + i}"},
                                      "value": {"N": repr(rnd.random())}, "timestamp": {"N": str(T0 + i)}}}} for i in range(total)]

    def work():
        for i in range(0, len(items), 25):
            client.batch_write_item(RequestItems={table: items[i:i + 25]})

    return measure("naive: one item per point (BatchWriteItem, no summaries)", total, work)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=100_000, help="points per path")
    parser.add_argument("--json", type=Path, help="also write the large-delivery rows here (for benchmarks.cost)")
    parser.add_argument("--only", choices=["logs", "stream", "http"], help="measure this path only (and the naive one)")
    args = parser.parse_args()
    assembly = synthesise(ROOT, Path(tempfile.mkdtemp()) / "cdk.out", "bench")
    stack = LocalStack(assembly_dir=assembly, stack_name=stack_name("bench"), data_dir=None, tuning_enabled=False).start()
    global STACK
    STACK = stack
    try:
        emulator = stack.http_api()
        api(emulator, "POST", "/v1/experiments", {"name": "bench"})
        paths = [
            ("logs", lambda: bench_logs(stack, emulator, args.points, 1000)),
            ("logs", lambda: bench_logs(stack, emulator, args.points // 10, 50)),
            ("logs", lambda: bench_logs(stack, emulator, args.points // 10, 25)),
            ("stream", lambda: bench_stream(stack, emulator, args.points, 100)),
            ("stream", lambda: bench_stream(stack, emulator, args.points // 10, 10)),
            ("stream", lambda: bench_stream(stack, emulator, args.points // 10, 1)),
            ("http", lambda: bench_api(stack, emulator, args.points, 1000)),
            ("http", lambda: bench_api(stack, emulator, args.points // 10, 100)),
            ("http", lambda: bench_api(stack, emulator, args.points // 10, 50)),
            ("naive", lambda: bench_naive(stack, args.points // 10)),
        ]
        rows = [run() for kind, run in paths if args.only is None or kind in (args.only, "naive")]
    finally:
        stack.stop()
    naive = rows[-1]["wcu_per_point"]
    print(f"| path | points | points/s | WCU per point | WCU per 1M points | vs one item per point | index consumer WCU (apart) |")
    print(f"|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['path']} | {row['points']:,} | {row['points_per_s']:,} | {row['wcu_per_point']} | "
              f"{row['wcu_per_million']:,} | {naive / row['wcu_per_point']:.0f}x cheaper | {row['index_wcu']:,} |")
    print(f"| SageMaker BatchPutMetrics (10 points per request) | - | - | - | {MILLION // SAGEMAKER_POINTS_PER_REQUEST:,} requests per 1M points | - |")
    if args.json:
        # the first (large-delivery) row of each path: what a training job's deliveries look like in practice
        first = {}
        for row in rows:
            if "kind" in row and row["kind"] not in first:
                first[row["kind"]] = {**row, "label": row["path"]}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"command": f"python -m benchmarks.ingest.run --points {args.points}",
                                         "paths": list(first.values())}, indent=2) + "\n")


if __name__ == "__main__":
    main()
