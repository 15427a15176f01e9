"""Local-process trials: the worker side of the ``local`` (and ``external``) runner on this machine.

A trial arrives on the trial queue (published by the state machine's dispatch step). It runs as a
process, SageMaker style:

* hyperparameters as arguments (``--name value``), in the environment (``SM_HPS`` as JSON and
  ``SM_HP_<NAME>``) and in ``<trial dir>/input/config/hyperparameters.json`` (all values strings,
  like SageMaker's file);
* its stdout and stderr lines are delivered to the log-ingestion handler in the CloudWatch Logs
  subscription format (gzip + base64 ``awslogs.data``), log group ``/skytune/local/trials``,
  stream ``<trial>/algo-1-<start>`` as SageMaker names them, registered as the run's log source;
* it reports through the HTTP API like any external worker: heartbeats carry the metrics parsed
  from its output with the job's metric definitions, and the answer may tell it to stop (early
  stopping, a stopped job); at the end it reports Completed, Failed (exit code) or Stopped.

Hanging trials are killed at their ``max_runtime_in_seconds`` (status Stopped, as SageMaker's
MaxRuntimeExceeded).
"""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from skytune.ingestion.cloudwatch_logs import encode_subscription
from skytune.ingestion.metric_definitions import extract_points, validate_definitions

log = logging.getLogger("skytune.local")

# Local trials log here; each trial's run registers its stream prefix as a log source (the API's
# /runs/{run_id}/log-sources), so the ingest-logs handler turns the lines into the run's metrics.
LOCAL_LOG_GROUP = "/skytune/local/trials"
PID_FILE = "process.pid"
# A trial message for another runner (``external``) is not ours: it is hidden from these workers
# for this long (within SQS's 12-hour total) and left for its own worker, which reports through the API.
NOT_OURS_VISIBILITY_S = 11 * 3600
# API call: (method, path, body) -> (status, json body)
ApiCall = Callable[[str, str, dict | None], tuple[int, Any]]
IngestLogs = Callable[[dict], Any]


def write_pid_file(trial_dir: Path, pid: int) -> None:
    """Written under a scratch name and renamed, so a reader (a restart's recovery) never sees the
    file empty or half written: it finds no file, or the whole pid."""
    scratch = trial_dir / f".{PID_FILE}.{os.getpid()}"
    scratch.write_text(str(pid))
    os.replace(scratch, trial_dir / PID_FILE)


@dataclass
class _LogLine:
    id: str
    timestamp_ms: int
    message: str


