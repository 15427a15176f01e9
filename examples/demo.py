"""`make demo`: start the local stack, use the API over HTTP, then tune a real model.

The foundation part shows the synthesised template's tables in DynamoDB Local and the API function
behind a local HTTP API; the tuning part runs examples/digits_tuning_job.json (a scikit-learn MLP on
the bundled digits data, 20 trials, 4 in parallel, Bayesian) through the synthesised Step Functions
state machine on moto, each trial a local process, and prints the leaderboard.
"""
from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

from skytune.local.dynamodb_local import free_port
from skytune.local.runtime import LocalStack
from skytune.local.http_api import serve
from skytune.local.synth import find_project_root, synthesise
from skytune.local.template import stack_name

STAGE = "dev"


def call(method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def tune(base: str, root: Path) -> None:
    spec = json.loads((root / "examples" / "digits_tuning_job.json").read_text())
    spec["name"] = f"{spec['name']}-{int(time.time())}"
    limits = spec["resource_limits"]
    print(f"4. tuning job {spec['name']!r}: {spec['strategy']}, {limits['max_number_of_training_jobs']} trials, "
          f"{limits['max_parallel_training_jobs']} in parallel, maximising {spec['objective']['metric_name']}")
    started = time.monotonic()
    status, job = call("POST", f"{base}/tuning-jobs", spec)
    if status >= 300:
        raise SystemExit(f"   POST /v1/tuning-jobs -> {status} {job}")
    total = limits["max_number_of_training_jobs"]
    while job["HyperParameterTuningJobStatus"] in ("InProgress", "Stopping"):
        time.sleep(1)
        _, job = call("GET", f"{base}/tuning-jobs/{spec['name']}")
        progress_bar(job, total, time.monotonic() - started)
    print()
    _, page = call("GET", f"{base}/tuning-jobs/{spec['name']}/trials?sort_by=FinalObjectiveMetricValue&sort_order=Descending&limit=10")
    print(f"   {job['HyperParameterTuningJobStatus']} in {time.monotonic() - started:.0f} s; leaderboard (top 10):")
    names = list(spec["parameter_ranges"].get("IntegerParameterRanges", [])) + \
        list(spec["parameter_ranges"].get("ContinuousParameterRanges", [])) + \
        list(spec["parameter_ranges"].get("CategoricalParameterRanges", []))
    columns = [r["Name"] for r in names]
    print("   " + f"{'rank':>4}  {'trial':<36} {'accuracy':>8}  " + "  ".join(f"{c:>13}" for c in columns))
    for rank, trial in enumerate(page["TrainingJobSummaries"], 1):
        value = trial.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
        cells = "  ".join(f"{_short(trial['TunedHyperParameters'].get(c, '')):>13}" for c in columns)
        print(f"   {rank:>4}  {trial['TrainingJobName']:<36} {value if value is not None else '-':>8}  {cells}")
    best = job.get("BestTrainingJob")
    if best:
        print(f"   best: {best['FinalHyperParameterTuningJobObjectiveMetric']['Value']} with "
              f"{json.dumps(best['TunedHyperParameters'])} (run {best['RunId']})")
    return spec["name"]


def _short(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    return value if number.is_integer() else f"{number:.4g}"


def progress_bar(job: dict, total: int, elapsed: float, width: int = 30) -> None:
    counters = job["TrainingJobStatusCounters"]
    done = counters["Completed"] + counters["NonRetryableError"] + counters["Stopped"]
    filled = int(width * done / max(total, 1))
    best = job.get("BestTrainingJob", {}).get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
    print(f"\r   [{'#' * filled}{'.' * (width - filled)}] {done}/{total} done, {counters['InProgress']} running, "
          f"best {best if best is not None else '-'}, {elapsed:.0f} s", end="", flush=True)


def main() -> None:
    started = time.monotonic()
    root = find_project_root()
    print("1. synthesising the CDK app (the same template `cdk deploy` uses) ...")
    assembly = synthesise(root, root / "cdk.out", STAGE)
    stack = LocalStack(assembly_dir=assembly, stack_name=stack_name(STAGE), data_dir=root / ".skytune" / "demo").start()
    print(f"2. DynamoDB Local on {stack.dynamodb.endpoint}; tables from the template: "
          f"{', '.join(t.name for t in stack.template.tables())}")
    port = free_port()
    server = serve(stack.http_api(), "127.0.0.1", port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}/v1"
    print(f"3. HTTP API on {base} (routes: {', '.join(r.route_key for r in stack.template.routes())})")
    try:
        status, health = call("GET", f"{base}/health")
        print(f"   GET  /v1/health            -> {status} {health}")
        name = f"demo-{int(time.time())}"
        status, created = call("POST", f"{base}/experiments", {"name": name, "description": "made by make demo", "tags": {"source": "demo"}})
        print(f"   POST /v1/experiments       -> {status} created {created['name']!r} at {created['created_at']}")
        status, fetched = call("GET", f"{base}/experiments/{name}")
        print(f"   GET  /v1/experiments/{name} -> {status} tags={fetched['tags']}")
        status, page = call("GET", f"{base}/experiments?limit=5")
        print(f"   GET  /v1/experiments       -> {status} {len(page['experiments'])} shown: {[e['name'] for e in page['experiments']]}")
        status, error = call("POST", f"{base}/experiments", {"name": "bad name!"})
        print(f"   POST bad name              -> {status} {error['error']['message']}")
        job_name = tune(base, root)
    finally:
        server.shutdown()
        stack.stop()
    print(f"5. done in {time.monotonic() - started:.1f} s; data kept in {Path('.skytune/demo')} (run `skytune local` to explore)")
    # dashboard: the same data in the browser
    print(f"6. dashboard: run `.venv/bin/skytune local --data-dir .skytune/demo`, open the URL it prints (it carries "
          f"the token), then http://127.0.0.1:8080/tuning-jobs/{job_name}")


if __name__ == "__main__":
    main()
