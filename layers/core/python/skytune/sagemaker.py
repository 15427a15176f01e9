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
filter language instead. `Run`/`load_run` are not provided here yet.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from skytune.client.http import Client

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


__all__ = ["ExperimentAnalytics"]
