"""Domain records of experiment tracking, and their validation (pydantic, no storage types).

Input models (`*Input`, `*Update`, `LogBatch`, `*Request`) forbid unknown fields, so a typo is a 400
naming the field rather than a silently ignored value.
"""
from __future__ import annotations

import math
from datetime import datetime
from enum import Enum
from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator

from skytune import limits
from skytune.tracking import limits as tracking_limits

Name = str

# Order matters: pydantic's smart union keeps JSON true a bool, 3 an int, 0.1 a float, "x" a string.
ParamValue = Union[StrictBool, StrictInt, StrictFloat, str]


def validate_name(value: str) -> str:
    if not limits.NAME_PATTERN.match(value):
        raise ValueError(
            f"must be 1-{limits.NAME_MAX_LENGTH} characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return value


def validate_key(value: str, what: str, max_length: int) -> str:
    """A metric, param, tag or artifact name: see `tracking.limits.KEY_PATTERN`."""
    if not 0 < len(value) <= max_length:
        raise ValueError(f"{what} {value[:40]!r} must be 1-{max_length} characters")
    if not tracking_limits.KEY_PATTERN.match(value) or value != value.strip():
        raise ValueError(
            f"{what} {value[:40]!r} may hold only letters, digits, '_', '-', '.', '/', ':' and inner spaces"
        )
    return value


def validate_tags(tags: dict[str, str]) -> dict[str, str]:
    if len(tags) > limits.TAGS_PER_ENTITY:
        raise ValueError(f"at most {limits.TAGS_PER_ENTITY} tags")
    for key, value in tags.items():
        if not 0 < len(key) <= limits.TAG_KEY_MAX_LENGTH:
            raise ValueError(f"tag key {key[:40]!r} must be 1-{limits.TAG_KEY_MAX_LENGTH} characters")
        if value is not None and len(value) > limits.TAG_VALUE_MAX_LENGTH:
            raise ValueError(f"tag {key!r}: value longer than {limits.TAG_VALUE_MAX_LENGTH} characters")
    return tags


def validate_keyed_tags(tags: dict[str, str | None]) -> dict[str, str | None]:
    """Tags of runs are searchable (`tags.<key>`), so their keys follow the key rules too."""
    validate_tags(tags)
    for key in tags:
        validate_key(key, "tag key", limits.TAG_KEY_MAX_LENGTH)
    return tags


def validate_param_value(name: str, value: object) -> object:
    """Numbers are stored as DynamoDB numbers: finite, 38 significant digits, 1e-130 <= |x| < 1e126."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) >= 10**38:
            raise ValueError(f"param {name!r}: integers must have at most 38 digits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"param {name!r}: NaN and infinity are not accepted")
        if value != 0 and not tracking_limits.NUMBER_MIN_ABS <= abs(value) < tracking_limits.NUMBER_MAX_ABS:
            raise ValueError(f"param {name!r}: magnitude outside 1e-130..1e126")
        return value
    if len(value) > limits.PARAM_VALUE_MAX_LENGTH:
        raise ValueError(f"param {name!r}: value longer than {limits.PARAM_VALUE_MAX_LENGTH} characters")
    return value


def validate_params(params: dict[str, ParamValue]) -> dict[str, ParamValue]:
    for name, value in params.items():
        validate_key(name, "param name", limits.PARAM_NAME_MAX_LENGTH)
        validate_param_value(name, value)
    return params


def validate_trial_names(names: list[str]) -> list[str]:
    for name in names:
        validate_name(name)
    if len(set(names)) != len(names):
        raise ValueError("trial names repeat")
    return names


def require_datetime_text(value: object) -> object:
    """JSON has no date type: times travel as RFC 3339 strings (the document's `date-time`).
    pydantic would also read a number as epoch seconds or milliseconds, guessing the unit from its
    size; metric timestamps in this API are epoch milliseconds, so a guessed unit is refused."""
    if value is not None and not isinstance(value, (str, datetime)):
        raise ValueError("must be an RFC 3339 date-time string, e.g. 2026-01-31T12:00:00Z")
    return value


def validate_experiment_names(names: list[str] | None) -> list[str] | None:
    return None if names is None else validate_trial_names(names)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- experiments --------------------------------------------------------------------------------
class ExperimentInput(_Input):
    name: str = Field(description="Unique experiment name", examples=["mnist-cnn"])
    description: str = Field(default="", max_length=limits.DESCRIPTION_MAX_LENGTH)
    tags: dict[str, str] = Field(default_factory=dict)

    _name = field_validator("name")(validate_name)
    _tags = field_validator("tags")(validate_tags)


class Experiment(ExperimentInput):
    model_config = ConfigDict(extra="ignore")

    created_at: datetime
    updated_at: datetime


class ExperimentUpdate(_Input):
    """JSON merge patch (RFC 7386): absent fields stay; a tag set to null is removed."""

    description: str | None = Field(default=None, max_length=limits.DESCRIPTION_MAX_LENGTH)
    tags: dict[str, str | None] = Field(default_factory=dict)

    _tags = field_validator("tags")(validate_tags)


# -- trials -------------------------------------------------------------------------------------
class TrialInput(_Input):
    name: str = Field(description="Trial name, unique within its experiment", examples=["resnet-sweep"])
    description: str = Field(default="", max_length=limits.DESCRIPTION_MAX_LENGTH)
    tags: dict[str, str] = Field(default_factory=dict)

    _name = field_validator("name")(validate_name)
    _tags = field_validator("tags")(validate_tags)


class Trial(TrialInput):
    model_config = ConfigDict(extra="ignore")

    experiment: str
    created_at: datetime
    updated_at: datetime


class TrialUpdate(ExperimentUpdate):
    pass


# -- runs ---------------------------------------------------------------------------------------
class RunStatus(str, Enum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"


class Artifact(_Input):
    """An input or output of a run. `uri` is the identity lineage follows."""

    name: str = Field(examples=["train-data"])
    uri: str = Field(min_length=1, max_length=tracking_limits.ARTIFACT_URI_MAX_LENGTH, examples=["s3://bucket/data/train.csv"])
    media_type: str | None = Field(default=None, max_length=tracking_limits.ARTIFACT_MEDIA_TYPE_MAX_LENGTH)
    digest: str | None = Field(default=None, max_length=tracking_limits.ARTIFACT_DIGEST_MAX_LENGTH,
                               description="Content digest, ETag or version id")
    size: int | None = Field(default=None, ge=0, lt=2**53, strict=True, exclude_if=lambda value: value is None,
                             description="Size in bytes (artifacts uploaded through the artifact routes); absent when unknown")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_key(value, "artifact name", limits.NAME_MAX_LENGTH)

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        if any(c.isspace() or ord(c) < 32 for c in value):
            raise ValueError("an artifact URI holds no whitespace or control characters")
        return value


def validate_artifacts(artifacts: list[Artifact]) -> list[Artifact]:
    names = [a.name for a in artifacts]
    if len(set(names)) != len(names):
        raise ValueError("artifact names repeat")
    return artifacts


class RunInput(_Input):
    experiment: str = Field(examples=["mnist-cnn"])
    name: str | None = Field(default=None, description="Unique within the experiment; the run id when omitted")
    trials: list[str] = Field(default_factory=list, max_length=tracking_limits.TRIALS_PER_RUN,
                              description="Trials of the same experiment the run belongs to")
    parent: str | None = Field(default=None, description="run_id of the parent run (nested runs)")
    status: RunStatus = RunStatus.IN_PROGRESS
    start_time: datetime | None = None
    end_time: datetime | None = None
    source: str | None = Field(default=None, max_length=tracking_limits.SOURCE_MAX_LENGTH,
                               description="What produced the run, e.g. a SageMaker training-job ARN")
    params: dict[str, ParamValue] = Field(default_factory=dict, max_length=tracking_limits.PARAMS_PER_RUN)
    tags: dict[str, str] = Field(default_factory=dict)
    inputs: list[Artifact] = Field(default_factory=list, max_length=tracking_limits.ARTIFACTS_PER_RUN)
    outputs: list[Artifact] = Field(default_factory=list, max_length=tracking_limits.ARTIFACTS_PER_RUN)
    client_token: str | None = Field(
        default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$",
        description="Idempotency token: a create repeated with the same token answers the run it created "
                    "(without one, a taken name is always 409)")

    _experiment = field_validator("experiment")(validate_name)
    _times = field_validator("start_time", "end_time", mode="before")(require_datetime_text)
    _trials = field_validator("trials")(validate_trial_names)
    _params = field_validator("params")(validate_params)
    _tags = field_validator("tags")(validate_keyed_tags)
    _artifacts = field_validator("inputs", "outputs")(validate_artifacts)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else validate_name(value)


class Run(BaseModel):
    run_id: str
    experiment: str
    name: str
    trials: list[str] = Field(default_factory=list)
    parent: str | None = None
    status: RunStatus
    start_time: datetime | None = None
    end_time: datetime | None = None
    source: str | None = None
    params: dict[str, ParamValue] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    inputs: list[Artifact] = Field(default_factory=list)
    outputs: list[Artifact] = Field(default_factory=list)
    metrics: dict[str, dict[str, float | int | None]] = Field(
        default_factory=dict, description="Summary per metric: count, min, max, avg, stddev, first, last, "
                                          "min_step, max_step, last_step, last_timestamp")
    created_at: datetime
    updated_at: datetime
    client_token: str | None = Field(default=None, exclude=True)  # stored, never shown


class RunUpdate(_Input):
    """Absent fields stay. `tags` is a merge patch (null removes a key); `inputs`/`outputs`, when
    given, replace the lists. Params are set through log-batch and never change once set."""

    name: str | None = None
    status: RunStatus | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    source: str | None = Field(default=None, max_length=tracking_limits.SOURCE_MAX_LENGTH)
    tags: dict[str, str | None] = Field(default_factory=dict)
    inputs: list[Artifact] | None = Field(default=None, max_length=tracking_limits.ARTIFACTS_PER_RUN)
    outputs: list[Artifact] | None = Field(default=None, max_length=tracking_limits.ARTIFACTS_PER_RUN)

    _tags = field_validator("tags")(validate_keyed_tags)
    _times = field_validator("start_time", "end_time", mode="before")(require_datetime_text)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else validate_name(value)

    @field_validator("inputs", "outputs")
    @classmethod
    def _artifacts(cls, value: list[Artifact] | None) -> list[Artifact] | None:
        return None if value is None else validate_artifacts(value)


# -- batch logging --------------------------------------------------------------------------------
class MetricPointInput(_Input):
    # Strict numbers: a JSON string ("5") or boolean (true) is a 400, never read as a number.
    name: str = Field(examples=["val_loss"])
    value: float = Field(allow_inf_nan=False, strict=True, ge=-tracking_limits.METRIC_VALUE_MAX_ABS,
                         le=tracking_limits.METRIC_VALUE_MAX_ABS,
                         description="Finite, at most 1e150 in magnitude; NaN and infinity are refused (400)")
    step: int | None = Field(default=None, ge=0, lt=2**53, strict=True,
                             description="A whole number >= 0; omitted: one more than the metric's last assigned step")
    timestamp: int | None = Field(default=None, ge=0, lt=2**53, strict=True,
                                  description="Epoch milliseconds; omitted: the server's clock (then a retry is a new point)")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return validate_key(value, "metric name", tracking_limits.METRIC_NAME_MAX_LENGTH)


class LogBatch(_Input):
    metrics: list[MetricPointInput] = Field(default_factory=list, max_length=tracking_limits.BATCH_METRICS_MAX)
    params: dict[str, ParamValue] = Field(default_factory=dict, max_length=tracking_limits.BATCH_PARAMS_MAX)
    tags: dict[str, str] = Field(default_factory=dict, max_length=tracking_limits.BATCH_TAGS_MAX)

    _params = field_validator("params")(validate_params)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: dict[str, str]) -> dict[str, str]:
        for key, value in tags.items():
            validate_key(key, "tag key", limits.TAG_KEY_MAX_LENGTH)
            if len(value) > limits.TAG_VALUE_MAX_LENGTH:
                raise ValueError(f"tag {key!r}: value longer than {limits.TAG_VALUE_MAX_LENGTH} characters")
        return tags


class LogBatchResult(BaseModel):
    metrics_written: int
    metrics_duplicates: int = Field(description="Points already stored by an earlier delivery of the same batch")
    params_written: int
    tags_written: int


class SeriesPoint(BaseModel):
    step: int
    timestamp_ms: int
    value: float


class Series(BaseModel):
    run_id: str
    metric: str
    points: list[SeriesPoint]


class SeriesBatchRequest(_Input):
    """Several series in one read: every metric of `metrics` for every run of `runs`."""
    runs: list[str] = Field(min_length=1, max_length=tracking_limits.SERIES_BATCH_MAX,
                            description="Run ids (repeats are read once)", examples=[["01J0Z3K4M5N6P7Q8R9S0T1V2W3"]])
    metrics: list[str] = Field(min_length=1, max_length=tracking_limits.SERIES_BATCH_MAX,
                               description="Metric names as logged (not percent-encoded)", examples=[["train/loss"]])
    min_step: int | None = Field(default=None, ge=0, lt=2**53, strict=True)
    max_step: int | None = Field(default=None, ge=0, lt=2**53, strict=True)
    max_points: int = Field(default=1000, ge=2, le=tracking_limits.SERIES_MAX_POINTS, strict=True,
                            description="Per series: downsampled (M4: first, min, max and last point of each step "
                                        "bucket) past this many points")

    @field_validator("runs")
    @classmethod
    def _run_ids(cls, value: list[str]) -> list[str]:
        for run_id in value:
            if not tracking_limits.RUN_ID_PATTERN.match(run_id):
                raise ValueError(f"{run_id[:80]!r} is not a run id")
        return list(dict.fromkeys(value))

    @field_validator("metrics")
    @classmethod
    def _metric_names(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(validate_key(m, "metric name", tracking_limits.METRIC_NAME_MAX_LENGTH) for m in value))


class SeriesColumns(BaseModel):
    """One series as columns: point i is (steps[i], timestamps_ms[i], values[i]), ordered by step."""
    run_id: str
    metric: str
    steps: list[int]
    timestamps_ms: list[int]
    values: list[float]


class SeriesRef(BaseModel):
    run_id: str
    metric: str


class SeriesBatch(BaseModel):
    series: list[SeriesColumns] = Field(description="One per (run, metric) pair the store holds, runs in request "
                                                    "order, each run's metrics in request order")
    missing: list[SeriesRef] = Field(description="Pairs without a series: an unknown run, or a metric the run has "
                                                 "not logged")


# -- search and analytics ------------------------------------------------------------------------
StrOrList = Union[str, list[str]]


class SearchRequest(_Input):
    filter: str | None = Field(default=None, max_length=tracking_limits.FILTER_MAX_LENGTH,
                               examples=["params.lr < 0.01 AND metrics.val_loss.at(10) < 0.3"])
    experiments: list[str] | None = Field(default=None, max_length=tracking_limits.SEARCH_EXPERIMENTS_MAX,
                                          description="Experiment names; omitted means all experiments")
    order_by: StrOrList | None = Field(default=None, examples=["metrics.val_acc.max DESC"])
    columns: StrOrList | None = Field(default=None, examples=[["name", "params.lr", "metrics.val_acc.max"]])
    limit: int = Field(default=100, ge=1, le=tracking_limits.SEARCH_PAGE_MAX)
    cursor: str | None = None

    _experiments = field_validator("experiments")(validate_experiment_names)


class SearchPage(BaseModel):
    rows: list[dict]
    next_cursor: str | None = None


class TableRequest(SearchRequest):
    format: Literal["json", "csv"] = "json"
    metric_stats: list[str] | None = Field(default=None, description="Statistics shown per metric when no columns are given")
    column_names: Literal["skytune", "sagemaker"] = Field(
        default="skytune", description="`sagemaker`: the column names of SageMaker's ExperimentAnalytics frame "
                                       "(TrialComponentName, DisplayName, `lr`, `test:accuracy - Max`, ...)")
    datetimes: Literal["epoch_ms", "iso8601"] = Field(
        default="epoch_ms", description="`iso8601`: timestamp columns as RFC 3339 UTC strings (pandas reads them as datetimes)")


class ColumnsRequest(_Input):
    experiments: list[str] | None = Field(default=None, max_length=tracking_limits.SEARCH_EXPERIMENTS_MAX,
                                          description="Experiment names; omitted means all experiments")
    metric_stats: list[str] | None = Field(default=None, description="Statistics listed per metric "
                                           "(default: those of a search row without columns)")

    _experiments = field_validator("experiments")(validate_experiment_names)


class ColumnsResult(BaseModel):
    columns: list[str] = Field(description="Column keys in the order of a search row without `columns`: "
                                           "attributes, params, metric statistics, tags")


class GroupByRequest(_Input):
    filter: str | None = Field(default=None, max_length=tracking_limits.FILTER_MAX_LENGTH)
    experiments: list[str] | None = Field(default=None, max_length=tracking_limits.SEARCH_EXPERIMENTS_MAX)
    group_by: StrOrList = Field(examples=["params.lr"])
    aggregates: StrOrList = Field(default="count()", examples=["mean(metrics.val_acc.max), std(metrics.val_acc.max), count()"])

    _experiments = field_validator("experiments")(validate_experiment_names)


class GroupByResult(BaseModel):
    groups: list[dict]
