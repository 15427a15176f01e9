"""`skytune doctor`: check a deployed (or local) stack end to end and print a table.

Each check is a function that returns a short reason or raises ``CheckFailed`` (with a hint) or
``Skipped``; one failing check never stops the others. Everything the checks create lives in the
scratch experiment ``skytune-doctor`` and is deleted at the end (the tuning job's record stays: jobs
are history, like SageMaker's).
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from skytune.client.http import ApiError, Client, local_token

SCRATCH_EXPERIMENT = "skytune-doctor"
METRIC = "doctor_loss"
LOG_PATTERN = r"doctor_loss=(?P<value>[0-9.]+)"


INDEX_WAIT_SECONDS = 20.0  # the documented staleness is seconds; a loaded machine needs more

class CheckFailed(Exception):
    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.reason, self.hint = reason, hint


class Skipped(Exception):
    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(reason)
        self.reason, self.hint = reason, hint


@dataclass
class Outcome:
    name: str
    status: str  # pass | FAIL | skip
    reason: str
    hint: str = ""


@dataclass
class Doctor:
    client: Client
    log_group: str | None = None  # a subscribed log group (deployed); locally the local log endpoint
    trial_function: str | None = None  # a Lambda trial function; default: the doctor is an external worker
    dashboard_url: str | None = None
    timeout_s: float = 120.0
    run_id: str | None = None

    @property
    def is_local(self) -> bool:
        return (urlsplit(self.client.url).hostname or "") in {"127.0.0.1", "localhost", "::1"}

    # -- checks ------------------------------------------------------------------------------------
    def health(self) -> str:
        answer = self.client.request("GET", "/v1/health")
        tables = answer.get("storage") or {}
        bad = {name: status for name, status in tables.items() if status != "ACTIVE"}
        if bad or not tables:
            raise CheckFailed(f"tables not active: {bad}", "wait for the deployment to finish, then rerun")
        return f"version {answer.get('version')}, stage {answer.get('stage')}, {len(tables)} tables active"

    def unsigned_refused(self) -> str:
        """A request with no credentials at all must be refused before any handler runs."""
        request = urllib.request.Request(self.client.url + "/v1/health", method="GET")
        try:
            with urllib.request.urlopen(request, timeout=self.client.timeout) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        if status in (401, 403):
            return f"an unsigned request was refused ({status})"
        raise CheckFailed(f"an unsigned request was answered {status}",
                          "the API is open to anyone who can reach it: deploy with auth=iam or auth=jwt; "
                          "locally, do not use --no-token")

    def track(self) -> str:
        self.client.ensure_experiment(SCRATCH_EXPERIMENT)
        name = f"doctor-{uuid.uuid4().hex[:12]}"
        run = self.client.create_run(experiment=SCRATCH_EXPERIMENT, name=name)
        self.run_id = run["run_id"]
        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[{"name": METRIC, "value": 0.5 - i / 100, "step": i,
                                                     "timestamp": now + i} for i in range(10)])
        # search answers from the experiment index, which follows the tables within seconds
        # (docs/tracking.md, freshness): ask again until the new run shows or the wait is over
        deadline = time.monotonic() + INDEX_WAIT_SECONDS
        while True:
            page = self.client.search_page(experiments=[SCRATCH_EXPERIMENT], filter=f"name = '{name}'",
                                           columns=["name", f"metrics.{METRIC}.min"])
            rows = page.get("rows", [])
            if len(rows) == 1 or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        if len(rows) != 1:
            raise CheckFailed(f"search found {len(rows)} rows for the new run, expected 1",
                              f"the search index did not show it within {INDEX_WAIT_SECONDS:.0f} s: "
                              "see docs/tracking.md (freshness), and the index function's errors")
        points = self.client.series(self.run_id, METRIC)
        if len(points) != 10:
            raise CheckFailed(f"the series has {len(points)} points, expected 10")
        return f"run {self.run_id}: 10 points logged, found by search, series read back"

    def log_subscription(self) -> str:
        if self.run_id is None:
            raise Skipped("needs the run of the tracking check")
        group = self.log_group or ("/skytune/local/doctor" if self.is_local else None)
        if group is None:
            raise Skipped("no --log-group given", "pass one of the stack's subscribedLogGroups to test log ingestion")
        stream = f"doctor/{self.run_id}"
        self.client.request("POST", f"/v1/runs/{quote(self.run_id, safe='')}/log-sources",
                            {"log_group": group, "stream_prefix": stream,
                             "metric_definitions": [{"Name": "doctor_logged", "Regex": LOG_PATTERN}]})
        message = "doctor_loss=0.125"
        if self.is_local:
            self.client.request("POST", "/_local/cloudwatch-logs", {
                "log_group": group, "log_stream": stream,
                "events": [{"timestamp": int(time.time() * 1000), "message": message}]})
        else:
            _put_log_event(group, stream, message)
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            points = self.client.series(self.run_id, "doctor_logged")
            if points:
                if abs(points[0]["value"] - 0.125) > 1e-9:
                    raise CheckFailed(f"the logged value arrived as {points[0]['value']}, expected 0.125")
                return f"a line in {group} reached the run as a point"
            time.sleep(1.0)
        raise CheckFailed(f"no point from {group} after {self.timeout_s:.0f} s",
                          "is the log group in the stack's subscribedLogGroups context? "
                          "see the ingest-logs function's logs and its dead-letter queue")

    def tuning_job(self) -> str:
        name = f"doctor-{uuid.uuid4().hex[:10]}"
        trial = ({"runner": "lambda", "function_name": self.trial_function} if self.trial_function
                 else {"runner": "external", "heartbeat_seconds": 60})
        body = {"name": name, "strategy": "Random",
                "objective": {"metric_name": "loss", "type": "Minimize"},
                "parameter_ranges": {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]},
                "resource_limits": {"max_number_of_training_jobs": 1, "max_parallel_training_jobs": 1},
                "trial": trial}
        self.client.request("POST", "/v1/tuning-jobs", body)
        deadline = time.monotonic() + self.timeout_s
        completed_trial = None
        while time.monotonic() < deadline:
            job = self.client.request("GET", f"/v1/tuning-jobs/{name}")
            status = job["HyperParameterTuningJobStatus"]
            if status == "Completed":
                best = job.get("BestTrainingJob") or {}
                return f"job {name} completed; best objective {best.get('FinalHyperParameterTuningJobObjectiveMetric', {}).get('Value')}"
            if status in ("Failed", "Stopped"):
                raise CheckFailed(f"job {name} ended {status}: {job.get('FailureReason')}",
                                  "see the state machine's failed execution in the Step Functions console")
            if not self.trial_function and completed_trial is None:
                trials = self.client.request("GET", f"/v1/tuning-jobs/{name}/trials",
                                             query={"status": "InProgress"})["TrainingJobSummaries"]
                # act as the external worker: report the objective for x. A trial is listed as
                # InProgress from its claim, before its hyperparameters are suggested: wait for them.
                if trials and "x" in trials[0]["TunedHyperParameters"]:
                    trial_name = trials[0]["TrainingJobName"]
                    x = float(trials[0]["TunedHyperParameters"]["x"])
                    self.client.request("POST", f"/v1/tuning-jobs/{name}/trials/{quote(trial_name, safe='')}/complete",
                                        {"status": "Completed", "metrics": [{"name": "loss", "value": (x - 0.3) ** 2, "step": 0}]})
                    completed_trial = trial_name
            time.sleep(1.0)
        raise CheckFailed(f"job {name} not finished after {self.timeout_s:.0f} s",
                          "is the state machine running? (locally: was `skytune local` started with tuning on?)")

    def dashboard(self) -> str:
        url = self.dashboard_url or (self.client.url + "/" if self.is_local else None)
        if url is None:
            raise Skipped("no --dashboard-url given", "pass the stack's DashboardUrl output")
        token = local_token(self.client.url) if self.is_local else None
        headers = {"X-Skytune-Token": token} if token else {}
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.client.timeout) as response:  # noqa: S310
                body = response.read(4096).decode(errors="replace")
                status = response.status
        except urllib.error.HTTPError as error:
            raise CheckFailed(f"{url} answered {error.code}", "was the dashboard deployed (context dashboard=true)?") from None
        if "<html" not in body.lower():
            raise CheckFailed(f"{url} answered {status} but not with a page")
        return f"{url} serves the dashboard"

    def delete_scratch_run(self) -> str:
        if self.run_id is None:
            raise Skipped("needs the run of the tracking check")
        path = f"/v1/runs/{quote(self.run_id, safe='')}"
        self.client.request("DELETE", path)
        try:
            self.client.request("GET", path)
        except ApiError as error:
            if error.status == 404:
                deleted, self.run_id = self.run_id, None
                return f"run {deleted} deleted"
            raise
        raise CheckFailed(f"run {self.run_id} still readable after DELETE")

    def cleanup(self) -> None:
        if self.run_id is not None:
            try:
                self.client.request("DELETE", f"/v1/runs/{quote(self.run_id, safe='')}")
            except (ApiError, OSError):
                pass  # best effort: the outcomes are already known and must still be printed

    # -- running ---------------------------------------------------------------------------------
    def checks(self) -> list[tuple[str, Callable[[], str]]]:
        return [("health", self.health), ("unsigned request refused", self.unsigned_refused),
                ("create, log, search, read", self.track), ("log line through the subscription", self.log_subscription),
                ("one-trial tuning job", self.tuning_job), ("dashboard reachable", self.dashboard),
                ("delete the scratch run", self.delete_scratch_run)]

    def run(self) -> list[Outcome]:
        outcomes = []
        try:
            for name, check in self.checks():
                outcomes.append(_outcome(name, check))
        finally:
            self.cleanup()
        return outcomes


def _outcome(name: str, check: Callable[[], str]) -> Outcome:
    try:
        return Outcome(name, "pass", check())
    except Skipped as skipped:
        return Outcome(name, "skip", skipped.reason, skipped.hint)
    except CheckFailed as failed:
        return Outcome(name, "FAIL", failed.reason, failed.hint)
    except ApiError as error:
        return Outcome(name, "FAIL", f"{error.status} {error.code}: {error.message}", _hint_for(error.status))
    except (OSError, urllib.error.URLError) as error:
        return Outcome(name, "FAIL", f"cannot reach the API: {error}",
                       "check the URL (the stack's ApiUrl output); locally, is `skytune local` running?")
    except Exception as error:  # noqa: BLE001 - a doctor reports every check, even one it did not foresee
        return Outcome(name, "FAIL", f"unexpected {type(error).__name__}: {error}",
                       "this is a bug in the check or an answer it did not expect; please report it")


def _hint_for(status: int) -> str:
    if status in (401, 403):
        return "credentials are missing or not allowed: see docs/security.md for the IAM policy or JWT scopes to grant"
    if status == 404:
        return "is the URL the stack's ApiUrl output (with no extra path)?"
    return ""


def _put_log_event(group: str, stream: str, message: str) -> None:
    import boto3  # deployed checks only; boto3 is the AWS SDK the user already has for a deployed stack

    logs = boto3.client("logs")
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": message}])


def render(outcomes: list[Outcome]) -> str:
    width = max(len(o.name) for o in outcomes)
    lines = [f"{'check'.ljust(width)}  result  reason", f"{'-' * width}  ------  ------"]
    for outcome in outcomes:
        lines.append(f"{outcome.name.ljust(width)}  {outcome.status.ljust(6)}  {outcome.reason}")
        if outcome.hint and outcome.status != "pass":
            lines.append(f"{' ' * width}          hint: {outcome.hint}")
    return "\n".join(lines)


def main(args) -> int:
    client = Client(args.url, auth=args.auth, max_attempts=3, bearer=args.jwt)
    doctor = Doctor(client, log_group=args.log_group, trial_function=args.trial_function,
                    dashboard_url=args.dashboard_url, timeout_s=args.timeout)
    outcomes = doctor.run()
    print(render(outcomes))
    if args.json:
        print(json.dumps([o.__dict__ for o in outcomes], indent=2))
    return 1 if any(o.status == "FAIL" for o in outcomes) else 0


def add_parser(commands) -> None:
    doctor = commands.add_parser("doctor", help="check a deployed (or local) stack end to end")
    doctor.add_argument("--url", help="the stack's ApiUrl output (default: SKYTUNE_URL, else the local stack)")
    doctor.add_argument("--auth", choices=["iam", "jwt", "none"], help="default: iam for a deployed URL "
                        "(jwt: the token from --jwt, SKYTUNE_JWT or the SKYTUNE_OAUTH_* client credentials)")
    doctor.add_argument("--jwt", help="a token of the stack's user pool (auth=jwt stacks; implies --auth jwt)")
    doctor.add_argument("--log-group", help="a log group the stack subscribes (subscribedLogGroups context)")
    doctor.add_argument("--trial-function", help="run the tuning check's trial as this Lambda function "
                                                  "(default: the doctor acts as an external worker)")
    doctor.add_argument("--dashboard-url", help="the stack's DashboardUrl output")
    doctor.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for asynchronous checks")
    doctor.add_argument("--json", action="store_true", help="also print the outcomes as JSON")
