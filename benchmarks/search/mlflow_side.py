"""MLflow's SQLite tracking store (in-process `MlflowClient`, no tracking server), same runs.

MLflow keeps no server-side summaries: its `metrics.<key>` filters and sorts read the *latest*
value of a key. A user who wants `min(val_loss)` logs it as a metric of its own, so each run also
gets `val_loss_min` and `val_acc_max` (computed client-side from the same series): MLflow's best case.
MLflow's filter language has AND only (no OR, no parentheses), so an OR is two searches merged on
the client; the merge has no single cursor, so page 2 would need both halves re-read.
"""
from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path

from benchmarks.search.data import SyntheticRun

SUMMARY_METRICS = {"val_loss_min": ("val_loss", "min"), "val_acc_max": ("val_acc", "max")}


class MlflowSide:
    def __init__(self, folder: Path | None = None) -> None:
        warnings.filterwarnings("ignore")
        logging.getLogger("mlflow").setLevel(logging.ERROR)
        logging.getLogger("alembic").setLevel(logging.ERROR)
        from mlflow.tracking import MlflowClient

        self.folder = folder or Path(tempfile.mkdtemp())
        self._client_class = MlflowClient
        self.clients: dict[str, object] = {}
        self.experiment_ids: dict[str, str] = {}

    def _client(self, experiment: str):
        # One SQLite file per experiment size, so each size is measured on a database of its own.
        if experiment not in self.clients:
            self.clients[experiment] = self._client_class(tracking_uri=f"sqlite:///{self.folder / experiment}.db")
        return self.clients[experiment]

    def load(self, experiment: str, data: list[SyntheticRun]) -> None:
        from mlflow.entities import Metric, Param, RunStatus

        client = self._client(experiment)
        existing = client.get_experiment_by_name(experiment)
        if existing is not None:  # a kept database (--mlflow-dir): loaded by an earlier run, same data
            self.experiment_ids[experiment] = existing.experiment_id
            loaded = client.search_runs([existing.experiment_id], max_results=1, order_by=["attributes.start_time DESC"])
            if loaded and loaded[0].info.run_name == data[-1].name:
                return
            raise RuntimeError(f"the kept MLflow database of {experiment!r} is incomplete: delete it")
        experiment_id = client.create_experiment(experiment, artifact_location=(self.folder / "artifacts").as_uri())
        self.experiment_ids[experiment] = experiment_id
        for run in data:
            started = min(ts for series in run.series.values() for _s, ts, _v in series)
            ended = max(ts for series in run.series.values() for _s, ts, _v in series)
            created = client.create_run(experiment_id, start_time=started, run_name=run.name)
            metrics = [Metric(metric, value, ts, step) for metric, series in run.series.items() for step, ts, value in series]
            metrics += [Metric(key, run.summary(metric, stat), ended, 0) for key, (metric, stat) in SUMMARY_METRICS.items()]
            params = [Param(name, str(value)) for name, value in run.params.items()]  # MLflow params are strings
            client.log_batch(created.info.run_id, metrics=metrics, params=params)
            client.set_terminated(created.info.run_id, RunStatus.to_string(RunStatus.FINISHED), end_time=ended)

    def supports_or(self, experiment: str) -> str | None:
        """None when MLflow accepts an OR filter, else its error message."""
        try:
            self._client(experiment).search_runs([self.experiment_ids[experiment]],
                                                 filter_string="params.optimizer = 'adam' OR metrics.val_loss_min < 0.2")
        except Exception as error:  # noqa: BLE001 - the refusal is what we report
            return str(error).splitlines()[0]
        return None

    def _half(self, experiment: str, filter_text: str, order_by: str, limit: int, all_pages: bool) -> list:
        client, runs, token = self._client(experiment), [], None
        while True:
            page = client.search_runs([self.experiment_ids[experiment]], filter_string=filter_text, order_by=[order_by],
                                      max_results=limit, page_token=token)
            runs.extend(page)
            token = page.token
            if not all_pages or not token:
                return runs

    def query(self, experiment: str, halves: tuple[str, ...], order_by: str, sort_metric: str, limit: int,
              all_pages: bool) -> list:
        """The OR of `halves`: each half searched (first page or every page), then merged, deduplicated
        and sorted by `sort_metric` descending on the client. A first page of the OR is the first
        `limit` of the merged first pages (the top `limit` of a union lies in the union of the tops)."""
        merged = {}
        for filter_text in halves:
            for run in self._half(experiment, filter_text, order_by, limit, all_pages):
                merged[run.info.run_id] = run
        ordered = sorted(merged.values(), key=lambda run: (-run.data.metrics[sort_metric], run.info.run_id))
        return ordered if all_pages else ordered[:limit]
