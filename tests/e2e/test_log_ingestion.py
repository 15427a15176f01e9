"""A process prints SageMaker-style lines; through `skytune local` its run's metrics appear."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.local_process import LocalProcess

TRAINING_SCRIPT = """
import sys
for epoch, (loss, acc) in enumerate([(0.52, 91.3), (0.41, 92.8), (0.33, 94.1)]):
    print(f"epoch {epoch}: Train Loss: {loss}; Test Accuracy: {acc}%;", flush=True)
print("noise without metrics", file=sys.stderr)
"""


def test_printed_metrics_reach_the_run(cloud_assembly, tmp_path):
    local = LocalProcess(cloud_assembly, tmp_path / "data")
    local.wait_ready()
    try:
        local.session.post(f"{local.url}/v1/experiments", json={"name": "logs-e2e"})
        run = local.session.post(f"{local.url}/v1/runs", json={"experiment": "logs-e2e", "name": "trainer"}).json()
        definitions = tmp_path / "definitions.json"
        definitions.write_text(json.dumps([
            {"Name": "train:loss", "Regex": "Train Loss: ([0-9\\.]+);"},
            {"Name": "test:accuracy", "Regex": "Test Accuracy: ([0-9\\.]+)%;"},
        ]))
        shipped = subprocess.run(
            [sys.executable, "-m", "skytune.cli", "ship-logs", "--url", local.url, "--run", run["run_id"],
             "--metric-definitions", str(definitions), "--log-stream", "trainer/1", "--", sys.executable, "-c", TRAINING_SCRIPT],
            capture_output=True, text=True, timeout=120,
            env={**os.environ, "SKYTUNE_TOKEN": local.token},  # the CLI reads the token from the environment
        )
        assert shipped.returncode == 0, shipped.stderr
        assert "Train Loss: 0.52" in shipped.stdout  # the output is passed through

        metrics = local.session.get(f"{local.url}/v1/runs/{run['run_id']}").json()["metrics"]
        assert metrics["train:loss"]["count"] == 3
        assert (metrics["train:loss"]["first"], metrics["train:loss"]["last"], metrics["train:loss"]["min"]) == (0.52, 0.33, 0.33)
        assert metrics["test:accuracy"]["max"] == 94.1 and metrics["test:accuracy"]["last_step"] == 2
        series = local.session.get(f"{local.url}/v1/runs/{run['run_id']}/metrics/test:accuracy").json()["points"]
        assert [(p["step"], p["value"]) for p in series] == [(0, 91.3), (1, 92.8), (2, 94.1)]
    finally:
        local.stop()
