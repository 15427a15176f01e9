"""`skytune ship-logs`: run a command and deliver its output to a local stack as CloudWatch Logs would
(in batches, through the subscription of the log group), optionally registering the run's metric
definitions first. The local counterpart of a training job logging to CloudWatch."""
from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.request

BATCH_LINES = 500
BATCH_SECONDS = 0.5


def _post(url: str, body: dict) -> dict:
    from skytune.client.http import TOKEN_HEADER, local_token

    headers = {"content-type": "application/json"}
    token = local_token(url)  # `skytune local`'s token: $SKYTUNE_TOKEN or the data directory's file
    if token:
        headers[TOKEN_HEADER] = token
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"{}")


def ship(url: str, log_group: str, log_stream: str, command: list[str], run_id: str | None = None,
         metric_definitions: list[dict] | None = None) -> int:
    base = url.rstrip("/")
    if run_id and metric_definitions:
        _post(f"{base}/v1/runs/{run_id}/log-sources",
              {"log_group": log_group, "stream_prefix": log_stream, "metric_definitions": metric_definitions})
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    pending: list[dict] = []
    sent = 0
    lock = threading.Lock()

    def flush() -> None:
        nonlocal sent
        with lock:
            batch, pending[:] = pending[:], []
        if batch:
            _post(f"{base}/_local/cloudwatch-logs",
                  {"log_group": log_group, "log_stream": log_stream, "events": batch, "first_sequence": sent})
            sent += len(batch)

    last_flush = time.monotonic()
    for line in process.stdout:
        print(line, end="", flush=True)
        with lock:
            pending.append({"timestamp": int(time.time() * 1000), "message": line.rstrip("\n")})
        if len(pending) >= BATCH_LINES or time.monotonic() - last_flush >= BATCH_SECONDS:
            flush()
            last_flush = time.monotonic()
    flush()
    return process.wait()
