"""A thin SageMaker-compatible entry point: `ExperimentAnalytics(...).dataframe()` as the SageMaker
Python SDK spells it (`sagemaker.analytics.ExperimentAnalytics`), answered by skytune's runs table.

    from skytune.sagemaker import ExperimentAnalytics
    frame = ExperimentAnalytics(experiment_name="xgb", sort_by="metrics.validation:rmse.min",
                                sort_order="Ascending", metric_names=["validation:rmse"]).dataframe()

The frame has SageMaker's column names (`TrialComponentName`, `DisplayName`, a param by its name,
`validation:rmse - Min`, ...) and datetime columns (`CreationTime`, `StartTime`, `EndTime`): the
table request's `column_names="sagemaker"` and `datetimes="iso8601"` (docs/search.md). `sort_by`
is skytune's sort language, which reads SageMaker's `metrics.<name>.<stat>` verbatim. SageMaker's
`search_expression` (a Search API filter document) is not translated: pass `filter=` in skytune's
filter language instead.

`Run` and `load_run` follow `sagemaker.experiments.run` (SageMaker Python SDK 2.x), as a thin layer
over `skytune.Run`, so training code written for SageMaker Experiments logs into skytune unchanged:

    from skytune.sagemaker import Run, load_run
    with Run(experiment_name="xgb", run_name="lr-0.1") as run:
        run.log_parameters({"lr": 0.1, "depth": 6})
        run.log_metric(name="validation:rmse", value=0.31, step=3)
        run.log_file("model.tar.gz", is_output=True)      # uploaded, recorded with size and digest
        run.log_artifact("train-data", "s3://bucket/train.csv", is_output=False)  # a reference
    # in the training script (a SageMaker training job, or a local trial of a skytune tuning job):
    with load_run() as run:
        run.log_metric("train:loss", 0.2, step=1)

Mapping: `experiment_name` is the skytune experiment; `run_name` the run's unique name (SageMaker
makes one when omitted, so does this); `run_display_name` the `display_name` tag; `tags`
(SageMaker's `[{"Key", "Value"}]`) run tags. `log_parameter(s)` are params (write-once in skytune:
logging a different value for a name raises, where SageMaker overwrites); `log_metric(name, value,
timestamp, step)`; `log_file` uploads through presigned URLs (`is_output=False` records it as an
input); `log_artifact(name, value)` records a reference URI. `load_run()` without names finds the
run from the environment: `SKYTUNE_RUN_ID` (set for the trials of skytune tuning jobs, local and
SageMaker alike; set it yourself in a training job's `Environment` otherwise), else `TRAINING_JOB_NAME` (every SageMaker
training job has it: the run skytune's event ingestion created for the job). SageMaker's charts
(`log_precision_recall`, `log_roc_curve`, `log_confusion_matrix`, `log_table`) are not provided;
`sagemaker_session`, `experiment_display_name`, `artifact_bucket` and `artifact_prefix` are
accepted and ignored.
"""
from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from skytune.client.http import ApiError, Client

#: SageMaker's analytics frame shows these statistics per metric, in this order.
_STATS = ("min", "max", "avg", "stddev", "last", "count")
_DATETIME_COLUMNS = ("CreationTime", "StartTime", "EndTime")


