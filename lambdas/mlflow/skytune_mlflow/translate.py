"""MLflow shapes <-> skytune records: pure functions, no I/O.

Identity mapping (documented in README "MLflow compatibility"):
- experiment_id is the skytune experiment name; MLflow's default experiment "0" is the skytune
  experiment `Default`.
- run_id is the skytune run id. MLflow run names need not be unique, so a run's MLflow name is
  its `display_name` tag (the SDK's display name); the skytune run name is the run id.
- Params arrive as strings. A string that is exactly how Python writes an int, a float or a bool
  ("3", "0.01", "True") is stored as that number or bool, so skytune's search compares it
  numerically; it is written back identically, so MLflow sees the string it logged.
- Statuses: RUNNING/SCHEDULED <-> InProgress, FINISHED <-> Completed, FAILED <-> Failed,
  KILLED <-> Stopped. Times are epoch milliseconds.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from skytune import limits

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT = "Default"
DISPLAY_NAME_TAG = "display_name"
RUN_NAME_TAG = "mlflow.runName"

STATUS_TO_SKYTUNE = {"RUNNING": "InProgress", "SCHEDULED": "InProgress", "FINISHED": "Completed",
                     "FAILED": "Failed", "KILLED": "Stopped"}
STATUS_TO_MLFLOW = {"InProgress": "RUNNING", "Completed": "FINISHED", "Failed": "FAILED", "Stopped": "KILLED"}


class Unsupported(ValueError):
    """A request skytune cannot honour (answered INVALID_PARAMETER_VALUE, naming what to do)."""


def experiment_name(experiment_id: str) -> str:
    return DEFAULT_EXPERIMENT if str(experiment_id) == DEFAULT_EXPERIMENT_ID else str(experiment_id)


def experiment_id(name: str) -> str:
    return DEFAULT_EXPERIMENT_ID if name == DEFAULT_EXPERIMENT else name


def millis(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def from_millis(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)


# -- params: strings in MLflow, typed in skytune --------------------------------------------------
_INT = re.compile(r"^-?(0|[1-9][0-9]*)$")


def param_to_skytune(text: str) -> bool | int | float | str:
    """The typed value of an MLflow param string, only where writing it back gives the same string."""
    text = str(text)
    if text in ("True", "False"):
        return text == "True"
    if _INT.match(text) and len(text.lstrip("-")) <= 38 and str(int(text)) == text:
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return text
    if repr(number) == text and number == number and abs(number) != float("inf") and (
            text == "0.0" or 1e-130 <= abs(number) < 1e126):  # -0.0 would come back as 0.0
        return number
    return text


def param_to_mlflow(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return repr(value)
    return str(value)


# -- tags ----------------------------------------------------------------------------------------
def tag_to_skytune(key: str, value: str) -> tuple[str, str]:
    """mlflow.runName is the display name; values longer than skytune's limit are cut (MLflow's
    own system tags, such as a long source path, must not fail a run)."""
    if key == RUN_NAME_TAG:
        key = DISPLAY_NAME_TAG
    value = "" if value is None else str(value)
    return key, value[: limits.TAG_VALUE_MAX_LENGTH]


def tags_to_skytune(tags: list[dict] | None) -> dict[str, str]:
    return dict(tag_to_skytune(t["key"], t.get("value", "")) for t in tags or [])


def tag_list(tags: dict[str, str]) -> list[dict]:
    return [{"key": key, "value": value} for key, value in tags.items()]


# -- records ------------------------------------------------------------------------------------
def experiment_to_mlflow(experiment: dict) -> dict:
    return {
        "experiment_id": experiment_id(experiment["name"]),
        "name": experiment["name"],
        "artifact_location": f"mlflow-artifacts:/{experiment['name']}",
        "lifecycle_stage": "active",
        "creation_time": millis(_datetime(experiment.get("created_at"))),
        "last_update_time": millis(_datetime(experiment.get("updated_at"))),
        "tags": tag_list(experiment.get("tags") or {}),
    }


def run_info(run: dict) -> dict:
    tags = run.get("tags") or {}
    return {
        "run_id": run["run_id"],
        "run_uuid": run["run_id"],
        "run_name": tags.get(DISPLAY_NAME_TAG, run["name"]),
        "experiment_id": experiment_id(run["experiment"]),
        "user_id": tags.get("mlflow.user", ""),
        "status": STATUS_TO_MLFLOW.get(run["status"], "RUNNING"),
        "start_time": millis(_datetime(run.get("start_time"))),
        "end_time": millis(_datetime(run.get("end_time"))),
        "artifact_uri": f"mlflow-artifacts:/{run['experiment']}/{run['run_id']}/artifacts",
        "lifecycle_stage": "active",
    }


def run_to_mlflow(run: dict) -> dict:
    """MLflow's Run: info, data (latest metric values, params and tags as key/value lists), inputs."""
    tags = dict(run.get("tags") or {})
    if DISPLAY_NAME_TAG in tags:
        tags[RUN_NAME_TAG] = tags[DISPLAY_NAME_TAG]
    metrics = []
    for name, summary in (run.get("metrics") or {}).items():
        if summary.get("last") is None:
            continue
        metrics.append({"key": name, "value": summary["last"], "timestamp": summary.get("last_timestamp") or 0,
                        "step": summary.get("last_step") or 0})
    info = {k: v for k, v in run_info(run).items() if v is not None}
    return {
        "info": info,
        "data": {
            "metrics": metrics,
            "params": [{"key": k, "value": param_to_mlflow(v)} for k, v in (run.get("params") or {}).items()],
            "tags": tag_list(tags),
        },
        "inputs": {},
    }


