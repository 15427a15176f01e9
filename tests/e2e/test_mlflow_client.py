"""The real MLflow client (mlflow-skinny) against `skytune local` as a subprocess: scikit-learn
autologging, the fluent and client APIs, search, metric history, MLflow's error shape; then
skytune's own search finds what MLflow logged."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import skytune

from tests.support.local_process import serving_mlflow_clients
from tests.support.polling import eventually  # noqa: E402

pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def local_url(cloud_assembly, tmp_path_factory):
    with serving_mlflow_clients(cloud_assembly, tmp_path_factory.mktemp("mlflow-data")) as url:
        yield url


# Runs in its own interpreter, as a user's training script would: MLflow keeps process-wide state.
_AUTOLOG = """
import sys
import mlflow
from sklearn.datasets import load_digits
from sklearn.tree import DecisionTreeClassifier

mlflow.set_experiment(sys.argv[1])
mlflow.sklearn.autolog(log_models=False)
X, y = load_digits(return_X_y=True)
for depth in (2, 8):
    with mlflow.start_run(run_name="digits") as run:
        model = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X[:1000], y[:1000])
        mlflow.log_metric("holdout_accuracy", model.score(X[1000:], y[1000:]))
        for epoch in range(5):
            mlflow.log_metric("loss", 1.0 / (epoch + 1) + depth / 10, step=epoch)
        mlflow.set_tag("owner", "e2e")
        print("RUN", run.info.run_id, flush=True)
