"""MLflow tracking REST routes (`/api/2.0/mlflow/...` and the UI's `/ajax-api/2.0/mlflow/...`),
each a translation onto skytune's core. Request and response shapes follow MLflow's
`mlflow/protos/service.proto` as its REST client sends and parses them; errors are MLflow's
`{"error_code", "message"}` with MLflow's HTTP statuses; artifacts go through MLflow's proxied
artifact routes (`mlflow-artifacts:` URIs, stored by `artifacts.py`). Endpoints not served here (model
registry, logged models, traces) answer ENDPOINT_NOT_FOUND, as an MLflow server
without that feature does.

Built without side effects so tests can import it; `handler.py` adds observability.
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from pydantic import ValidationError

from skytune.errors import Conflict, NotFound, SkytuneError
from skytune_mlflow import translate
from skytune_mlflow.context import index, metric_store, repository

logger = Logger(child=True)
PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
STATUS_OF = {"RESOURCE_DOES_NOT_EXIST": 404, "ENDPOINT_NOT_FOUND": 404, "INVALID_PARAMETER_VALUE": 400,
             "RESOURCE_ALREADY_EXISTS": 400, "INTERNAL_ERROR": 500}

app = APIGatewayHttpResolver()


class MlflowError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def endpoint(path: str, *methods: str) -> Callable:
    def register(function: Callable) -> Callable:
        for prefix in PREFIXES:
            app.route(prefix + path, list(methods))(function)
        return function

    return register


def error_response(code: str, message: str) -> Response:
    return Response(status_code=STATUS_OF.get(code, 400), content_type=content_types.APPLICATION_JSON,
                    body=json.dumps({"error_code": code, "message": message}))


@app.exception_handler(MlflowError)
def _mlflow_error(error: MlflowError) -> Response:
    return error_response(error.code, error.message)


@app.exception_handler(SkytuneError)
def _skytune_error(error: SkytuneError) -> Response:
    if error.status == 404:
        return error_response("RESOURCE_DOES_NOT_EXIST", error.message)
    return error_response("INVALID_PARAMETER_VALUE", error.message)  # MLflow answers 400 for conflicts too


@app.exception_handler(ValidationError)
def _validation_error(error: ValidationError) -> Response:
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:5])
    return error_response("INVALID_PARAMETER_VALUE", problems)


@app.exception_handler(translate.Unsupported)
def _unsupported(error: translate.Unsupported) -> Response:
    return error_response("INVALID_PARAMETER_VALUE", str(error))


@app.not_found
def _not_found(_error: NotFoundError) -> Response:
    event = app.current_event
    return error_response("ENDPOINT_NOT_FOUND",
                          f"skytune does not serve {event.http_method} {event.path} (see README: MLflow compatibility)")


# -- request helpers ---------------------------------------------------------------------------
def body() -> dict[str, Any]:
    event = app.current_event
    if event.http_method == "GET":
        return dict(event.query_string_parameters or {})
    if not event.body:
        return {}
    try:
        parsed = json.loads(event.decoded_body)
    except json.JSONDecodeError as error:
        raise MlflowError("INVALID_PARAMETER_VALUE", f"the body is not JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise MlflowError("INVALID_PARAMETER_VALUE", "the body must be a JSON object")
    return parsed


def required(request: dict, *names: str) -> Any:
    for name in names:
        if request.get(name) not in (None, ""):
            return request[name]
    raise MlflowError("INVALID_PARAMETER_VALUE", f"Missing value for required parameter '{names[0]}'.")


def run_id_of(request: dict) -> str:
    return str(required(request, "run_id", "run_uuid"))


# -- experiments -------------------------------------------------------------------------------
def _experiment(name: str, create_default: bool = True) -> dict:
    from skytune.tracking import experiments
    from skytune.tracking.records import ExperimentInput

    repo = repository()
    found = repo.get_experiment(name)
    if found is None and create_default and name == translate.DEFAULT_EXPERIMENT:
        try:
            found = experiments.create_experiment(repo, ExperimentInput(name=name, description="MLflow's default experiment"))
        except Conflict:
            found = repo.get_experiment(name)
    if found is None:
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"Could not find experiment with name '{name}'")
    return found.model_dump()


@endpoint("/experiments/create", "POST")
def create_experiment() -> dict:
    from skytune.tracking import experiments
    from skytune.tracking.records import ExperimentInput

    request = body()
    name = str(required(request, "name"))
    tags = {t["key"]: str(t.get("value", "")) for t in request.get("tags") or []}
    try:
        created = experiments.create_experiment(repository(), ExperimentInput(name=name, tags=tags))
    except Conflict:
        raise MlflowError("RESOURCE_ALREADY_EXISTS", f"Experiment '{name}' already exists.") from None
    return {"experiment_id": translate.experiment_id(created.name)}


@endpoint("/experiments/get", "GET")
def get_experiment() -> dict:
    name = translate.experiment_name(required(body(), "experiment_id"))
    try:
        return {"experiment": translate.experiment_to_mlflow(_experiment(name))}
    except MlflowError:
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"No Experiment with id={name} exists") from None


@endpoint("/experiments/get-by-name", "GET")
def get_experiment_by_name() -> dict:
    name = str(required(body(), "experiment_name"))
    return {"experiment": translate.experiment_to_mlflow(_experiment(name))}


_NAME_FILTER = re.compile(r"^\s*(?:attributes\.)?name\s*(=|LIKE|ILIKE)\s*'([^']*)'\s*$", re.IGNORECASE)


@endpoint("/experiments/search", "POST", "GET")
def search_experiments() -> dict:
    request = body()
    limit = int(request.get("max_results") or 1000)
    match = None
    if request.get("filter"):
        match = _NAME_FILTER.match(request["filter"])
        if match is None:
            raise translate.Unsupported("skytune's experiment search filters by `name = '...'` or `name LIKE '...'` only")
    if str(request.get("view_type", "ACTIVE_ONLY")) in ("DELETED_ONLY", "2"):
        return {"experiments": []}
    _experiment(translate.DEFAULT_EXPERIMENT)  # MLflow always has its default experiment
    if match is not None and match.group(1) == "=":  # one name: a lookup, not a filtered page
        found_one = repository().get_experiment(match.group(2))
        return {"experiments": [translate.experiment_to_mlflow(found_one.model_dump())] if found_one else []}
    found, cursor = repository().list_experiments(min(limit, 1000), request.get("page_token"))
    rows = [e.model_dump() for e in found]
    if match is not None:
        op, pattern = match.group(1).upper(), match.group(2)
        if op == "=":
            rows = [r for r in rows if r["name"] == pattern]
        else:
            regex = "^" + re.escape(pattern).replace("%", ".*").replace("_", ".") + "$"
            flags = re.IGNORECASE if op == "ILIKE" else 0
            rows = [r for r in rows if re.match(regex, r["name"], flags)]
    answer: dict[str, Any] = {"experiments": [translate.experiment_to_mlflow(r) for r in rows]}
    if cursor:
        answer["next_page_token"] = cursor
    return answer


@endpoint("/experiments/update", "POST")
def update_experiment() -> dict:
    request = body()
    name = translate.experiment_name(required(request, "experiment_id"))
    _experiment(name)
    if request.get("new_name") not in (None, name):
        raise translate.Unsupported("skytune experiments are named for good: the name is the experiment's id")
    return {}


@endpoint("/experiments/delete", "POST")
def delete_experiment() -> dict:
    from skytune.tracking import experiments

    name = translate.experiment_name(required(body(), "experiment_id"))
    experiments.delete_experiment(repository(), name, cascade=True)
    return {}


@endpoint("/experiments/set-experiment-tag", "POST")
def set_experiment_tag() -> dict:
    from skytune.tracking import experiments
    from skytune.tracking.records import ExperimentUpdate

    request = body()
    name = translate.experiment_name(required(request, "experiment_id"))
    key = str(required(request, "key"))
    experiments.update_experiment(repository(), name, ExperimentUpdate(tags={key: str(request.get("value", ""))}))
    return {}


# -- runs --------------------------------------------------------------------------------------
def _run(run_id: str) -> dict:
    from skytune.tracking import runs

    return runs.get_run(repository(), run_id).model_dump()


@endpoint("/runs/create", "POST")
def create_run() -> dict:
    from skytune.tracking import runs
    from skytune.tracking.records import RunInput

    request = body()
    name = translate.experiment_name(request.get("experiment_id") or translate.DEFAULT_EXPERIMENT_ID)
    _experiment(name)
    tags = translate.tags_to_skytune(request.get("tags"))
    if request.get("run_name"):
        tags[translate.DISPLAY_NAME_TAG] = translate.tag_to_skytune(translate.DISPLAY_NAME_TAG, request["run_name"])[1]
    if request.get("user_id"):
        tags.setdefault("mlflow.user", str(request["user_id"]))
    start = translate.from_millis(request.get("start_time"))
    run = runs.create_run(repository(), RunInput(experiment=name, tags=tags,
                                                 start_time=start.isoformat() if start else None))
    return {"run": translate.run_to_mlflow(run.model_dump())}


@endpoint("/runs/get", "GET")
def get_run() -> dict:
    return {"run": translate.run_to_mlflow(_run(run_id_of(body())))}


@endpoint("/runs/update", "POST")
def update_run() -> dict:
    from skytune.tracking import runs
    from skytune.tracking.records import RunUpdate

    request = body()
    changes: dict[str, Any] = {}
    if request.get("status"):
        status = translate.STATUS_TO_SKYTUNE.get(str(request["status"]))
        if status is None:
            raise MlflowError("INVALID_PARAMETER_VALUE", f"unknown run status {request['status']!r}")
        changes["status"] = status
    if request.get("end_time") not in (None, ""):
        changes["end_time"] = translate.from_millis(request["end_time"]).isoformat()
    if request.get("run_name"):
        changes["tags"] = {translate.DISPLAY_NAME_TAG: translate.tag_to_skytune(translate.DISPLAY_NAME_TAG, request["run_name"])[1]}
    run = runs.update_run(repository(), run_id_of(request), RunUpdate(**changes))
    return {"run_info": translate.run_info(run.model_dump())}


@endpoint("/runs/delete", "POST")
def delete_run() -> dict:
    from skytune.tracking import runs

    runs.delete_run(repository(), run_id_of(body()), cascade=True)
    return {}


def _log(run_id: str, metrics: list[dict] = (), params: dict | None = None, tags: dict | None = None) -> None:
    from skytune.tracking import runs
    from skytune.tracking.records import LogBatch

    batch = LogBatch(metrics=list(metrics), params=params or {}, tags=tags or {})
    runs.get_run(repository(), run_id)  # RESOURCE_DOES_NOT_EXIST before anything else
    runs.log_batch(repository(), metric_store(), run_id, batch)


@endpoint("/runs/log-parameter", "POST")
def log_parameter() -> dict:
    request = body()
    key = str(required(request, "key"))
    _log(run_id_of(request), params={key: translate.param_to_skytune(request.get("value", ""))})
    return {}


@endpoint("/runs/log-metric", "POST")
def log_metric() -> dict:
    request = body()
    required(request, "key")
    _log(run_id_of(request), metrics=[translate.metric_to_skytune(request)])
    return {}


@endpoint("/runs/set-tag", "POST")
def set_tag() -> dict:
    request = body()
    key, value = translate.tag_to_skytune(str(required(request, "key")), request.get("value", ""))
    _log(run_id_of(request), tags={key: value})
    return {}


@endpoint("/runs/delete-tag", "POST")
def delete_tag() -> dict:
    from skytune.tracking import runs
    from skytune.tracking.records import RunUpdate

    request = body()
    key = translate.tag_to_skytune(str(required(request, "key")), "")[0]
    run_id = run_id_of(request)
    if key not in (_run(run_id).get("tags") or {}):
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"No tag with name: {key} in run with id {run_id}")
    runs.update_run(repository(), run_id, RunUpdate(tags={key: None}))
    return {}


@endpoint("/runs/log-batch", "POST")
def log_batch() -> dict:
    request = body()
    params = {p["key"]: translate.param_to_skytune(p.get("value", "")) for p in request.get("params") or []}
    tags = translate.tags_to_skytune(request.get("tags"))
    metrics = [translate.metric_to_skytune(m) for m in request.get("metrics") or []]
    _log(run_id_of(request), metrics=metrics, params=params, tags=tags)
    return {}


@endpoint("/runs/log-inputs", "POST")
def log_inputs() -> dict:
    """Datasets become the run's inputs (name, `mlflow-dataset:` URI with the digest), so
    skytune's lineage finds every run that used the same data."""
    from skytune.tracking import runs
    from skytune.tracking.records import Artifact, RunUpdate

    request = body()
    run_id = run_id_of(request)
    current = [Artifact(**a) for a in _run(run_id).get("inputs") or []]
    names = {a.name for a in current}
    for item in request.get("datasets") or []:
        dataset = item.get("dataset") or {}
        digest = str(dataset.get("digest") or "")
        name = re.sub(r"[^A-Za-z0-9_\-./: ]", "_", str(dataset.get("name") or "dataset")).strip() or "dataset"
        name = f"{name}-{digest}"[:120] if digest else name[:120]
        if name in names:
            continue
        names.add(name)
        current.append(Artifact(name=name, uri=f"mlflow-dataset:{dataset.get('source_type', 'unknown')}:{digest or name}",
                                media_type="application/vnd.mlflow.dataset", digest=digest or None))
    runs.update_run(repository(), run_id, RunUpdate(inputs=current))
    return {}