def metric_to_skytune(metric: dict) -> dict:
    """An MLflow Metric {key, value, timestamp, step} as a skytune point (step defaults to 0)."""
    value = metric.get("value")
    if isinstance(value, str):  # protobuf JSON writes NaN and infinity as strings
        value = float(value)
    return {"name": metric["key"], "value": value, "timestamp": int(metric.get("timestamp") or 0),
            "step": int(metric.get("step") or 0)}


def history_point(metric: str, point: dict) -> dict:
    return {"key": metric, "value": point["value"], "timestamp": point["timestamp_ms"], "step": point["step"]}


def _datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


# -- search: MLflow's filter and order_by in skytune's language -----------------------------------
_STRING = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
_TOKENS = re.compile(rf"({_STRING})|(`(?:[^`]|``)*`)|([^'\"`]+)")
_ATTRIBUTES = {"start_time": "started", "end_time": "ended", "run_id": "run_id", "run_name": f"tags.{DISPLAY_NAME_TAG}",
               "status": "status", "created": "created"}
_PARAM_COMPARISON = re.compile(
    rf"(params?\.(?:`(?:[^`]|``)*`|[A-Za-z_][\w\-]*)\s*(?:=|!=|<>|<=|>=|<|>)\s*)({_STRING})")
_STATUS_COMPARISON = re.compile(rf"(\bstatus\s*(?:=|!=|<>)\s*)({_STRING})", re.IGNORECASE)
_STATUS_IN = re.compile(r"(\bstatus\s+(?:NOT\s+)?IN\s*\()([^)]*)(\))", re.IGNORECASE)


def filter_to_skytune(text: str | None) -> str | None:
    """MLflow's search filter in skytune's language, which is nearly a superset: prefixes
    `attributes.`/`tags.`/`params.`/`metrics.` mean the same; dotted tag keys (`tags.mlflow.user`)
    get backquotes; MLflow statuses and attribute names are renamed; a param compared with a string
    literal is compared with the typed value that string is stored as."""
    if not text or not text.strip():
        return None
    text = _quote_dotted_keys(text)
    text = re.sub(r"\b(?:attributes|attribute|attr)\.(\w+)", lambda m: _ATTRIBUTES.get(m.group(1), m.group(1)), text)
    text = re.sub(r"\btags\.`mlflow\.runName`", f"tags.{DISPLAY_NAME_TAG}", text)
    text = re.sub(r"\brun_name\b(?=\s*(=|!=|<>|LIKE|ILIKE|IN|NOT))", f"tags.{DISPLAY_NAME_TAG}", text, flags=re.IGNORECASE)
    text = _STATUS_COMPARISON.sub(lambda m: m.group(1) + _status_literal(m.group(2)), text)
    text = _STATUS_IN.sub(lambda m: m.group(1) + re.sub(_STRING, lambda s: _status_literal(s.group(0)), m.group(2)) + m.group(3), text)
    return _PARAM_COMPARISON.sub(lambda m: m.group(1) + _param_literal(m.group(2)), text)


def _quote_dotted_keys(text: str) -> str:
    out = []
    for string, quoted, plain in _TOKENS.findall(text):
        if plain:
            plain = re.sub(r"\b(tags|params|metrics)\.([A-Za-z_][\w\-]*(?:\.[A-Za-z_][\w\-]*)+)",
                           lambda m: _dotted(m.group(1), m.group(2)), plain)
        out.append(string or quoted or plain)
    return "".join(out)


def _dotted(prefix: str, key: str) -> str:
    if prefix == "metrics":  # metrics.loss.max is a statistic in skytune; metric names with dots need backquotes
        return f"{prefix}.{key}"
    return f"{prefix}.`{key}`"


def _unquote(literal: str) -> str:
    return literal[1:-1].replace("\\'", "'").replace('\\"', '"')


def _status_literal(literal: str) -> str:
    value = _unquote(literal)
    return "'" + STATUS_TO_SKYTUNE.get(value.upper(), value) + "'"


def _param_literal(literal: str) -> str:
    value = param_to_skytune(_unquote(literal))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return literal


def order_to_skytune(order_by: list[str] | None) -> list[str]:
    """MLflow's order_by clauses; MLflow's default order is start time, newest first."""
    if not order_by:
        return ["started DESC"]
    return [filter_to_skytune(clause) or clause for clause in order_by]