@dataclass
class TrialProcess:
    """One trial message run to the end."""

    trial: dict[str, Any]
    api: ApiCall
    work_dir: Path
    ingest: IngestLogs | None = None
    report_interval_s: float = 1.0
    python: str | None = None  # interpreter for commands starting with "python"
    policy: Any = None  # skytune.local.policy.CommandPolicy: what may run; None: anything (tests only)
    environment: dict[str, str] = field(default_factory=dict)  # added to every trial's (e.g. SKYTUNE_TOKEN)
    status: str = "InProgress"
    failure_reason: str | None = None
    _lines: list[_LogLine] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last_error: str = ""

    @property
    def path(self) -> str:
        return f"/v1/tuning-jobs/{self.trial['job_name']}/trials/{self.trial['trial_name']}"

    def run(self) -> str:
        trial = self.trial
        definitions = validate_definitions(trial.get("metric_definitions") or [], field_prefix="metric_definitions")
        trial_dir = self.work_dir / trial["job_name"] / trial["trial_name"]
        config_dir = trial_dir / "input" / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        hyperparameters = {k: _text(v) for k, v in trial["hyperparameters"].items()}
        (config_dir / "hyperparameters.json").write_text(json.dumps(hyperparameters, indent=2))
        started = time.time()
        stream = f"{trial['trial_name']}/algo-1-{int(started)}"
        try:
            executable = self._check(trial)
        except Exception as error:  # noqa: BLE001 - an InvalidInput from the policy: the trial fails with it
            reason = f"refused by the local runner: {getattr(error, 'message', error)}"
            self.status, self.failure_reason = "Failed", reason
            self._call("POST", f"{self.path}/complete", {"status": "Failed", "failure_reason": reason[:1000]})
            return "Failed"
        ingesting = self._register_log_source()
        process = self._spawn(trial, hyperparameters, trial_dir, executable)
        # Kept until the trial ends: a restart after a crash finds (and stops) a process left running.
        write_pid_file(trial_dir, process.pid)
        readers = [threading.Thread(target=self._read, args=(pipe, name), daemon=True)
                   for pipe, name in ((process.stdout, "stdout"), (process.stderr, "stderr"))]
        for reader in readers:
            reader.start()

        delivered, reported = 0, 0
        counters: dict[str, int] = {}
        stop_reason = None
        deadline = started + float(trial.get("max_runtime_in_seconds") or 86400)
        while True:
            finished = process.poll() is not None
            if finished:
                for reader in readers:
                    reader.join(timeout=5)
            with self._lock:
                new_lines = self._lines[delivered:]
            delivered += len(new_lines)
            points = self._points(definitions, new_lines, counters)
            if ingesting:
                self._deliver(stream, new_lines)
            if finished:
                break
            # When the logs reach ingestion, the run gets its metrics from there; the heartbeat then
            # only feeds the tuning loop (the objective's curve), so nothing is written twice.
            answer = self._call("POST", f"{self.path}/heartbeat", {"metrics": points, "log_to_run": not ingesting})
            reported += len(points)
            if answer.get("stop"):
                stop_reason = answer.get("reason") or "stop requested"
                self._terminate(process)
                continue
            if time.time() > deadline:
                stop_reason = f"MaxRuntimeExceeded: ran past {trial.get('max_runtime_in_seconds')} s"
                self._terminate(process)
                continue
            time.sleep(self.report_interval_s)

        if stop_reason is not None:
            status, reason = "Stopped", stop_reason
        elif process.returncode == 0:
            status, reason = "Completed", None
        else:
            # the reason is on stderr (a traceback's last line, sys.exit's message), else the last output
            with self._lock:
                tail = self._last_error or next((l.message for l in reversed(self._lines) if l.message.strip()), "")
            status, reason = "Failed", f"exit code {process.returncode}: {tail[-300:]}"
        self.status, self.failure_reason = status, reason
        (trial_dir / PID_FILE).unlink(missing_ok=True)
        self._call("POST", f"{self.path}/complete", {"status": status, "failure_reason": reason, "metrics": points,
                                                     "log_to_run": not ingesting})
        return status

    def _register_log_source(self) -> bool:
        if self.ingest is None or not self.trial.get("run_id"):
            return False
        status, _ = self.api("POST", f"/v1/runs/{self.trial['run_id']}/log-sources", {
            "log_group": LOCAL_LOG_GROUP, "stream_prefix": f"{self.trial['trial_name']}/",
            "metric_definitions": self.trial.get("metric_definitions") or []})
        return status < 300

    def _check(self, trial: dict) -> str | None:
        """The executable to run (the policy's check, again at the moment of running)."""
        if trial.get("runner", "local") != "local" or not trial.get("command"):
            raise ValueError(f"not a local trial (runner {trial.get('runner')!r}, no command)")
        if self.policy is None:
            return None
        return self.policy.check_trial(list(trial["command"]), trial.get("working_dir"), trial.get("environment") or {})

    def _spawn(self, trial: dict, hyperparameters: dict[str, str], trial_dir: Path,
               executable: str | None = None) -> subprocess.Popen:
        command = list(trial["command"])
        if executable is not None:
            command[0] = executable
        elif self.python and command and command[0] in ("python", "python3"):
            command[0] = self.python
        for name, value in hyperparameters.items():
            command += [f"--{name}", value]
        env = {**os.environ, **self.environment, **(trial.get("environment") or {}),
               "SM_HPS": json.dumps(hyperparameters), "SM_MODEL_DIR": str(trial_dir / "model"),
               "SM_OUTPUT_DATA_DIR": str(trial_dir / "output"), "SM_INPUT_CONFIG_DIR": str(trial_dir / "input" / "config"),
               "SKYTUNE_TUNING_JOB": trial["job_name"], "SKYTUNE_TRIAL_NAME": trial["trial_name"],
               "SKYTUNE_RUN_ID": trial.get("run_id") or "", "PYTHONUNBUFFERED": "1"}
        for name, value in hyperparameters.items():
            env[f"SM_HP_{name.upper().replace('-', '_')}"] = value
        return subprocess.Popen(command, cwd=trial.get("working_dir") or None, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, bufsize=1, start_new_session=True)

    def _read(self, pipe, name: str) -> None:
        for raw in iter(pipe.readline, ""):
            now_ms = int(time.time() * 1000)
            with self._lock:
                self._lines.append(_LogLine(f"{now_ms:016d}{len(self._lines):08d}", now_ms, raw.rstrip("\n")))
                if name == "stderr" and raw.strip():
                    self._last_error = raw.strip()
        pipe.close()

    @staticmethod
    def _points(definitions, lines: list[_LogLine], counters: dict[str, int]) -> list[dict]:
        """Metric points of new lines; a point without a step gets the next occurrence number of its
        metric (as the metric store numbers them), so objective points always carry a step."""
        points = []
        for point in extract_points(definitions, lines):
            step = point.step
            if step is None:
                step = counters.get(point.metric, 0)
            counters[point.metric] = step + 1
            points.append({"name": point.metric, "value": point.value, "step": step, "timestamp_ms": point.timestamp_ms})
        return points

    def _deliver(self, stream: str, lines: list[_LogLine]) -> None:
        if self.ingest is None or not lines:
            return
        try:
            self.ingest(encode_subscription(LOCAL_LOG_GROUP, stream, [(l.id, l.timestamp_ms, l.message) for l in lines]))
        except Exception:  # noqa: BLE001 - log delivery is best effort, as a subscription is
            log.exception("delivering %d log lines of %s failed", len(lines), stream)

    def _call(self, method: str, path: str, body: dict) -> dict:
        try:
            status, answer = self.api(method, path, body)
        except Exception:  # noqa: BLE001 - a lost heartbeat is retried at the next interval
            log.exception("%s %s failed", method, path)
            return {}
        if status >= 400:
            log.warning("%s %s -> %s %s", method, path, status, answer)
            return {}
        return answer or {}

    @staticmethod
    def _terminate(process: subprocess.Popen, grace_s: float = 5.0) -> None:
        if process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class LocalTrialWorkers:
    """Polls the trial queue and runs up to ``slots`` trials at once, each on its own thread."""

    def __init__(self, sqs_client, queue_url: str, api: ApiCall, work_dir: Path, *, slots: int = 8,
                 ingest: IngestLogs | None = None, poll_s: float = 0.1, report_interval_s: float = 1.0,
                 python: str | None = None, policy: Any = None, environment: dict[str, str] | None = None) -> None:
        self.policy = policy
        self.environment = dict(environment or {})
        self.sqs = sqs_client
        self.queue_url = queue_url
        self.api = api
        self.work_dir = work_dir
        self.slots = threading.Semaphore(slots)
        self.ingest = ingest
        self.poll_s = poll_s
        self.report_interval_s = report_interval_s
        self.python = python
        self.finished: list[TrialProcess] = []
        self.skipped = 0  # trial messages left for other runners' workers
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "LocalTrialWorkers":
        self._thread = threading.Thread(target=self._poll, name="skytune-trial-workers", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _poll(self) -> None:
        while not self._stopping.is_set():
            if not self.slots.acquire(timeout=self.poll_s):
                continue
            try:
                messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=1,
                                                    VisibilityTimeout=900, MessageAttributeNames=["runner"]
                                                    ).get("Messages", [])
            except Exception:  # noqa: BLE001 - keep polling through a hiccup
                log.exception("receiving trials failed")
                messages = []
            if not messages:
                self.slots.release()
                time.sleep(self.poll_s)
                continue
            message = messages[0]
            if self._runner_of(message) != "local":
                self._leave(message)
                self.slots.release()
                continue
            threading.Thread(target=self._run, args=(message,), daemon=True).start()

    @staticmethod
    def _runner_of(message: dict) -> str | None:
        attribute = (message.get("MessageAttributes") or {}).get("runner") or {}
        if attribute.get("StringValue"):
            return attribute["StringValue"]
        try:
            return json.loads(message["Body"]).get("runner")
        except (ValueError, AttributeError):
            return None

    def _leave(self, message: dict) -> None:
        """Put back a trial meant for another worker, out of our sight."""
        self.skipped += 1
        try:
            self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"],
                                               VisibilityTimeout=NOT_OURS_VISIBILITY_S)
        except Exception:  # noqa: BLE001 - it reappears later and is left again
            log.exception("leaving a non-local trial failed")

    def _run(self, message: dict) -> None:
        try:
            trial = json.loads(message["Body"])
            process = TrialProcess(trial, self.api, self.work_dir, ingest=self.ingest,
                                   report_interval_s=self.report_interval_s, python=self.python,
                                   policy=self.policy, environment=self.environment)
            process.run()
            self.finished.append(process)
        except Exception:  # noqa: BLE001 - the trial's heartbeat timeout ends it in the state machine
            log.exception("local trial failed to run")
        finally:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            self.slots.release()