@endpoint("/runs/search", "POST", "GET")
def search_runs() -> dict:
    from skytune.tracking import run_search
    from skytune.tracking.records import SearchRequest

    request = body()
    experiment_ids = request.get("experiment_ids") or []
    if isinstance(experiment_ids, str):
        experiment_ids = experiment_ids.split(",")
    if str(request.get("run_view_type", "ACTIVE_ONLY")) in ("DELETED_ONLY", "2"):
        return {"runs": []}  # skytune deletes runs for good
    names = [translate.experiment_name(e) for e in experiment_ids]
    repo = repository()
    names = [n for n in names if repo.get_experiment(n) is not None]  # MLflow: unknown ids match nothing
    if not names:
        return {"runs": []}
    order_by = request.get("order_by") or []
    search = SearchRequest(filter=translate.filter_to_skytune(request.get("filter")), experiments=names,
                           order_by=translate.order_to_skytune([order_by] if isinstance(order_by, str) else order_by),
                           columns=["run_id"], limit=min(int(request.get("max_results") or 1000), 1000),
                           cursor=request.get("page_token") or None)
    rows, _runs, cursor = run_search.search(repo, metric_store(), search, index())
    found = repo.get_runs([row["run_id"] for row in rows])
    answer: dict[str, Any] = {"runs": [translate.run_to_mlflow(run.model_dump()) for run in found]}
    if cursor:
        answer["next_page_token"] = cursor
    return answer


