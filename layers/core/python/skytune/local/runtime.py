"""`skytune local`: the synthesised stack running on this machine."""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from skytune.ingestion.cloudwatch_logs import encode_subscription
from skytune.local.datadir import DataDirLock, stop_stale_dynamodb_local
from skytune.local.dynamodb_local import DynamoDBLocal, check_data_dir, ensure_port_free, free_port
from skytune.local.errors import LocalRuntimeError
from skytune.local.functions import LocalFunctions
from skytune.local.http_api import HttpApiEmulator, is_loopback, serve
from skytune.local.policy import CommandPolicy
from skytune.local.template import LOCAL_REGION, StackTemplate, TableSpec

log = logging.getLogger("skytune.local")
# Metrics are disabled locally; powertools still warns once per invocation that there were none.
warnings.filterwarnings("ignore", message="No application metrics to publish")
# moto's interpreter warns that it forwards SageMaker .sync tasks; locally trials never use that runner.
logging.getLogger("moto").setLevel(logging.ERROR)


def local_aws_environment(dynamodb_endpoint: str, log_level: str = "WARNING") -> dict[str, str]:
    """Process environment for in-process handlers: fake credentials, DynamoDB Local as endpoint."""
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_REGION": LOCAL_REGION,
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        # botocore (and so boto3 and PynamoDB) honours this per-service endpoint override.
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": log_level,
        "POWERTOOLS_DEV": "false",
    }


