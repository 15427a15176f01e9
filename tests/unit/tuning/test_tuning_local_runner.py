"""The local-process runner: log encoding, metric parsing, and a real (tiny) process with a fake API."""
from __future__ import annotations

import base64
import gzip
import json
import sys
import textwrap

from skytune.ingestion.cloudwatch_logs import decode_subscription
from skytune.ingestion.metric_definitions import validate_definitions
from skytune.ingestion.cloudwatch_logs import encode_subscription
from skytune.local.runners import TrialProcess, _LogLine

DEFINITIONS = [{"Name": "acc", "Regex": r"epoch=(?P<step>\d+) acc=(?P<value>[0-9.]+)"}, {"Name": "loss", "Regex": "loss=([0-9.]+)"}]


def test_log_events_are_encoded_as_a_cloudwatch_logs_subscription():
    event = encode_subscription("/g", "trial-001/algo-1-1", [("1", 1000, "epoch=1 acc=0.5"), ("2", 1001, "done")])
    document = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    assert document["messageType"] == "DATA_MESSAGE" and document["logStream"] == "trial-001/algo-1-1"
    batch = decode_subscription(event)
    assert [e.message for e in batch.events] == ["epoch=1 acc=0.5", "done"]
    assert batch.events[0].timestamp_ms == 1000


def test_points_without_a_step_are_numbered_by_occurrence():
    definitions = validate_definitions(DEFINITIONS)
    counters: dict[str, int] = {}
    lines = [_LogLine("1", 1, "epoch=3 acc=0.5 loss=1.5"), _LogLine("2", 2, "loss=1.2")]
    points = TrialProcess._points(definitions, lines, counters)
    assert [(p["name"], p["step"], p["value"]) for p in points] == [("acc", 3, 0.5), ("loss", 0, 1.5), ("loss", 1, 1.2)]


class FakeApi:
    def __init__(self, stop_after: int | None = None) -> None:
        self.calls = []
        self.stop_after = stop_after

    def __call__(self, method, path, body):
        self.calls.append((path.rsplit("/", 1)[-1], body))
        beats = sum(1 for name, _ in self.calls if name == "heartbeat")
        return 200, {"stop": self.stop_after is not None and beats >= self.stop_after, "reason": "median rule"}


def _trial(tmp_path, script: str, **extra) -> dict:
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(script))
    return {"job_name": "j", "trial_name": "j-001-abc", "run_id": None, "hyperparameters": {"lr": 0.1, "flag": True},
            "command": [sys.executable, str(path)], "metric_definitions": [{"Name": "acc", "Regex": "acc=([0-9.]+)"}],
            "max_runtime_in_seconds": 30, **extra}


def test_a_process_gets_its_hyperparameters_three_ways_and_reports_metrics(tmp_path):
    api = FakeApi()
    script = """
        import json, os, sys
        config = json.load(open(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "hyperparameters.json")))
        print("args", sys.argv[1:])
        assert sys.argv[1:] == ["--lr", "0.1", "--flag", "true"], sys.argv
        assert config == {"lr": "0.1", "flag": "true"} and os.environ["SM_HP_LR"] == "0.1"
        assert json.loads(os.environ["SM_HPS"]) == config
        for i in range(3):
            print(f"acc={0.5 + i / 10}")
    """
    process = TrialProcess(_trial(tmp_path, script), api, tmp_path / "work", report_interval_s=0.05)
    assert process.run() == "Completed", process.failure_reason
    reported = [p for _, body in api.calls for p in body.get("metrics", [])]
    assert [(p["step"], p["value"]) for p in reported] == [(0, 0.5), (1, 0.6), (2, 0.7)]
    assert api.calls[-1][0] == "complete" and api.calls[-1][1]["status"] == "Completed"


def test_a_crashing_process_fails_with_its_exit_code_and_last_line(tmp_path):
    api = FakeApi()
    process = TrialProcess(_trial(tmp_path, "import sys\nprint('acc=0.1')\nsys.exit('out of memory')\n"), api,
                           tmp_path / "work", report_interval_s=0.05)
    assert process.run() == "Failed"
    assert "exit code 1" in process.failure_reason and "out of memory" in process.failure_reason


def test_a_hanging_process_is_stopped_at_its_max_runtime(tmp_path):
    api = FakeApi()
    process = TrialProcess(_trial(tmp_path, "import time\nprint('acc=0.2', flush=True)\ntime.sleep(60)\n",
                                  max_runtime_in_seconds=1), api, tmp_path / "work", report_interval_s=0.1)
    assert process.run() == "Stopped"
    assert process.failure_reason.startswith("MaxRuntimeExceeded")


def test_a_process_told_to_stop_by_its_heartbeat_is_stopped(tmp_path):
    api = FakeApi(stop_after=1)
    process = TrialProcess(_trial(tmp_path, "import time\nwhile True:\n    print('acc=0.2', flush=True)\n    time.sleep(0.05)\n"),
                           api, tmp_path / "work", report_interval_s=0.1)
    assert process.run() == "Stopped" and process.failure_reason == "median rule"
    assert api.calls[-1][1]["status"] == "Stopped"