"""


def test_sklearn_autolog_search_history_and_skytune_search(local_url, tmp_path):
    experiment = f"mlflow-{uuid.uuid4().hex[:8]}"
    script = tmp_path / "train.py"
    script.write_text(_AUTOLOG)
    env = {**os.environ, "MLFLOW_TRACKING_URI": local_url, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    done = subprocess.run([sys.executable, str(script), experiment], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    run_ids = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("RUN ")]
    assert len(run_ids) == 2

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=local_url)
    stored = client.get_experiment_by_name(experiment)
    assert stored.name == experiment and stored.experiment_id == experiment
    run = client.get_run(run_ids[1])
    assert run.info.status == "FINISHED" and run.info.end_time >= run.info.start_time
    assert run.info.run_name == "digits"
    assert run.data.params["max_depth"] == "8" and run.data.params["criterion"] == "gini"   # strings, as logged
    assert run.data.tags["owner"] == "e2e" and run.data.tags["mlflow.runName"] == "digits"
    assert run.data.tags["estimator_name"] == "DecisionTreeClassifier"
    assert run.data.params["class_weight"] == "None" and run.data.tags["mlflow.source.type"] == "LOCAL"
    assert 0.5 < run.data.metrics["training_accuracy_score"] <= 1.0   # logged by autolog
    assert "estimator.html" in [f.path for f in client.list_artifacts(run_ids[1])]   # through the artifact proxy
    assert "encountered unexpected error" not in done.stderr.lower()
    # autolog's dataset input is the run's input in skytune (lineage by URI)
    inputs = skytune.Client(local_url).get_run(run_ids[1])["inputs"]
    assert [i["uri"].split(":")[0] for i in inputs] == ["mlflow-dataset"] and inputs[0]["digest"]
    assert run.data.metrics["loss"] == pytest.approx(1.0 / 5 + 0.8)     # the latest step

    history = client.get_metric_history(run_ids[1], "loss")
    assert [(m.step, m.value) for m in history] == [(s, pytest.approx(1.0 / (s + 1) + 0.8)) for s in range(5)]
    assert client.get_metric_history(run_ids[1], "never-logged") == []

    found = eventually(lambda: client.search_runs(
        [stored.experiment_id], filter_string="params.max_depth = '8' and metrics.holdout_accuracy > 0.5",
        order_by=["metrics.holdout_accuracy DESC"]), lambda runs: len(runs) == 1)
    assert [r.info.run_id for r in found] == [run_ids[1]]
    every = eventually(lambda: client.search_runs([stored.experiment_id], order_by=["attributes.start_time ASC"]),
                       lambda runs: len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs))
    assert [r.info.run_id for r in every] == run_ids
    assert len(client.search_runs([stored.experiment_id], filter_string="attributes.status = 'FINISHED'", max_results=1)) == 1

    # skytune's own search over what MLflow logged: OR, metric at a step, summaries, numeric params
    rows = eventually(lambda: skytune.search(filter="params.max_depth < 3 OR metrics.loss.at(4) > 0.9",
                                             experiments=[experiment], order_by="params.max_depth", url=local_url),
                      lambda found: len(found) == 2)
    assert [row["run_id"] for row in rows] == run_ids
    best = skytune.search(filter="metrics.loss.min < 0.5", experiments=[experiment], url=local_url)
    assert [row["run_id"] for row in best] == [run_ids[0]]


def test_client_api_calls_and_mlflow_errors(local_url, tmp_path, monkeypatch):
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.exceptions import MlflowException

    monkeypatch.setenv("MLFLOW_TRACKING_URI", local_url)   # mlflow.artifacts resolves mlflow-artifacts: URIs with it
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    client = MlflowClient(tracking_uri=local_url)
    name = f"client-{uuid.uuid4().hex[:8]}"
    experiment_id = client.create_experiment(name, tags={"team": "ml"})
    assert client.get_experiment(experiment_id).tags == {"team": "ml"}
    client.set_experiment_tag(experiment_id, "stage", "dev")
    assert name in [e.name for e in client.search_experiments(filter_string=f"name = '{name}'", max_results=1000)]
    with pytest.raises(MlflowException) as exists:
        client.create_experiment(name)
    assert exists.value.error_code == "RESOURCE_ALREADY_EXISTS"

    run = client.create_run(experiment_id, run_name="baseline", tags={"k": "v"})
    run_id = run.info.run_id
    client.log_param(run_id, "lr", "0.001")
    client.log_metric(run_id, "acc", 0.5, step=1)
    client.log_batch(run_id, metrics=[Metric("acc", 0.75, 1700000000000, 2)], params=[Param("layers", "3")],
                     tags=[RunTag("phase", "train")])
    client.set_tag(run_id, "temp", "x")
    client.delete_tag(run_id, "temp")
    client.update_run(run_id, status="KILLED")
    got = client.get_run(run_id)
    assert got.info.status == "KILLED" and got.info.end_time is not None
    assert got.data.params == {"lr": "0.001", "layers": "3"}
    assert "temp" not in got.data.tags and got.data.tags["phase"] == "train"
    assert got.data.metrics["acc"] == 0.75
    with pytest.raises(MlflowException) as changed:
        client.log_param(run_id, "lr", "0.1")   # params are write-once, as in MLflow
    assert changed.value.error_code == "INVALID_PARAMETER_VALUE"

    with pytest.raises(MlflowException) as missing:
        client.get_run("01NOSUCHRUN0000000000000000")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert client.get_experiment_by_name("never-created-" + uuid.uuid4().hex[:6]) is None
    assert client.search_runs(["never-created"]) == []
    with pytest.raises(MlflowException) as registry:
        client.search_registered_models()
    assert registry.value.error_code == "ENDPOINT_NOT_FOUND"

    client.log_text(run_id, "hello", "notes/readme.txt")
    client.log_dict(run_id, {"layers": [64, 32]}, "config.json")
    assert sorted((f.path, f.is_dir) for f in client.list_artifacts(run_id)) == [("config.json", False), ("notes", True)]
    assert [f.path for f in client.list_artifacts(run_id, "notes")] == ["notes/readme.txt"]
    downloaded = client.download_artifacts(run_id, "notes/readme.txt", str(tmp_path))
    assert Path(downloaded).read_text() == "hello"
    assert mlflow.artifacts.load_dict(f"{got.info.artifact_uri}/config.json") == {"layers": [64, 32]}

    client.delete_run(run_id)
    client.delete_experiment(experiment_id)
    with pytest.raises(MlflowException):
        client.get_run(run_id)
