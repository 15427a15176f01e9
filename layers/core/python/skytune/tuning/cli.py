"""`skytune tuning create|describe|trials|stop`: a thin HTTP client of the tuning API.

Talks to ``--api`` (default ``$SKYTUNE_API_URL``, else ``$SKYTUNE_URL``, else the local ``skytune local``
address) through the SDK's HTTP client, so it retries, authenticates and reports an unreachable server
as the SDK does: ``--auth iam`` signs with SigV4 (``--sigv4`` is the older spelling), ``--auth jwt``
sends a bearer token (``SKYTUNE_JWT`` or client credentials, see skytune.client.jwt). Imports no PynamoDB.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

from skytune.client.http import DEFAULT_URL, ApiError, Client, ServerUnreachable
from skytune.client.jwt import TokenUnavailable

TERMINAL = ("Completed", "Failed", "Stopped")


def add_parser(commands) -> None:
    tuning = commands.add_parser("tuning", help="create, watch and stop tuning jobs")
    tuning.add_argument("--api", default=os.environ.get("SKYTUNE_API_URL") or os.environ.get("SKYTUNE_URL") or DEFAULT_URL,
                        help="API base URL (default $SKYTUNE_API_URL, else $SKYTUNE_URL, else the local stack)")
    tuning.add_argument("--auth", choices=["iam", "jwt", "none"],
                        help="iam: SigV4 (default for a deployed URL); jwt: bearer token (SKYTUNE_JWT or SKYTUNE_OAUTH_*)")
    tuning.add_argument("--sigv4", action="store_true", help="same as --auth iam")
    actions = tuning.add_subparsers(dest="tuning_command", required=True)
    create = actions.add_parser("create", help="create a job from a JSON file (skytune or SageMaker body)")
    create.add_argument("spec", type=Path)
    create.add_argument("--name", help="override the job name in the file")
    create.add_argument("--watch", action="store_true", help="then follow it to the end")
    describe = actions.add_parser("describe", help="status, counters and best trial")
    describe.add_argument("name")
    describe.add_argument("--watch", action="store_true", help="refresh until the job ends")
    describe.add_argument("--interval", type=float, default=2.0)
    trials = actions.add_parser("trials", help="list trials")
    trials.add_argument("name")
    trials.add_argument("--status", choices=["InProgress", "Completed", "Failed", "Stopping", "Stopped"])
    trials.add_argument("--sort-by", default="FinalObjectiveMetricValue",
                        choices=["Name", "CreationTime", "Status", "FinalObjectiveMetricValue"])
    trials.add_argument("--ascending", action="store_true")
    trials.add_argument("--limit", type=int, default=20)
    pareto = actions.add_parser("pareto", help="the Pareto set of a job with several objectives")
    pareto.add_argument("name")
    stop = actions.add_parser("stop", help="stop a job (running trials stop, none start)")
    stop.add_argument("name")


def run(args) -> int:
    try:
        client = _Calls(Client(args.api, auth="iam" if args.sigv4 else args.auth, max_attempts=4))
        if args.tuning_command == "create":
            body = json.loads(args.spec.read_text())
            if args.name:
                body["HyperParameterTuningJobName" if "HyperParameterTuningJobConfig" in body else "name"] = args.name
            job = client.call("POST", "/v1/tuning-jobs", body)
            print(summary(job))
            if args.watch:
                return watch(client, job["HyperParameterTuningJobName"], 2.0)
            return 0
        if args.tuning_command == "describe":
            if args.watch:
                return watch(client, args.name, args.interval)
            print(json.dumps(client.call("GET", f"/v1/tuning-jobs/{_segment(args.name)}"), indent=2))
            return 0
        if args.tuning_command == "trials":
            order = "Ascending" if args.ascending else "Descending"
            query = {"sort_by": args.sort_by, "sort_order": order, "limit": args.limit, "status": args.status}
            page = client.call("GET", f"/v1/tuning-jobs/{_segment(args.name)}/trials", query=query)
            print(trial_table(page["TrainingJobSummaries"]))
            return 0
        if args.tuning_command == "pareto":
            job = client.call("GET", f"/v1/tuning-jobs/{_segment(args.name)}")
            if job.get("ParetoFrontTrainingJobs") is None:
                print(f"skytune tuning: {args.name} has one objective; its best trial: "
                      f"{(job.get('BestTrainingJob') or {}).get('TrainingJobName', '-')}", file=sys.stderr)
                return 1
            print(pareto_table(job["ParetoFrontTrainingJobs"]))
            return 0
        if args.tuning_command == "stop":
            print(summary(client.call("POST", f"/v1/tuning-jobs/{_segment(args.name)}/stop")))
            return 0
    except (ApiError, ServerUnreachable, TokenUnavailable) as error:
        print(f"skytune tuning: {error}", file=sys.stderr)
        return 1
    return 2


def _segment(name: str) -> str:
    return quote(name, safe="")


def watch(client: "_Calls", name: str, interval: float) -> int:
    while True:
        job = client.call("GET", f"/v1/tuning-jobs/{_segment(name)}")
        print("\r" + summary(job), end="", flush=True)
        if job["HyperParameterTuningJobStatus"] in TERMINAL:
            print()
            best = job.get("BestTrainingJob")
            if job.get("ParetoFrontTrainingJobs") is not None:
                print(pareto_table(job["ParetoFrontTrainingJobs"]))
            elif best:
                print(f"best: {best['TrainingJobName']} "
                      f"{best['FinalHyperParameterTuningJobObjectiveMetric']['Value']} {json.dumps(best['TunedHyperParameters'])}")
            return 0 if job["HyperParameterTuningJobStatus"] == "Completed" else 1
        time.sleep(interval)


def summary(job: dict) -> str:
    counters = job["TrainingJobStatusCounters"]
    best = job.get("BestTrainingJob", {}).get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value")
    pareto = job.get("ParetoFrontTrainingJobs")
    feasible = job.get("OutcomeConstraintCounters")
    return (f"{job['HyperParameterTuningJobName']}: {job['HyperParameterTuningJobStatus']} "
            f"completed={counters['Completed']} running={counters['InProgress']} failed={counters['NonRetryableError']} "
            f"stopped={counters['Stopped']} "
            + (f"pareto={len(pareto)}" if pareto is not None else f"best={best if best is not None else '-'}")
            + (f" feasible={feasible['Feasible']} infeasible={feasible['Infeasible']}" if feasible else "")
            + (f" ignored-history={job['IgnoredHistory']['Count']}" if job.get("IgnoredHistory") else ""))


def trial_table(trials: list[dict]) -> str:
    """One line per trial; with several objectives every objective's value, with outcome
    constraints a feasibility column (beyond AMT)."""
    several = any("FinalObjectiveMetrics" in t for t in trials)
    constrained = any("Feasible" in t for t in trials)
    header = f"{'trial':<40} {'status':<10} {'objective' if not several else 'objectives':>10}"
    lines = [header + (f" {'feasible':<8}" if constrained else "") + "  hyperparameters"]
    for trial in trials:
        value = trial.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value", "-")
        if several:
            value = ",".join(f"{m['MetricName']}={m['Value']:.6g}" for m in trial.get("FinalObjectiveMetrics", [])) or "-"
        line = f"{trial['TrainingJobName']:<40} {trial['TrainingJobStatus']:<10} {value!s:>10}"
        if constrained:
            line += f" {('yes' if trial['Feasible'] else 'no') if 'Feasible' in trial else '-':<8}"
        lines.append(f"{line}  {json.dumps(trial['TunedHyperParameters'])}")
    return "\n".join(lines)


def pareto_table(trials: list[dict]) -> str:
    """The Pareto set of a multi-objective job (describe's ParetoFrontTrainingJobs)."""
    return f"Pareto set ({len(trials)} trials):\n" + trial_table(trials)


class _Calls:
    """The SDK client, spoken to as this CLI does (method, path, body)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def call(self, method: str, path: str, body: dict | None = None, query: dict | None = None) -> dict:
        return self.client.request(method, path, body, query=query)