class ExperimentAnalytics:
    """`sagemaker.analytics.ExperimentAnalytics`'s signature; `sagemaker_session` is accepted and
    ignored (the skytune URL comes from `url`, `client` or SKYTUNE_URL)."""

    def __init__(self, experiment_name: str | None = None, search_expression: dict | None = None,
                 sort_by: str | None = None, sort_order: str | None = None,
                 metric_names: Sequence[str] | None = None, parameter_names: Sequence[str] | None = None,
                 sagemaker_session: Any = None, *, filter: str | None = None,  # noqa: A002 - skytune's name
                 url: str | None = None, client: Client | None = None) -> None:
        if search_expression is not None:
            raise ValueError("search_expression (SageMaker's Search filter document) is not supported; "
                             "pass filter= in skytune's filter language (docs/search.md)")
        if sort_order not in (None, "Ascending", "Descending"):
            raise ValueError("sort_order must be Ascending or Descending")
        self._experiment_name = experiment_name
        self._filter = filter
        self._order_by = None if not sort_by else f"{sort_by} {'ASC' if sort_order == 'Ascending' else 'DESC'}"
        self._metric_names = list(metric_names) if metric_names else None
        self._parameter_names = list(parameter_names) if parameter_names else None
        self._client = client or Client(url)
        self._frame = None

    @property
    def name(self) -> str | None:
        return self._experiment_name

    def clear_cache(self) -> None:
        self._frame = None

    def _columns(self) -> list[str] | None:
        if self._metric_names is None and self._parameter_names is None:
            return None  # every column the runs have
        from skytune.tracking.query.fields import render_name

        columns = ["run_id", "name", "source", "trial", "experiment", "created", "started", "ended"]
        columns += [f"params.{render_name(p)}" for p in self._parameter_names or []]
        columns += [f"metrics.{render_name(m)}.{stat}" for m in self._metric_names or [] for stat in _STATS]
        return columns

    def rows(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Every matching run as a row, and the column names in order (pages followed to the end)."""
        body: dict[str, Any] = {"column_names": "sagemaker", "datetimes": "iso8601", "limit": 1000,
                                "metric_stats": list(_STATS)}
        if self._experiment_name:
            body["experiments"] = [self._experiment_name]
        for key, value in (("filter", self._filter), ("order_by", self._order_by), ("columns", self._columns())):
            if value is not None:
                body[key] = value
        rows: list[dict[str, Any]] = []
        names: dict[str, None] = {}
        cursor = None
        while True:
            page = self._client.request("POST", "/v1/analytics/table", {**body, **({"cursor": cursor} if cursor else {})})
            rows.extend(page["rows"])
            names.update(dict.fromkeys(page["columns"]))
            cursor = page.get("next_cursor")
            if not cursor:
                return rows, list(names)

    def dataframe(self, force_refresh: bool = False):
        """A pandas DataFrame, one row per run, SageMaker's columns, datetimes as datetime64[UTC]."""
        if self._frame is not None and not force_refresh:
            return self._frame
        try:
            import pandas
        except ImportError:
            raise ImportError("dataframe() needs pandas: pip install pandas") from None
        rows, columns = self.rows()
        frame = pandas.DataFrame(rows, columns=columns)
        for column in _DATETIME_COLUMNS:
            if column in frame.columns:
                frame[column] = pandas.to_datetime(frame[column], utc=True, format="ISO8601")
        self._frame = frame
        return frame

    def __repr__(self) -> str:
        return f"<skytune.sagemaker.ExperimentAnalytics for {self._experiment_name}>"


class Run:
    """`sagemaker.experiments.run.Run`'s signature over a `skytune.Run` (see the module docstring)."""

    def __init__(self, experiment_name: str, run_name: str | None = None, experiment_display_name: str | None = None,
                 run_display_name: str | None = None, tags: Sequence[Mapping[str, str]] | None = None,
                 sagemaker_session: Any = None, artifact_bucket: str | None = None,
                 artifact_prefix: str | None = None, *, url: str | None = None, client: Client | None = None,
                 _run: Any = None) -> None:
        from skytune.client.run import Run as SkytuneRun

        del experiment_display_name, sagemaker_session, artifact_bucket, artifact_prefix  # SageMaker-only
        if _run is not None:
            self._run = _run
        else:
            run_tags = {t["Key"]: t["Value"] for t in tags or []}
            self._run = SkytuneRun(experiment=experiment_name, name=run_name or _generated_name(), resume=True,
                                   display_name=run_display_name, tags=run_tags or None, url=url, client=client)
        self.experiment_name = experiment_name
        self._name = run_name

    @property
    def run_name(self) -> str | None:
        return self._run.name or self._name

    @property
    def run_id(self) -> str | None:
        return self._run.run_id

    @property
    def skytune_run(self):
        """The underlying `skytune.Run` (metrics, params, artifacts, search)."""
        return self._run

    def __enter__(self) -> "Run":
        self._run.start()
        self.experiment_name = self._run.experiment
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._run.__exit__(exc_type, exc, tb)

    def close(self) -> None:
        """Flushes and ends the run (Completed)."""
        self._run.finish()

    def log_parameter(self, name: str, value: str | int | float | bool) -> None:
        self._started().log_param(name, value)

    def log_parameters(self, parameters: Mapping[str, str | int | float | bool]) -> None:
        self._started().log_params(parameters)

    def log_metric(self, name: str, value: float, timestamp: datetime | None = None, step: int | None = None) -> None:
        self._started().log_metric(name, value, step=step, timestamp=timestamp)

    def log_file(self, file_path: str, name: str | None = None, media_type: str | None = None,
                 is_output: bool = True, extra_args: Any = None) -> dict:
        """Uploads the file (presigned URLs) and records it as an output, or as an input when
        `is_output` is False; `name` (default: the file name) is its artifact path."""
        del media_type, extra_args  # the media type is guessed from the name; S3 upload args do not apply
        from skytune.client import artifacts

        run = self._started()
        source = Path(file_path)
        record = run._upload(artifacts.Source.of_file(source), name or source.name, artifacts.media_type_of(name or source.name))
        if not is_output:
            self._move_to_inputs(record)
        return record

    def log_artifact(self, name: str, value: str, media_type: str | None = None, is_output: bool = True) -> None:
        """Records a reference (`value`, e.g. an S3 URI) as an output or input of the run, as SageMaker does."""
        run = self._started()
        record = {"name": name, "uri": value, **({"media_type": media_type} if media_type else {})}
        direction = "outputs" if is_output else "inputs"
        current = run.client.get_run(run.run_id)
        kept = [a for a in current.get(direction, []) if a["name"] != name]
        run.client.update_run(run.run_id, **{direction: [*kept, record]})

    def _move_to_inputs(self, record: dict) -> None:
        run = self._run
        current = run.client.get_run(run.run_id)
        outputs = [a for a in current.get("outputs", []) if a["name"] != record["name"]]
        inputs = [a for a in current.get("inputs", []) if a["name"] != record["name"]] + [record]
        run.client.update_run(run.run_id, outputs=outputs, inputs=inputs)

    def _started(self):
        if self._run.run_id is None:
            self._run.start()
        return self._run

    def __repr__(self) -> str:
        return f"<skytune.sagemaker.Run {self.experiment_name}/{self.run_name}>"


def _generated_name() -> str:
    """SageMaker's default run name: `Sagemaker-Run-<timestamp>-<random>`."""
    return f"Sagemaker-Run-{time.strftime('%Y-%m-%d-%H-%M-%S', time.gmtime())}-{uuid.uuid4().hex[:6]}"


def load_run(run_name: str | None = None, experiment_name: str | None = None, sagemaker_session: Any = None,
             artifact_bucket: str | None = None, artifact_prefix: str | None = None, *, url: str | None = None,
             client: Client | None = None, wait_seconds: float = 30.0) -> Run:
    """`sagemaker.experiments.load_run`: the run named `run_name` in `experiment_name`, or, without
    names, the run of this job (`SKYTUNE_RUN_ID`, else `TRAINING_JOB_NAME`'s run, waited for up to
    `wait_seconds` while the job's start event is ingested)."""
    from skytune.client.run import Run as SkytuneRun
    from skytune.tracking.ids import sagemaker_run_id

    del sagemaker_session, artifact_bucket, artifact_prefix
    client = client or Client(url)
    if run_name is not None:
        if experiment_name is None:
            raise ValueError("load_run(run_name=...) needs experiment_name too (run names are unique per experiment)")
        return Run(experiment_name, run_name, client=client)
    run_id = os.environ.get("SKYTUNE_RUN_ID") or None
    job = os.environ.get("TRAINING_JOB_NAME")
    if run_id is None and job:
        run_id = sagemaker_run_id(job)
    if run_id is None:
        raise RuntimeError("load_run() found no run: pass run_name= and experiment_name=, or run inside a SageMaker "
                           "training job (TRAINING_JOB_NAME) or a skytune tuning trial (SKYTUNE_RUN_ID)")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            found = client.get_run(run_id)
            break
        except ApiError as error:
            if error.status != 404 or time.monotonic() >= deadline:
                raise
            time.sleep(1.0)
    skytune_run = SkytuneRun(run_id=found["run_id"], client=client)
    return Run(found["experiment"], found["name"], client=client, _run=skytune_run)


__all__ = ["ExperimentAnalytics", "Run", "load_run"]