@endpoint("/metrics/get-history", "GET")
def get_metric_history() -> dict:
    from skytune.tracking import runs

    request = body()
    run_id, key = run_id_of(request), str(required(request, "metric_key"))
    run = _run(run_id)
    if key not in (run.get("metrics") or {}):
        return {"metrics": []}
    points = runs.read_series(repository(), metric_store(), run_id, key, None, None, None)
    return {"metrics": [translate.history_point(key, p) for p in points]}


@endpoint("/logged-models/search", "POST")
def search_logged_models() -> dict:
    """skytune keeps no logged models (creating one is ENDPOINT_NOT_FOUND), so none match; MLflow
    3's `list_artifacts` searches them before listing a run's artifacts."""
    return {"models": []}


# -- proxied artifacts (MLflow's `mlflow-artifacts:` scheme) -----------------------------------
ARTIFACT_PREFIXES = ("/api/2.0/mlflow-artifacts/artifacts", "/ajax-api/2.0/mlflow-artifacts/artifacts")


def _artifact_key(path: str) -> str:
    """`<experiment>/<run id>/artifacts/...` of a run that exists (the run's artifact_uri)."""
    from skytune_mlflow.artifacts import BadPath, checked_key

    try:
        key = checked_key(path)
    except BadPath as error:
        raise MlflowError("INVALID_PARAMETER_VALUE", str(error)) from None
    parts = key.split("/")
    if len(parts) < 3 or parts[2] != "artifacts":
        raise MlflowError("INVALID_PARAMETER_VALUE", f"artifact path {key!r} is not inside a run's artifact_uri")
    run = repository().get_run(parts[1])
    if run is None or run.experiment != parts[0]:
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"no run {parts[1]!r} in experiment {parts[0]!r}")
    return key