# ---------------------------------------------------------------------------------------------
# Wiring for `skytune local`: moto Step Functions + trial workers around a LocalStack
# ---------------------------------------------------------------------------------------------
class LocalTuning:
    """The tuning side of local mode: the synthesised state machine on moto, and local workers
    that run `local`/`external` trials as processes, reporting through the in-process HTTP API."""

    def __init__(self, stack, work_dir: Path, *, slots: int = 8, report_interval_s: float = 1.0) -> None:
        import sys

        from skytune.local.stepfunctions import LocalStepFunctions

        self.stack = stack
        self.work_dir = work_dir
        # trials that use the SDK reach this stack with its token
        trial_environment = {"SKYTUNE_TOKEN": stack.token} if getattr(stack, "token", None) else {}
        self.stepfunctions = LocalStepFunctions(stack.template, stack.functions).start()
        self.emulator = stack.http_api()
        queue_url = self._trial_queue_url()
        logs_function = stack.logs_function(LOCAL_LOG_GROUP)
        self.workers = None
        if queue_url:
            self.workers = LocalTrialWorkers(
                self.stepfunctions.client("sqs"), queue_url, self.api, work_dir, slots=slots,
                ingest=lambda event: stack.functions.invoke(logs_function, event),
                report_interval_s=report_interval_s, python=sys.executable,
                policy=getattr(stack, "command_policy", None), environment=trial_environment).start()

    def _trial_queue_url(self) -> str | None:
        """The queue the dispatch step publishes to (its environment names it)."""
        from skytune.tuning.names import ENV_TRIAL_QUEUE

        for spec in self.stack.functions.specs.values():
            queue = spec.environment.get(ENV_TRIAL_QUEUE)
            if queue:
                return next((url for url in self.stepfunctions.queue_urls.values()
                             if url.rsplit("/", 1)[-1] == queue.rsplit("/", 1)[-1]), None)
        return None

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, Any]:
        payload = json.dumps(body).encode() if body is not None else b""
        status, _, answer = self.emulator.handle(method, path, {"content-type": "application/json"}, payload)
        return status, json.loads(answer) if answer else None

    def stop(self) -> None:
        if self.workers:
            self.workers.stop()
        self.stepfunctions.stop()


def start_local_tuning(stack, work_dir: Path | None = None, **options) -> LocalTuning | None:
    """Start local tuning for a started LocalStack whose template has a state machine, else None."""
    import tempfile

    if not stack.template.state_machines():
        return None
    if work_dir is None:
        work_dir = (stack.data_dir / "trials") if stack.data_dir else Path(tempfile.mkdtemp(prefix="skytune-trials-"))
    return LocalTuning(stack, work_dir, **options)