def create_tables(client, tables: list[TableSpec]) -> list[str]:
    """Create every table of the template that does not exist yet; returns the names created."""
    existing = set(client.list_tables()["TableNames"])
    created = []
    for table in tables:
        if table.name in existing:
            continue
        definition = {k: v for k, v in table.definition.items() if not k.startswith("_")}
        client.create_table(**definition)
        client.get_waiter("table_exists").wait(TableName=table.name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
        ttl = table.definition.get("_ttl")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(TableName=table.name, TimeToLiveSpecification=ttl)
        created.append(table.name)
    return created


@dataclass
class LocalStack:
    """The whole local stack; also used by the test suite and the benchmarks."""

    assembly_dir: Path
    stack_name: str
    data_dir: Path | None
    dynamodb_port: int = 0
    log_level: str = "WARNING"
    template: StackTemplate = field(init=False)
    dynamodb: DynamoDBLocal = field(init=False)
    functions: LocalFunctions = field(init=False)
    # the tuning state machine on moto + local trial workers (skytune.local.runners); off: API and tables only
    tuning_enabled: bool = True
    tuning: Any = field(init=False, default=None)
    # what the local runner may run (skytune.local.policy); None: anything (tests and benchmarks)
    command_policy: CommandPolicy | None = None
    token: str | None = None  # the API token, handed to local trials as SKYTUNE_TOKEN
    recovered: list[str] = field(init=False, default_factory=list)  # tuning jobs resumed after a crash
    _lock: DataDirLock | None = field(init=False, default=None, repr=False)
    # table streams -> their consumer functions (skytune.local.streams); off: indexes go stale (reindex)
    streams_enabled: bool = True
    streams: Any = field(init=False, default=None)

    def start(self) -> "LocalStack":
        self.template = StackTemplate.load(self.assembly_dir, self.stack_name)
        if self.data_dir is not None:
            self.data_dir = Path(self.data_dir).absolute()
            check_data_dir(self.data_dir)
            self._lock = DataDirLock(self.data_dir).acquire()
            try:
                for pid in stop_stale_dynamodb_local(self.data_dir):
                    print(f"skytune local: stopped a stale DynamoDB Local (pid {pid}) left on {self.data_dir} "
                          "by a skytune local that did not exit", flush=True)
            except LocalRuntimeError:
                self._release()
                raise
        try:
            self.dynamodb = DynamoDBLocal(self.data_dir, self.dynamodb_port).start()
        except LocalRuntimeError:
            self._release()
            raise
        os.environ.update(local_aws_environment(self.dynamodb.endpoint, self.log_level))
        # MLflow's proxied artifacts (lambdas/mlflow) are files under the data directory here, not S3
        artifacts = (self.data_dir if self.data_dir is not None else Path(tempfile.mkdtemp(prefix="skytune-"))) / "artifacts"
        os.environ["SKYTUNE_LOCAL_ARTIFACTS_DIR"] = str(artifacts)
        try:
            create_tables(self.dynamodb_client(), self.template.tables())
        except ClientError as error:
            self.dynamodb.stop()
            self._release()
            raise LocalRuntimeError(f"DynamoDB Local refused the tables ({error}); is the data dir corrupt?") from None
        routed = {route.function for route in self.template.routes()}
        self.functions = LocalFunctions(self.template.functions(), one_at_a_time=routed)
        if self.streams_enabled:
            from skytune.local.streams import start_streams

            self.streams = start_streams(self)
        if self.tuning_enabled:
            from skytune.local.runners import start_local_tuning

            self.tuning = start_local_tuning(self)
            if self.tuning is not None and self.data_dir is not None:
                from skytune.local.recovery import recover_tuning_jobs

                try:
                    self.recovered = recover_tuning_jobs(self, self.tuning)
                except Exception:  # noqa: BLE001 - serve anyway; the jobs stay as they were, and say so
                    log.exception("recovering the tuning jobs that were running failed")
                    print("skytune local: WARNING: could not recover the tuning jobs that were running "
                          "(see the log above)", file=sys.stderr, flush=True)
        return self

    def restrict_commands(self, policy: CommandPolicy | None) -> None:
        """Set what the local runner may run (checked on tuning-job creation and by the workers)."""
        self.command_policy = policy
        if self.tuning is not None and self.tuning.workers is not None:
            self.tuning.workers.policy = policy

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def dynamodb_client(self):
        return boto3.client("dynamodb", endpoint_url=self.dynamodb.endpoint, region_name=LOCAL_REGION,
                            aws_access_key_id="local", aws_secret_access_key="local")

    def http_api(self, access_log: bool = False) -> HttpApiEmulator:
        return HttpApiEmulator(self.template.routes(), self.functions, access_log=access_log,
                               local_services=self.local_services, checks=[self._check_commands])

    def _check_commands(self, method: str, path: str, body: bytes) -> None:
        if self.command_policy is not None:
            self.command_policy.check_request(method, path, body)

    def deliver_logs(self, log_group: str, log_stream: str, events: list[tuple[int, str]], first_sequence: int = 0) -> object:
        """What a CloudWatch Logs subscription does with these (timestamp ms, message) lines: invoke
        the log group's subscribed function in the real subscription format. Event ids are
        CloudWatch-like 56-digit numbers, ordered like the lines."""
        numbered = [(f"{timestamp:020d}{first_sequence + i:036d}", timestamp, message)
                    for i, (timestamp, message) in enumerate(events)]
        return self.functions.invoke(self.logs_function(log_group), encode_subscription(log_group, log_stream, numbered))

    def logs_function(self, log_group: str) -> str:
        """The function the template subscribes to `log_group`; for a group it does not subscribe
        (e.g. a local process's), the function it subscribes the others to (the ingest-logs one)."""
        subscriptions = self.template.log_subscriptions()
        if log_group in subscriptions:
            return subscriptions[log_group]
        if not subscriptions:
            raise LocalRuntimeError("the template subscribes no log group to a function")
        return sorted(set(subscriptions.values()))[0]

    def local_services(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """/_local/cloudwatch-logs: PutLogEvents for local processes, delivered as a subscription would.
        Body: {"log_group", "log_stream", "events": [{"timestamp", "message"}], "first_sequence"}."""
        headers = {"content-type": "application/json"}
        if path != "cloudwatch-logs" or method != "POST":
            return 404, headers, b'{"message":"Not Found"}'
        try:
            request = json.loads(body)
            events = [(int(e["timestamp"]), str(e["message"])) for e in request["events"]]
            result = self.deliver_logs(request["log_group"], request["log_stream"], events, int(request.get("first_sequence", 0)))
        except (ValueError, KeyError, TypeError) as error:
            return 400, headers, json.dumps({"message": f"bad request: {error}"}).encode()
        return 200, headers, json.dumps(result, default=str).encode()

    def stop(self) -> None:
        if self.streams is not None:
            self.streams.stop()
        if self.tuning is not None:
            self.tuning.stop()
            self.tuning = None
        self.dynamodb.stop()
        self._release()


def run(stack: LocalStack, host: str, port: int, ready: threading.Event | None = None, *,
        token: str | None = None, extra_hosts: tuple[str, ...] = ()) -> None:
    """Serve the HTTP API until SIGINT/SIGTERM; DynamoDB Local stops with it. ``token`` None: no
    token is needed (--no-token)."""
    if port:
        ensure_port_free(port, "HTTP API")
    else:
        port = free_port()
    stack.token = token
    stack.start()
    try:
        server = serve(stack.http_api(access_log=True), host, port, token=token, extra_hosts=extra_hosts)
    except OSError as error:
        stack.stop()
        raise LocalRuntimeError(f"cannot listen on {host}:{port}: {error.strerror}") from None

    stopping = threading.Event()

    def _stop(signum, _frame) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    print(f"skytune local: API on {url} (DynamoDB Local on {stack.dynamodb.endpoint}, "
          f"data in {stack.data_dir or 'memory'})", flush=True)
    print(f"skytune local: dashboard on {url}", flush=True)  # dashboard
    for name in stack.recovered:
        print(f"skytune local: tuning job {name!r} was running when skytune local stopped: its running trials "
              "were ended and the job resumed", flush=True)
    if not is_loopback(host):
        print(f"skytune local: WARNING: listening on {host}, reachable from other machines; only the token "
              "protects it", file=sys.stderr, flush=True)
    if ready:
        ready.set()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        stack.stop()
        print("skytune local: stopped", flush=True)