def _path_after_prefix() -> str:
    from urllib.parse import unquote

    path = app.current_event.path
    prefix = next(p for p in ARTIFACT_PREFIXES if path.startswith(p + "/"))
    return unquote(path[len(prefix) + 1:])


def _upload() -> dict:
    import base64

    from skytune_mlflow.artifacts import artifact_store

    key = _artifact_key(_path_after_prefix())
    event = app.current_event
    data = base64.b64decode(event.body) if event.is_base64_encoded else (event.body or "").encode()
    artifact_store().put(key, data)
    return {}


def _download() -> Response:
    from skytune_mlflow.artifacts import artifact_store

    key = _artifact_key(_path_after_prefix())
    data = artifact_store().get(key)
    if data is None:
        raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"no artifact at {key!r}")
    return Response(status_code=200, content_type="application/octet-stream", body=data)


def _list() -> dict:
    from skytune_mlflow.artifacts import artifact_store

    path = (app.current_event.query_string_parameters or {}).get("path") or ""
    if path.strip("/").count("/") < 2:
        raise MlflowError("INVALID_PARAMETER_VALUE", "list a run's artifacts: path=<experiment>/<run id>/artifacts[/...]")
    key = _artifact_key(path)
    return {"files": artifact_store().list(key)}


for _prefix in ARTIFACT_PREFIXES:
    # a raw regex rule: the path holds slashes, which powertools' <name> parameters do not match
    app.route(_prefix + "/.+", ["PUT"])(_upload)
    app.route(_prefix + "/.+", ["GET"])(_download)
    app.route(_prefix, ["GET"])(_list)
