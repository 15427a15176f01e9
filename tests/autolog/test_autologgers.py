"""Unmodified MLflow autologging for XGBoost, Keras (torch backend) and PyTorch Lightning against
`skytune local`: each training script runs in its own interpreter, as a user's would, with only
MLFLOW_TRACKING_URI pointing at skytune; then the MLflow client and skytune read back what it logged.
Run with `make test-autolog` (README "MLflow compatibility" lists what passed)."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.local_process import serving_mlflow_clients

pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def local_url(cloud_assembly, tmp_path_factory):
    with serving_mlflow_clients(cloud_assembly, tmp_path_factory.mktemp("autolog-data"), ready_timeout=180) as url:  # a loaded machine (the bench venv imports more)
        yield url


def train(local_url: str, tmp_path: Path, script: str) -> tuple[str, str]:
    """Runs `script` (which prints `RUN <id>`) in a fresh interpreter; answers (experiment, run id)."""
    experiment = f"autolog-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "train.py"
    path.write_text(script)
    env = {**os.environ, "MLFLOW_TRACKING_URI": local_url, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
           "MLFLOW_DISABLE_TELEMETRY": "true", "KERAS_BACKEND": "torch"}
    done = subprocess.run([sys.executable, str(path), experiment], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    # autologging swallows its own failures as warnings: none may appear
    assert "unexpected error during" not in done.stderr.lower() and "failed to log" not in done.stderr.lower(), done.stderr[-4000:]
    [run_id] = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("RUN ")]
    return experiment, run_id


def stored(local_url: str, run_id: str):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=local_url)
    return client, client.get_run(run_id)


_XGBOOST = """
import sys
import mlflow, numpy as np, xgboost as xgb

mlflow.set_experiment(sys.argv[1])
mlflow.xgboost.autolog(log_models=False)
rng = np.random.default_rng(0)
X = rng.normal(size=(300, 5)); y = (X[:, 0] + X[:, 1] > 0).astype(int)
train, valid = xgb.DMatrix(X[:200], label=y[:200]), xgb.DMatrix(X[200:], label=y[200:])
with mlflow.start_run() as run:
    xgb.train({"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "eval_metric": "logloss"},
              train, num_boost_round=10, evals=[(train, "train"), (valid, "valid")])
    print("RUN", run.info.run_id, flush=True)
"""


def test_xgboost_autolog(local_url, tmp_path):
    pytest.importorskip("xgboost")
    _experiment, run_id = train(local_url, tmp_path, _XGBOOST)
    client, run = stored(local_url, run_id)
    assert run.data.params["max_depth"] == "3" and run.data.params["num_boost_round"] == "10"
    history = client.get_metric_history(run_id, "valid-logloss")
    assert [m.step for m in history] == list(range(10))
    assert history[-1].value < history[0].value
    assert run.info.status == "FINISHED"
    names = {f.path for f in client.list_artifacts(run_id)}
    assert "feature_importance_weight.json" in names


_KERAS = """
import sys
import mlflow, numpy as np, keras

mlflow.set_experiment(sys.argv[1])
mlflow.keras.autolog(log_models=False)
rng = np.random.default_rng(0)
X = rng.normal(size=(256, 4)).astype("float32"); y = (X.sum(axis=1) > 0).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
with mlflow.start_run() as run:
    model.fit(X, y, epochs=4, batch_size=32, validation_split=0.25, verbose=0)
    print("RUN", run.info.run_id, flush=True)
"""


def test_keras_autolog(local_url, tmp_path):
    pytest.importorskip("keras")
    _experiment, run_id = train(local_url, tmp_path, _KERAS)
    client, run = stored(local_url, run_id)
    assert run.data.params["epochs"] == "4" and run.data.params["batch_size"] == "32"
    history = client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3]
    assert "val_accuracy" in run.data.metrics
    assert run.info.status == "FINISHED"


_LIGHTNING = """
import sys
import mlflow, torch, lightning as L
from torch.utils.data import DataLoader, TensorDataset

class Model(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x).squeeze(-1), y)
        self.log("train_loss", loss, on_epoch=True, on_step=False)
        return loss
    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x).squeeze(-1), y))
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

torch.manual_seed(0)
X = torch.randn(128, 4); y = X.sum(dim=1)
loader = DataLoader(TensorDataset(X, y), batch_size=32)
mlflow.set_experiment(sys.argv[1])
mlflow.pytorch.autolog(log_models=False)
with mlflow.start_run() as run:
    L.Trainer(max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False).fit(Model(), loader, loader)
    print("RUN", run.info.run_id, flush=True)
"""


def test_pytorch_lightning_autolog(local_url, tmp_path):
    pytest.importorskip("lightning")
    _experiment, run_id = train(local_url, tmp_path, _LIGHTNING)
    client, run = stored(local_url, run_id)
    assert run.data.params["epochs"] == "3" and run.data.params["optimizer_name"] == "SGD"
    history = client.get_metric_history(run_id, "train_loss")
    assert [m.step for m in history] == [0, 1, 2]
    assert "val_loss" in run.data.metrics and run.info.status == "FINISHED"


def test_skytune_search_reads_what_the_autologgers_logged(local_url, tmp_path):
    pytest.importorskip("xgboost")
    import time

    import skytune

    experiment, run_id = train(local_url, tmp_path, _XGBOOST)
    deadline = time.monotonic() + 20
    while True:
        rows = skytune.search(filter="params.max_depth = 3 AND metrics.`valid-logloss`.at(9) < 0.6",
                              experiments=[experiment], url=local_url)
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert [r["run_id"] for r in rows] == [run_id]
