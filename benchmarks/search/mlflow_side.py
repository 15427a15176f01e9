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

        self.folder = (folder or Path(tempfile.mkdtemp())).resolve()  # (artifact locations are file URIs)
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

    def load_bulk(self, experiment: str, data: list[SyntheticRun], check: int = 20) -> None:
        """`load`'s rows written straight into MLflow's SQLite tables in one transaction (`load` makes
        four committed client calls a run: 10,000 runs took 42 minutes on the loaded machine). The
        schema is MLflow's own (the client creates it); the rows are checked identical to `load`'s
        (run ids aside) on the first `check` runs, loaded both ways into a scratch database."""
        client = self._client(experiment)
        if client.get_experiment_by_name(experiment) is not None:
            self.load(experiment, data)  # a kept database: `load` checks it is complete
            return
        if check:
            self._check_bulk(data[:check])
        experiment_id = client.create_experiment(experiment, artifact_location=(self.folder / "artifacts").as_uri())
        self.experiment_ids[experiment] = experiment_id
        self._insert(self.folder / f"{experiment}.db", experiment_id, data)

    def _insert(self, database: Path, experiment_id: str, data: list[SyntheticRun], user: str = "unknown") -> None:
        import sqlite3
        import uuid

        artifacts = (self.folder / "artifacts").as_uri()
        runs, tags, params, metrics, latest = [], [], [], [], []
        for run in data:
            run_id = uuid.uuid4().hex
            started = min(ts for series in run.series.values() for _s, ts, _v in series)
            ended = max(ts for series in run.series.values() for _s, ts, _v in series)
            runs.append((run_id, run.name, "UNKNOWN", "", "", user, "FINISHED", started, ended, "", "active",
                         f"{artifacts}/{run_id}/artifacts", int(experiment_id), None))
            tags.append(("mlflow.runName", run.name, run_id))
            params.extend((name, str(value), run_id) for name, value in run.params.items())
            points = {metric: [(step, ts, value) for step, ts, value in series] for metric, series in run.series.items()}
            points.update({key: [(0, ended, run.summary(metric, stat))] for key, (metric, stat) in SUMMARY_METRICS.items()})
            for key, series in points.items():
                metrics.extend((key, value, ts, run_id, step, 0) for step, ts, value in series)
                step, ts, value = max(series)  # MLflow's latest: the largest (step, timestamp, value)
                latest.append((key, value, ts, step, 0, run_id))
        with sqlite3.connect(database) as db:
            db.executemany("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
                           "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id, deleted_time) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", runs)
            db.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", tags)
            db.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)", params)
            db.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)", metrics)
            db.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, ?, ?)", latest)

    def _check_bulk(self, data: list[SyntheticRun]) -> None:
        import sqlite3
        import tempfile

        scratch = MlflowSide(Path(tempfile.mkdtemp()))
        scratch.load("client", data)
        client = scratch._client("bulk")
        experiment_id = client.create_experiment("bulk", artifact_location=(scratch.folder / "artifacts").as_uri())
        with sqlite3.connect(scratch.folder / "client.db") as db:
            user = db.execute("SELECT user_id FROM runs LIMIT 1").fetchone()[0]
        scratch._insert(scratch.folder / "bulk.db", experiment_id, data, user)

        def dump(name: str) -> dict:
            with sqlite3.connect(scratch.folder / f"{name}.db") as db:
                names = dict(db.execute("SELECT run_uuid, name FROM runs"))
                out = {"runs": sorted(row[1:11] + row[12:13] + row[13:] + (row[11].replace(row[0], "<id>"),)
                                      for row in db.execute("SELECT * FROM runs"))}
                for table in ("tags", "params", "metrics", "latest_metrics"):
                    cursor = db.execute(f"SELECT * FROM {table}")
                    columns = [d[0] for d in cursor.description]
                    out[table] = sorted(tuple(names[v] if c == "run_uuid" else v for c, v in zip(columns, row)) for row in cursor)
                return out

        client_rows, bulk_rows = dump("client"), dump("bulk")
        for table, rows in client_rows.items():
            if rows != bulk_rows[table]:
                raise AssertionError(f"MLflow bulk rows of {table!r} differ from the client's: "
                                     f"{[r for r in rows if r not in bulk_rows[table]][:2]} vs "
                                     f"{[r for r in bulk_rows[table] if r not in rows][:2]}")

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
