"""What one tuning job consumes: state transitions, step invocations and their durations, DynamoDB
capacity — measured on the local stack (the synthesised state machine on moto, DynamoDB Local), with
a Lambda-runner trial function that returns at once, so only skytune's own work is counted.

    .venv/bin/python -m benchmarks.tuning_cost --trials 20 --json benchmarks/results/tuning.json

The figures feed the cost model (`python -m benchmarks.cost`).
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.capacity import capacity_meter  # noqa: E402
from skytune.local.runtime import LocalStack  # noqa: E402
from skytune.local.synth import synthesise  # noqa: E402
from skytune.local.template import stack_name  # noqa: E402

TRIAL_FUNCTION = "skytune-trial-cost-benchmark"


def measure(trials: int, parallel: int) -> dict:
    assembly = synthesise(ROOT, ROOT / "build" / "bench-cdk.out", stage="bench")
    stack = LocalStack(assembly_dir=assembly, stack_name=stack_name("bench"), data_dir=None).start()
    try:
        tuning = stack.tuning
        tuning.stepfunctions.register_function(
            TRIAL_FUNCTION, lambda event, _context: {"metrics": {"loss": (event["hyperparameters"]["lr"] - 0.05) ** 2}})
        invocations: Counter = Counter()
        seconds: dict[str, float] = defaultdict(float)
        lock = threading.Lock()
        real_invoke = stack.functions.invoke

        def timed_invoke(logical_id, event):
            handler = stack.functions.specs[logical_id].handler
            started = time.perf_counter()
            try:
                return real_invoke(logical_id, event)
            finally:
                with lock:
                    invocations[handler] += 1
                    seconds[handler] += time.perf_counter() - started

        stack.functions.invoke = timed_invoke
        name = f"cost-{int(time.time())}"
        body = {
            "name": name, "strategy": "Bayesian",
            "objective": {"metric_name": "loss", "type": "Minimize"},
            "parameter_ranges": {"ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.001", "MaxValue": "0.1"}]},
            "resource_limits": {"max_number_of_training_jobs": trials, "max_parallel_training_jobs": parallel},
            "trial": {"runner": "lambda", "function_name": TRIAL_FUNCTION},
        }
        sfn = tuning.stepfunctions.client("stepfunctions")
        machine = tuning.stepfunctions.state_machine_arn()

        def executions() -> list[dict]:
            return [e for e in sfn.list_executions(stateMachineArn=machine)["executions"] if e["name"].startswith(name)]

        # wait on the executions (moto), not on the API: polling the API would read DynamoDB
        with capacity_meter() as meter:
            status, created = tuning.api("POST", "/v1/tuning-jobs", body)
            assert status == 201, created
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                running = executions()
                if running and all(e["status"] != "RUNNING" for e in running):
                    break
                time.sleep(0.5)
        stack.functions.invoke = real_invoke  # the check below is the benchmark's, not the job's
        job = tuning.api("GET", f"/v1/tuning-jobs/{name}")[1]
        assert job["HyperParameterTuningJobStatus"] == "Completed", job
        assert job["ConsumedResources"]["TrainingJobsStarted"] == trials, job
        transitions = 0
        for execution in executions():
            token = None
            while True:
                page = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000,
                                                 **({"nextToken": token} if token else {}))
                transitions += sum(1 for event in page["events"] if event["type"].endswith("StateEntered"))
                token = page.get("nextToken")
                if not token:
                    break
        return {
            "command": f"python -m benchmarks.tuning_cost --trials {trials} --parallel {parallel}",
            "trials": trials, "parallel": parallel,
            "state_transitions": transitions,
            "invocations": dict(invocations),
            "seconds": {h: round(s, 3) for h, s in seconds.items()},
            "wcu": round(meter["wcu"], 1), "rcu": round(meter["rcu"], 1),
        }
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = measure(args.trials, args.parallel)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
