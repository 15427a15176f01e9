"""`make demo`: start the local stack, use the API over HTTP, print what happened.

The tuning-job issue turns this into a full tuning job; for now it shows the foundation working:
the synthesised template's tables in DynamoDB Local, the API function behind a local HTTP API.
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
    finally:
        server.shutdown()
        stack.stop()
    print(f"4. done in {time.monotonic() - started:.1f} s; data kept in {Path('.skytune/demo')} (run `skytune local` to explore)")


if __name__ == "__main__":
    main()
