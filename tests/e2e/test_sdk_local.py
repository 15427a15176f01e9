"""The SDK against `skytune local` as a user runs it: a subprocess, real HTTP."""
from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

import skytune

from tests.support.local_process import LocalProcess  # noqa: E402


@pytest.fixture(scope="module")
def local_url(cloud_assembly, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("sdk-data")
    process = LocalProcess(cloud_assembly, data_dir)
    process.wait_ready()
    # the SDK finds the token as a user's shell would: in the data directory named by SKYTUNE_DATA_DIR
    previous = os.environ.get("SKYTUNE_DATA_DIR")
    os.environ["SKYTUNE_DATA_DIR"] = str(data_dir)
    yield process.url
    if previous is None:
        os.environ.pop("SKYTUNE_DATA_DIR", None)
    else:
        os.environ["SKYTUNE_DATA_DIR"] = previous
    process.stop(signal.SIGTERM)


def test_run_logs_in_the_background_and_search_finds_it(local_url):
    experiment = f"sdk-{uuid.uuid4().hex[:8]}"
    for lr in (0.1, 0.01):
        with skytune.Run(experiment=experiment, name=f"lr-{lr}", url=local_url, flush_interval=0.05) as run:
            run.log_params({"lr": lr, "layers": 2, "augment": True})
            run.set_tag("owner", "e2e")
            for step in range(1500):
                run.log_metric("val_loss", lr + 1.0 / (step + 1), step=step)
    client = skytune.Client(local_url)
    stored = client.get_run(run.run_id)
    assert stored["status"] == "Completed" and stored["end_time"] is not None
    assert stored["params"] == {"lr": 0.01, "layers": 2, "augment": True}
    assert stored["metrics"]["val_loss"]["count"] == 1500
    assert stored["metrics"]["val_loss"]["last_step"] == 1499

    def search_settled(**query) -> list[dict]:
        """Search reads the experiment index, folded from the tables' streams within a bounded
        staleness (docs/tracking.md): wait for the answer to stop changing, at most 10 s."""
        deadline, previous = time.monotonic() + 10, None
        while True:
            rows = skytune.search(url=local_url, experiments=[experiment], **query)
            if rows == previous or time.monotonic() > deadline:
                return rows
            previous = rows
            time.sleep(1.0)

    rows = search_settled(filter="params.lr < 0.05 AND metrics.val_loss.at(9) < 0.2", order_by="metrics.val_loss.min")
    assert [row["name"] for row in rows] == ["lr-0.01"]
    every = skytune.search(experiments=[experiment], order_by="params.lr DESC", columns=["name"], url=local_url)
    assert [row["name"] for row in every] == ["lr-0.1", "lr-0.01"]
    series = client.series(run.run_id, "val_loss", max_points=50)
    assert len(series) <= 50


def test_a_failing_block_marks_the_run_failed(local_url):
    experiment = f"sdk-{uuid.uuid4().hex[:8]}"
    with pytest.raises(RuntimeError):
        with skytune.Run(experiment=experiment, url=local_url) as run:
            run.log_metric("loss", 1.0)
            raise RuntimeError("training diverged")
    stored = skytune.Client(local_url).get_run(run.run_id)
    assert stored["status"] == "Failed" and stored["metrics"]["loss"]["count"] == 1


# -- a process that ends without closing its run loses nothing ---------------------------------
_SCRIPT = """
import os, signal, sys, time
# As in a terminal's foreground job: a test runner started in the background without job control
# ignores SIGINT, and children inherit that (Python then keeps it ignored, and so does the SDK)
signal.signal(signal.SIGINT, signal.default_int_handler)
import skytune
if sys.argv[4] == "chained":  # the script's own handler, installed before the run starts
    signal.signal(signal.SIGTERM, lambda s, f: (print("user handler ran", flush=True), sys.exit(0)))
run = skytune.Run(experiment=sys.argv[1], name=sys.argv[2], url=sys.argv[3], flush_interval=600).start()
for step in range(50):
    run.log_metric("loss", 1.0 / (step + 1), step=step)   # buffered: flush_interval is 10 minutes
print("logged", flush=True)
how = sys.argv[4]
if how == "sys.exit":
    sys.exit(3)
if how == "raise":
    raise RuntimeError("training diverged")
if how in ("sigterm", "chained", "sigint"):
    time.sleep(60)
"""


def _run_script(local_url, tmp_path, how, sig=None):
    import subprocess
    import sys
    import time as _time

    experiment, name = f"exit-{uuid.uuid4().hex[:8]}", f"run-{how.replace('.', '-')}"
    script = tmp_path / "train.py"
    script.write_text(_SCRIPT)
    process = subprocess.Popen([sys.executable, str(script), experiment, name, local_url, how],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if sig is not None:
        assert process.stdout.readline().strip() == "logged"
        _time.sleep(0.3)  # the handler is installed before "logged"; give the sleep a moment
        process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=60)
    rows = skytune.search(experiments=[experiment], url=local_url)
    assert len(rows) == 1, (stdout, stderr)
    stored = skytune.Client(local_url).get_run(rows[0]["run_id"])
    return process.returncode, stdout, stderr, stored


@pytest.mark.parametrize("how, status, code", [
    ("end", "Completed", 0),           # the script just ends
    ("sys.exit", "Completed", 3),
    ("raise", "Failed", 1),            # an uncaught exception
    ("sigterm", "Stopped", -signal.SIGTERM),   # what SageMaker sends on StopTrainingJob
    ("sigint", "Stopped", -signal.SIGINT),   # Ctrl-C: KeyboardInterrupt as usual (Python then exits by SIGINT)
    ("chained", "Stopped", 0),         # a handler the script installed still runs
])
def test_a_run_never_closed_is_flushed_and_ended_at_exit(local_url, tmp_path, how, status, code):
    sig = {"sigterm": signal.SIGTERM, "chained": signal.SIGTERM, "sigint": signal.SIGINT}.get(how)
    returncode, stdout, stderr, stored = _run_script(local_url, tmp_path, how, sig)
    assert returncode == code, stderr
    assert stored["metrics"]["loss"]["count"] == 50, stderr
    assert stored["metrics"]["loss"]["last_step"] == 49
    assert stored["status"] == status and stored["end_time"] is not None
    if how == "chained":
        assert "user handler ran" in stdout


def test_a_server_that_is_down_is_named_within_seconds():
    import socket
    import time as _time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        began = _time.monotonic()
        with pytest.raises(skytune.ServerUnreachable) as raised:
            skytune.Run(experiment="e", url=f"http://127.0.0.1:{port}").start()
    assert _time.monotonic() - began < 5
    assert f"http://127.0.0.1:{port}/v1/experiments" in str(raised.value)
    assert "skytune local" in str(raised.value)


def test_resume_and_search_of_an_unknown_experiment(local_url):
    experiment = f"resume-{uuid.uuid4().hex[:8]}"
    with skytune.Run(experiment=experiment, name="long-job", url=local_url, display_name="Training") as run:
        run.log_metric("loss", 1.0, step=0)
    with skytune.Run(experiment=experiment, name="long-job", resume=True, url=local_url) as resumed:
        assert resumed.run_id == run.run_id
        resumed.log_metric("loss", 0.5, step=1)
    with skytune.Run(run_id=run.run_id, url=local_url) as again:
        again.log_metric("loss", 0.25, step=2)
    with skytune.Run(experiment=experiment, display_name="Training", url=local_url):
        pass  # display names repeat; names stay unique
    stored = skytune.Client(local_url).get_run(run.run_id)
    assert stored["metrics"]["loss"]["count"] == 3 and stored["status"] == "Completed"
    assert stored["end_time"] is not None
    both = eventually(lambda: skytune.search(filter="tags.display_name = 'Training'", experiments=[experiment],
                                             url=local_url), lambda rows: len(rows) == 2)
    assert len(both) == 2
    unknown = f"never-{uuid.uuid4().hex[:6]}"
    with pytest.raises(skytune.ApiError) as raised:
        skytune.search(experiments=[unknown], url=local_url)
    assert raised.value.status == 404 and unknown in raised.value.message and raised.value.field == "experiments"


def test_artifacts_are_uploaded_recorded_and_downloaded(local_url, tmp_path):
    folder = tmp_path / "model"
    (folder / "weights").mkdir(parents=True)
    (folder / "weights" / "layer0.bin").write_bytes(bytes(range(256)) * 40)
    (folder / "config.yaml").write_text("depth: 3\n")
    report = tmp_path / "report.csv"
    report.write_text("epoch,loss\n0,1.0\n")
    experiment = f"artifacts-{uuid.uuid4().hex[:8]}"
    with skytune.Run(experiment=experiment, url=local_url) as run:
        recorded = run.log_artifact(report)
        run.log_artifacts(folder, artifact_path="model")
        run.log_text("hello", "notes/readme.txt")
        run.log_dict({"lr": 0.1}, "params.json")
    assert recorded["size"] == report.stat().st_size and recorded["digest"].startswith("sha256:")
    stored = skytune.Client(local_url).get_run(run.run_id)
    assert sorted(o["name"] for o in stored["outputs"]) == [
        "model/config.yaml", "model/weights/layer0.bin", "notes/readme.txt", "params.json", "report.csv"]
    assert all(o["uri"].startswith(f"mlflow-artifacts:/{experiment}/{run.run_id}/artifacts/") for o in stored["outputs"])

    again = skytune.Run(run_id=run.run_id, url=local_url).start()
    target = again.download_artifact("model/weights/layer0.bin", tmp_path / "down")
    assert target.read_bytes() == bytes(range(256)) * 40
    assert again.download_artifact("params.json", tmp_path / "down").read_text().replace(" ", "").replace("\n", "") == '{"lr":0.1}'
    again.finish()
    with pytest.raises(ValueError):
        again.log_text("x", "../escape.txt")


def eventually(read, done, timeout: float = 20.0):
    """Search answers from the experiment index, which the tables' streams update moments later."""
    import time as _time

    deadline = _time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or _time.monotonic() > deadline:
            return value
        _time.sleep(0.25)
