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
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.capacity import capacity_meter  # noqa: E402
from skytune.local.runtime import LocalStack  # noqa: E402
from skytune.local.synth import synthesise  # noqa: E402
from skytune.local.template import stack_name  # noqa: E402
from skytune.metrics import MetricStore, Summary  # noqa: E402
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


def measure(label, n_points, work, run_id=None):
    """WCU of the deliveries, and separately of the metric store's folds (those the writers ran, plus
    a final fold that closes the run, as at its end), all billed to the path. The local stack's
    stream consumer (the search index) runs in other threads: its writes are reported apart."""
    with capacity_meter() as meter:
        started = time.perf_counter()
        work()
        elapsed = time.perf_counter() - started
        if run_id is not None and hasattr(MetricStore, "fold"):
            MetricStore().fold(run_id, close_all=True)
    ingest_wcu = meter["wcu"] - meter["background_wcu"]  # deliveries + folds
    fold_wcu = meter["fold_wcu"]
    return {"path": label, "points": n_points, "seconds": round(elapsed, 2), "points_per_s": round(n_points / elapsed),
            "wcu": round(ingest_wcu, 1), "wcu_per_point": round(ingest_wcu / n_points, 4),
            "delivery_wcu_per_point": round((ingest_wcu - fold_wcu) / n_points, 4),
            "fold_wcu_per_point": round(fold_wcu / n_points, 4),
            "index_consumer_wcu": round(meter["background_wcu"], 1),
            "wcu_per_million": round(ingest_wcu / n_points * MILLION), "write_requests": sum(
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
                  lambda: [stack.functions.invoke(fn, e) for e in events], run_id)
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
                  lambda: [stack.functions.invoke(fn, e) for e in events], run_id)
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
                  lambda: [api(emulator, "POST", f"/v1/runs/{run_id}/log-batch", b) for b in batches], run_id)
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
    args = parser.parse_args()
    assembly = synthesise(ROOT, ROOT / "build" / "bench-cdk.out", "bench")
    stack = LocalStack(assembly_dir=assembly, stack_name=stack_name("bench"), data_dir=None, tuning_enabled=False).start()
    try:
        emulator = stack.http_api()
        api(emulator, "POST", "/v1/experiments", {"name": "bench"})
        rows = [
            bench_logs(stack, emulator, args.points, 1000),
            bench_logs(stack, emulator, args.points // 10, 50),
            bench_logs(stack, emulator, args.points // 10, 25),
            bench_stream(stack, emulator, args.points, 100),
            bench_stream(stack, emulator, args.points // 10, 10),
            bench_stream(stack, emulator, args.points // 10, 1),
            bench_api(stack, emulator, args.points, 1000),
            bench_api(stack, emulator, args.points // 10, 100),
            bench_api(stack, emulator, args.points // 10, 50),
            bench_naive(stack, args.points // 10),
        ]
    finally:
        stack.stop()
    naive = rows[-1]["wcu_per_point"]
    print(f"| path | points | points/s | WCU per point (deliveries + folds) | of which deliveries | of which folds | WCU per 1M points | vs one item per point | index consumer WCU (apart) |")
    print(f"|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['path']} | {row['points']:,} | {row['points_per_s']:,} | {row['wcu_per_point']} | "
              f"{row['delivery_wcu_per_point']} | {row['fold_wcu_per_point']} | "
              f"{row['wcu_per_million']:,} | {naive / row['wcu_per_point']:.0f}x cheaper | {row['index_consumer_wcu']} |")
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
