"""The cost model in dollars: turns measured capacity and duration figures into docs/cost.md.

    .venv/bin/python -m benchmarks.cost                # reads benchmarks/results/*.json + the template
    .venv/bin/python -m benchmarks.cost --check        # fails when docs/cost.md is stale

Inputs, none typed by hand:
- the synthesised template (`cdk synth` of the default context): alarms, dashboards, functions and
  their memory sizes, what exists while idle;
- benchmarks/results/ingest.json   (`python -m benchmarks.ingest.run --json benchmarks/results/ingest.json`)
- benchmarks/results/search.json   (`python -m benchmarks.search.run ... --json benchmarks/results/search.json`)
- benchmarks/results/tuning.json   (`python -m benchmarks.tuning_cost --json benchmarks/results/tuning.json`)
Prices are the published on-demand prices of one region on one date (PRICES below, with sources).
Lambda durations are the in-process wall times measured on the development machine against
DynamoDB Local: an estimate of Lambda's billed duration, stated as such.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
OUTPUT = ROOT / "docs" / "cost.md"

REGION = "us-east-1"
PRICED_ON = "2026-11-28"


@dataclass(frozen=True)
class Price:
    usd: float
    per: str
    source: str


# Published on-demand prices, US East (N. Virginia), as listed on the pages named. Free tiers are
# left out of the per-use figures (they are per account, not per stack) and mentioned where they matter.
PRICES = {
    "lambda_gb_s_arm64": Price(0.0000133334, "GB-second (arm64)", "https://aws.amazon.com/lambda/pricing/"),
    "lambda_request": Price(0.20 / 1e6, "request", "https://aws.amazon.com/lambda/pricing/"),
    "dynamodb_wru": Price(0.625 / 1e6, "write request unit (on-demand)", "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "dynamodb_rru": Price(0.125 / 1e6, "read request unit (on-demand)", "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "dynamodb_storage": Price(0.25, "GB-month (standard table class)", "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "dynamodb_pitr": Price(0.20, "GB-month of continuous backup", "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "http_api_request": Price(1.00 / 1e6, "HTTP API request (first 300 M)", "https://aws.amazon.com/api-gateway/pricing/"),
    "sfn_transition": Price(0.025 / 1000, "state transition (Standard)", "https://aws.amazon.com/step-functions/pricing/"),
    "firehose_gb": Price(0.029, "GB ingested, each record rounded up to 5 KB", "https://aws.amazon.com/firehose/pricing/"),
    "metric_stream_update": Price(0.003 / 1000, "metric update", "https://aws.amazon.com/cloudwatch/pricing/"),
    "logs_ingest_gb": Price(0.50, "GB of log data ingested", "https://aws.amazon.com/cloudwatch/pricing/"),
    "alarm_month": Price(0.10, "standard-resolution alarm-month (first 10 per account free)", "https://aws.amazon.com/cloudwatch/pricing/"),
    "dashboard_month": Price(3.00, "dashboard-month (first 3 per account free)", "https://aws.amazon.com/cloudwatch/pricing/"),
    "xray_trace": Price(5.00 / 1e6, "trace recorded (first 100,000 per month free)", "https://aws.amazon.com/xray/pricing/"),
    "s3_put": Price(0.005 / 1000, "PUT request", "https://aws.amazon.com/s3/pricing/"),
}

# Peers: what the same work costs elsewhere (published list prices; see each source).
PEERS = [
    ("SageMaker Experiments (classic)", "no charge of its own; metrics via SageMaker training jobs' "
     "BatchPutMetrics (10 points per request) and viewed in SageMaker Studio",
     "https://aws.amazon.com/sagemaker/pricing/"),
    ("SageMaker managed MLflow tracking server", "billed per hour while the server exists, idle or not "
     "(sizes Small/Medium/Large); check the MLflow tab of the pricing page for the current hourly rate "
     "(not reachable from this workplace, so no figure is quoted here)",
     "https://aws.amazon.com/sagemaker/pricing/"),
    ("Self-hosted MLflow on AWS (EC2 + RDS + S3)", "about $200 per month for a medium instance, plus "
     "storage and transfer (Neptune.ai's 2024 estimate)",
     "https://neptune.ai/blog/real-cost-of-self-hosting-mlflow"),
    ("Comet MLOps", "Free: 1 user; Pro: $19 per user per month (up to 10 users, 1,500 training hours "
     "included, then $1 per training hour); Enterprise: custom (transcribed 2026-09-20)",
     "https://www.comet.com/site/pricing/"),
]

KB = 1024
GB = 1024 ** 3
LOG_BYTES_PER_INVOCATION = 1_500  # assumption: powertools' JSON lines of one invocation (start, end, report)


def usd(value: float) -> str:
    if value == 0:
        return "$0"
    if value < 0.01:
        return f"${value:.4f}"
    return f"${value:,.2f}"


# -- inputs ----------------------------------------------------------------------------------------
def load_template(template_path: Path | None) -> dict:
    if template_path is None:
        from skytune.local.synth import synthesise

        out = synthesise(ROOT, ROOT / "build" / "cost-cdk.out", stage="dev")
        template_path = next(out.glob("*.template.json"))
    return json.loads(Path(template_path).read_text())


def load_result(name: str, command: str) -> dict:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        sys.exit(f"{path.relative_to(ROOT)} is missing: produce it with `{command}`")
    return json.loads(path.read_text())


def resources_of(template: dict, kind: str) -> dict:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def function_memory_gb(template: dict, handler_prefix: str) -> float:
    for resource in resources_of(template, "AWS::Lambda::Function").values():
        if str(resource["Properties"].get("Handler", "")).startswith(handler_prefix):
            return resource["Properties"].get("MemorySize", 128) / 1024
    raise KeyError(f"no function with handler {handler_prefix}*")


# -- the model -------------------------------------------------------------------------------------
def idle(template: dict) -> list[tuple[str, str, float]]:
    alarms = len(resources_of(template, "AWS::CloudWatch::Alarm"))
    dashboards = len(resources_of(template, "AWS::CloudWatch::Dashboard"))
    lines = [
        ("CloudWatch alarms", f"{alarms} alarms x {usd(PRICES['alarm_month'].usd)}", alarms * PRICES["alarm_month"].usd),
        ("CloudWatch dashboards", f"{dashboards} x {usd(PRICES['dashboard_month'].usd)}", dashboards * PRICES["dashboard_month"].usd),
        ("DynamoDB tables (on-demand), PITR", "billed per GB stored: an empty stack stores ~0 GB", 0.0),
        ("Lambda, HTTP API, Step Functions, Firehose, SQS, SNS, CloudFront", "billed per request/transition/GB only", 0.0),
        ("KMS", "AWS-managed keys: no monthly key fee", 0.0),
        ("Web dashboard (S3 + CloudFront + Cognito)", "a few MB of static files; CloudFront and Cognito bill per "
         "request / monthly active user (Cognito's first 10,000 MAU free)", 0.0),
    ]
    return lines


def per_million_points(template: dict, ingest: dict) -> list[dict]:
    rows = []
    for path in ingest["paths"]:
        points = path["points"]
        scale = 1e6 / points
        memory_gb = function_memory_gb(template, path["handler"])
        invocations = path["invocations"] * scale
        gb_s = path["seconds"] * scale * memory_gb
        items = {
            "DynamoDB writes": path["wcu"] * scale * PRICES["dynamodb_wru"].usd,
            # the search index's stream consumer folding the changed runs (measured apart; round 5)
            "DynamoDB writes, search index": path.get("index_consumer_wcu", 0.0) * scale * PRICES["dynamodb_wru"].usd,
            "Lambda duration": gb_s * PRICES["lambda_gb_s_arm64"].usd,
            "Lambda requests": invocations * PRICES["lambda_request"].usd,
            "Lambda logs": invocations * LOG_BYTES_PER_INVOCATION / GB * PRICES["logs_ingest_gb"].usd,
            "X-Ray traces": invocations * PRICES["xray_trace"].usd,
        }
        if path["kind"] == "http":
            items["HTTP API requests"] = invocations * PRICES["http_api_request"].usd
        if path["kind"] == "logs":
            items["CloudWatch Logs ingestion of the scraped lines"] = (
                path["log_bytes"] * scale / GB * PRICES["logs_ingest_gb"].usd)
        if path["kind"] == "metric_stream":
            items["Metric stream updates"] = path["metric_updates"] * scale * PRICES["metric_stream_update"].usd
            records = path["firehose_records"] * scale
            items["Firehose ingestion (5 KB per record)"] = (
                records * max(path["firehose_record_bytes"], 5 * KB) / GB * PRICES["firehose_gb"].usd)
        rows.append({"label": path["label"], "invocations": invocations, "gb_s": gb_s, "items": items,
                     "total": sum(items.values())})
    return rows


def per_10k_searches(template: dict, search: dict) -> dict:
    memory_gb = function_memory_gb(template, "skytune_api")
    searches = 10_000
    items = {
        "DynamoDB reads": search["rcu_first_page"] * searches * PRICES["dynamodb_rru"].usd,
        "Lambda duration": search["seconds_first_page"] * searches * memory_gb * PRICES["lambda_gb_s_arm64"].usd,
        "Lambda requests": searches * PRICES["lambda_request"].usd,
        "HTTP API requests": searches * PRICES["http_api_request"].usd,
        "X-Ray traces": searches * PRICES["xray_trace"].usd,
    }
    return {"runs": search["runs"], "items": items, "total": sum(items.values())}


def per_tuning_job(template: dict, tuning: dict, trials: int = 100) -> dict:
    scale = trials / tuning["trials"]
    transitions = tuning["state_transitions"] * scale
    invocations = sum(tuning["invocations"].values()) * scale
    gb_s = sum(tuning["seconds"][handler] * function_memory_gb(template, handler) for handler in tuning["seconds"]) * scale
    items = {
        "Step Functions transitions": transitions * PRICES["sfn_transition"].usd,
        "Lambda duration (steps)": gb_s * PRICES["lambda_gb_s_arm64"].usd,
        "Lambda requests (steps)": invocations * PRICES["lambda_request"].usd,
        "DynamoDB writes": tuning["wcu"] * scale * PRICES["dynamodb_wru"].usd,
        "DynamoDB reads": tuning["rcu"] * scale * PRICES["dynamodb_rru"].usd,
    }
    return {"trials": trials, "transitions": transitions, "invocations": invocations, "gb_s": gb_s,
            "items": items, "total": sum(items.values())}


# -- the document ------------------------------------------------------------------------------------
def render(template: dict, ingest: dict, search: dict, tuning: dict) -> str:
    out = [
        "# What skytune costs",
        "",
        f"Generated by `.venv/bin/python -m benchmarks.cost` from the synthesised template and the measured",
        f"figures in `benchmarks/results/` (each file names the command that produced it). Prices: published",
        f"on-demand prices in {REGION} on {PRICED_ON} (sources at the end). Do not edit by hand.",
        "",
        "Lambda durations are in-process wall times measured on a 2-core development machine against",
        "DynamoDB Local, with other work running: read them as upper bounds. Capacity units (WCU/RCU) are",
        "exact (DynamoDB's sizing rules; transactions billed by `benchmarks/capacity.py`).",
        "",
        "## Idle (per month, no traffic)",
        "",
        "| item | how it bills | per month |",
        "|---|---|---:|",
    ]
    idle_lines = idle(template)
    for name, how, value in idle_lines:
        out.append(f"| {name} | {how} | {usd(value)} |")
    total_idle = sum(v for _, _, v in idle_lines)
    out += [f"| **total** | | **{usd(total_idle)}** |", "",
            "The alarms and the operations dashboard are what bills while nothing happens (turn the dashboard",
            "off with `-c operationsDashboard=false`); the first 10 alarms and 3 dashboards of an account are",
            "free, so a first stack in an account may cost less. Data at rest adds",
            f"{usd(PRICES['dynamodb_storage'].usd)} per GB-month (plus {usd(PRICES['dynamodb_pitr'].usd)} per GB-month for point-in-time recovery).",
            "", "## Per 1 million ingested points", "",
            "| path | DynamoDB (writers) | DynamoDB (search index) | Lambda (duration + requests + logs) | other | **total** |",
            "|---|---:|---:|---:|---:|---:|"]
    for row in per_million_points(template, ingest):
        items = row["items"]
        lam = items["Lambda duration"] + items["Lambda requests"] + items["Lambda logs"]
        index = items["DynamoDB writes, search index"]
        other = row["total"] - items["DynamoDB writes"] - index - lam
        out.append(f"| {row['label']} | {usd(items['DynamoDB writes'])} | {usd(index)} | {usd(lam)} | {usd(other)} | "
                   f"**{usd(row['total'])}** |")
    out += ["", f"Measured by: `{ingest['command']}`. 'other' is the HTTP API requests, X-Ray traces, the",
            "metric stream's updates and Firehose, or the CloudWatch Logs ingestion of the lines the metrics",
            "were scraped from (which a training job's logs cost anyway).",
            "'search index' is the stream consumer keeping the experiment index (docs/tracking.md) current:",
            "each fold rewrites the column groups of the buckets whose runs changed (and the runs' row items),",
            "so it costs per delivery more than per point, and depends on how the stream batches the",
            "deliveries (measured with the local stack's poller; on AWS a 1 s batching window). It also grows",
            "with the experiment: these runs are in small experiments, whose column groups are small; in an",
            "experiment of 10,000 runs a fold of one run whose one metric changed writes 27 WCU",
            "(BENCHMARKS.md, search round 5), i.e. ~$0.00003 per delivery and metric. Its own Lambda time is",
            "not included.", "",
            "## Per 10,000 searches", ""]
    searches = per_10k_searches(template, search)
    out += [f"First page (100 rows) of `{search['query']}` at {searches['runs']:,} runs:", "",
            "| item | cost |", "|---|---:|"]
    out += [f"| {k} | {usd(v)} |" for k, v in searches["items"].items()]
    out += [f"| **total** | **{usd(searches['total'])}** |", "", f"Measured by: `{search['command']}`.", "",
            "## Per 100-trial tuning job", ""]
    job = per_tuning_job(template, tuning)
    out += [f"{job['transitions']:,.0f} state transitions, {job['invocations']:,.0f} function invocations "
            "(the steps, the index consumer, the create call) "
            f"({job['gb_s']:,.1f} GB-s). Training compute (SageMaker instances, your Lambda trial function) is "
            "excluded: it is the same whichever tool drives the job.", "",
            "| item | cost |", "|---|---:|"]
    out += [f"| {k} | {usd(v)} |" for k, v in job["items"].items()]
    out += [f"| **total** | **{usd(job['total'])}** |", "",
            f"Measured by: `{tuning['command']}` ({tuning['trials']} trials, scaled linearly to 100).", "",
            "## The same work elsewhere", "",
            "| peer | how it bills | source |", "|---|---|---|"]
    out += [f"| {name} | {how} | {source} |" for name, how, source in PEERS]
    out += ["", "A tracking server billed by the hour costs the same whether or not anyone trains; skytune's",
            "bill follows use, and its idle floor is the alarms above.", "", "## Price sources", "",
            "| price | per | source |", "|---|---|---|"]
    out += [f"| {name} | {price.per} | {price.source} |" for name, price in PRICES.items()]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, help="a synthesised template (default: synthesise now)")
    parser.add_argument("--check", action="store_true", help="fail when docs/cost.md differs from the model")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "layers" / "core" / "python"))
    template = load_template(args.template)
    ingest = load_result("ingest", "python -m benchmarks.ingest.run --json benchmarks/results/ingest.json")
    search = load_result("search", "python -m benchmarks.search.run --json benchmarks/results/search.json")
    tuning = load_result("tuning", "python -m benchmarks.tuning_cost --json benchmarks/results/tuning.json")
    document = render(template, ingest, search, tuning)
    if args.check:
        if OUTPUT.read_text() != document:
            sys.exit("docs/cost.md is stale: run `python -m benchmarks.cost`")
        return
    OUTPUT.write_text(document)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
