"""The SDK against `skytune local` as a user runs it: a subprocess, real HTTP."""
from __future__ import annotations

import importlib.util
import os
import signal
import uuid
from pathlib import Path

import pytest

import skytune

_spec = importlib.util.spec_from_file_location("local_runtime_e2e", Path(__file__).with_name("test_local_runtime.py"))
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
LocalProcess = _module.LocalProcess


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

    rows = skytune.search(filter="params.lr < 0.05 AND metrics.val_loss.at(9) < 0.2", experiments=[experiment],
                          order_by="metrics.val_loss.min", url=local_url)
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
