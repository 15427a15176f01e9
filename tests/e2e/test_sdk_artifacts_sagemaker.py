"""The SDK's artifacts against `skytune local` as a user runs it (a subprocess, real HTTP):
presigned single and multipart uploads, a crash mid-upload resumed, downloads checked, figures."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

import skytune
from skytune.client import artifacts

from tests.support.local_process import LocalProcess
from tests.support.polling import eventually

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def local(cloud_assembly, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("sdk-artifacts")
    process = LocalProcess(cloud_assembly, data_dir)
    process.wait_ready()
    yield process.url, data_dir
    process.stop(signal.SIGTERM)


@pytest.fixture
def env(local, tmp_path, monkeypatch):
    """Small parts so a multipart upload stays quick; a private resume-state directory."""
    url, data_dir = local
    monkeypatch.setenv("SKYTUNE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SKYTUNE_MULTIPART_THRESHOLD", str(5 * MiB))
    monkeypatch.setenv("SKYTUNE_PART_SIZE", str(5 * MiB))
    monkeypatch.setenv("SKYTUNE_UPLOAD_STATE_DIR", str(tmp_path / "state"))
    return url


def test_a_large_file_goes_up_in_parallel_parts_and_comes_back_checked(env, tmp_path, monkeypatch):
    source = tmp_path / "weights.bin"
    source.write_bytes(os.urandom(3 * 5 * MiB + 777))
    sent = []
    original = artifacts.Uploader._send

    def counting(self, presigned, data):
        sent.append(("part=" in presigned["url"], len(data)))
        return original(self, presigned, data)

    monkeypatch.setattr(artifacts.Uploader, "_send", counting)
    with skytune.Run(experiment=f"big-{uuid.uuid4().hex[:8]}", url=env) as run:
        record = run.log_artifact(source, artifact_path="model")
    assert sorted(sent) == [(True, 777), (True, 5 * MiB), (True, 5 * MiB), (True, 5 * MiB)]
    digest = "sha256:" + hashlib.sha256(source.read_bytes()).hexdigest()
    assert record["name"] == "model/weights.bin" and record["size"] == source.stat().st_size and record["digest"] == digest
    assert not list((tmp_path / "state").glob("*.json"))  # the resume state goes with the completed upload
    target = run.download_artifact("model/weights.bin", tmp_path / "down")
    assert target == tmp_path / "down" / "model" / "weights.bin" and target.read_bytes() == source.read_bytes()


def test_an_upload_killed_midway_resumes_sending_only_the_missing_parts(env, tmp_path, monkeypatch):
    source = tmp_path / "checkpoint.bin"
    source.write_bytes(os.urandom(4 * 5 * MiB))
    run = skytune.Run(experiment=f"resume-{uuid.uuid4().hex[:8]}", url=env).start()
    script = textwrap.dedent(f"""
        import os, skytune
        from skytune.client import artifacts
        original, sent = artifacts.Uploader._send, []
        def send(self, presigned, data):
            answer = original(self, presigned, data)
            sent.append(1)
            if len(sent) == 2:
                os._exit(9)  # killed after two parts were stored
            return answer
        artifacts.Uploader._send = send
        run = skytune.Run(run_id={run.run_id!r}, url={env!r}).start()
        run.log_artifact({str(source)!r})
    """)
    child = subprocess.run([sys.executable, "-c", script], env={**os.environ, "SKYTUNE_UPLOAD_PARALLELISM": "1"},
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 9, child.stderr
    assert len(list((tmp_path / "state").glob("*.json"))) == 1
    sent = []
    original = artifacts.Uploader._send
    monkeypatch.setattr(artifacts.Uploader, "_send", lambda self, p, d: sent.append(p["url"]) or original(self, p, d))
    record = run.log_artifact(source)
    run.finish()
    assert len(sent) == 2 and all("part=3" in u or "part=4" in u for u in sent)  # parts 1 and 2 were not resent
    assert record["size"] == 4 * 5 * MiB
    assert run.download_artifact("checkpoint.bin", tmp_path / "down").read_bytes() == source.read_bytes()


def test_a_failed_part_is_retried_and_a_tampered_download_is_refused(env, tmp_path, monkeypatch, local):
    source = tmp_path / "model.bin"
    source.write_bytes(os.urandom(2 * 5 * MiB))
    original = artifacts.Uploader._send
    failures = []

    def flaky(self, presigned, data):
        if not failures:
            failures.append(1)
            return 503, {}, b"slow down"
        return original(self, presigned, data)

    monkeypatch.setattr(artifacts.Uploader, "_send", flaky)
    monkeypatch.setattr(artifacts, "_sleep", lambda _s: None)
    with skytune.Run(experiment=f"retry-{uuid.uuid4().hex[:8]}", url=env) as run:
        run.log_artifact(source)
        run.log_text("hello", "notes.txt")
    assert failures == [1]
    stored = Path(local[1]) / "artifacts" / run.experiment / run.run_id / "artifacts" / "notes.txt"
    stored.write_text("HELLO")  # changed behind the run's back
    with pytest.raises(ValueError, match="digest|bytes"):
        run.download_artifact("notes.txt", tmp_path / "down")
    assert not (tmp_path / "down" / "notes.txt").exists()


def test_log_figure_uploads_a_matplotlib_figure(env, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")  # in the dev extra
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots()
    axes.plot([0, 1, 2], [1.0, 0.5, 0.2])
    with skytune.Run(experiment=f"fig-{uuid.uuid4().hex[:8]}", url=env) as run:
        png = run.log_figure(figure, "plots/loss.png")
        svg = run.log_figure(figure, "plots/loss.svg")
    pyplot.close(figure)
    assert png["media_type"] == "image/png" and svg["media_type"] == "image/svg+xml"
    assert run.download_artifact("plots/loss.png", tmp_path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in run.download_artifact("plots/loss.svg", tmp_path).read_bytes()[:400]
    with pytest.raises(TypeError):
        run.log_figure("not a figure", "x.png")


# -- skytune.sagemaker: SageMaker Experiments' Run / load_run over the SDK -------------------------
def test_sagemaker_run_logs_as_the_sagemaker_sdk_spells_it(env, tmp_path, monkeypatch):
    from skytune.sagemaker import ExperimentAnalytics, Run, load_run

    experiment = f"sm-{uuid.uuid4().hex[:8]}"
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"weights")
    data = tmp_path / "train.csv"
    data.write_text("x,y\n1,2\n")
    with Run(experiment_name=experiment, run_name="xgb-1", run_display_name="Training",
             tags=[{"Key": "team", "Value": "ml"}], sagemaker_session=object(), url=env) as run:
        run.log_parameter("eta", 0.1)
        run.log_parameters({"max_depth": 6, "objective": "reg:squarederror"})
        for step, rmse in enumerate([0.5, 0.4, 0.31]):
            run.log_metric(name="validation:rmse", value=rmse, step=step)
        run.log_metric("train:rmse", 0.2, None, 7)  # SageMaker's positional order: timestamp, then step
        run.log_file(str(model), is_output=True)
        run.log_file(str(data), name="inputs/train.csv", is_output=False)
        run.log_artifact("dataset", "s3://bucket/train/", media_type="text/csv", is_output=False)
    assert run.run_name == "xgb-1" and run.experiment_name == experiment
    stored = skytune.Client(env).get_run(run.run_id)
    assert stored["status"] == "Completed" and stored["tags"]["display_name"] == "Training"
    assert stored["tags"]["team"] == "ml"
    assert stored["params"] == {"eta": 0.1, "max_depth": 6, "objective": "reg:squarederror"}
    assert stored["metrics"]["validation:rmse"]["min"] == 0.31 and stored["metrics"]["train:rmse"]["last_step"] == 7
    assert [(o["name"], o["size"]) for o in stored["outputs"]] == [("model.tar.gz", 7)]
    assert sorted(i["name"] for i in stored["inputs"]) == ["dataset", "inputs/train.csv"]

    # load_run by name continues the same run; from a job's environment it finds the job's run
    with load_run(run_name="xgb-1", experiment_name=experiment, url=env) as again:
        again.log_metric("validation:rmse", 0.3, step=3)
    assert again.run_id == run.run_id
    monkeypatch.setenv("SKYTUNE_RUN_ID", run.run_id)
    with load_run(url=env) as from_job:
        from_job.log_parameter("epochs", 10)
    assert from_job.run_name == "xgb-1" and skytune.Client(env).get_run(run.run_id)["params"]["epochs"] == 10
    monkeypatch.delenv("SKYTUNE_RUN_ID")
    monkeypatch.setenv("TRAINING_JOB_NAME", f"never-started-{uuid.uuid4().hex[:6]}")
    with pytest.raises(skytune.ApiError) as missing:
        load_run(url=env, wait_seconds=0)
    assert missing.value.status == 404
    monkeypatch.delenv("TRAINING_JOB_NAME")
    with pytest.raises(RuntimeError, match="SKYTUNE_RUN_ID"):
        load_run(url=env)
    with pytest.raises(ValueError):
        load_run(run_name="xgb-1", url=env)

    def analytics():
        return ExperimentAnalytics(experiment_name=experiment, sort_by="metrics.validation:rmse.min",
                                   sort_order="Ascending", client=skytune.Client(env)).rows()[0]

    rows = eventually(analytics, lambda rows: rows and rows[0].get("validation:rmse - Min") == 0.3, interval=0.5)
    assert rows[0]["validation:rmse - Min"] == 0.3
