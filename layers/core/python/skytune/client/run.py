"""`skytune.Run`: log params, tags and metrics of one run, buffered and sent in the background.

    with skytune.Run(experiment="mnist", name="lr-0.01") as run:
        run.log_params({"lr": 0.01, "layers": 4})
        for step in range(100):
            run.log_metric("loss", loss, step=step)

Calls only append to a buffer; a background thread sends it as log-batch requests (at most 1,000
points, 100 params, 100 tags and ~1 MB each) every `flush_interval` seconds or as soon as a full
batch is waiting. Requests are retried with backoff (see `Client`), and every retry is idempotent:
each point carries the timestamp taken when it was logged, so a resent batch is recognised by the
server. The run is created with a client token, so a retried create answers the same run. Leaving
the `with` block flushes everything and marks the run Completed (Failed if an exception escaped,
Stopped on Ctrl-C).

Nothing logged is lost when the process ends without closing the run:
- at interpreter exit (end of script, `sys.exit`, an uncaught exception) every open run is flushed
  and ended: Completed, or Failed after an uncaught exception, or Stopped after Ctrl-C;
- on SIGTERM (what SageMaker, ECS, Kubernetes and `kill` send on stop) open runs are flushed and
  marked Stopped, then the previous handler runs (the default one ends the process as before);
- flushing at exit is bounded by `SKYTUNE_EXIT_FLUSH_SECONDS` (default 10 s); whatever could not
  be sent by then is reported on stderr. SIGKILL cannot be caught: such a run stays InProgress.

Every value is checked when it is logged (names, finiteness, types, write-once params), so a bad
value raises at the call that logged it, naming the rule. Should the server still refuse part of a
batch, the batch is split until the refused entries are isolated: the good ones are stored, the
error is raised by the next call to the run (or by `flush`/`finish`).

Numbers: Python numbers and numpy scalars (`np.int64`, `np.float32`, `np.bool_`, 0-d arrays) are
accepted wherever a number is. Params are numbers, strings or bools; `None`, lists and dicts are
refused with a TypeError saying how to encode them (a string, or one param per element).

Resume: `Run(run_id=...)` continues an existing run; `Run(experiment=, name=, resume=True)`
continues the run of that name, or creates it. A finished run resumed is InProgress again.

Display names: `display_name="Training"` is stored as the tag `display_name` and need not be unique
(SageMaker trial components share display names); `name` stays the unique handle (the run id when
omitted).

Artifacts: `log_artifact(path)`, `log_artifacts(dir)`, `log_text`, `log_dict`, `log_figure` upload
synchronously through presigned URLs the API issues (straight to S3 when deployed, to the local
server under `skytune local`): one PUT up to 8 MiB, else a parallel, resumable multipart upload
(`skytune.client.artifacts`). The API checks size and SHA-256 and records each file as an output
of the run (name, `mlflow-artifacts:` URI, size, `sha256:` digest); `download_artifact` fetches one
and checks both.

`skytune.search(...)` returns every matching run as a list of dicts (`.to_pandas()` when pandas
is installed).
"""
from __future__ import annotations

import atexit
import json
import math
import os
import posixpath
import signal
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from skytune import limits as general_limits
from skytune.client import artifacts
from skytune.client.http import ApiError, Client, ServerUnreachable
from skytune.tracking import limits as tracking_limits

MAX_POINTS = 1000
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_BODY_BYTES = 1024 * 1024
_BODY_BUDGET = MAX_BODY_BYTES - 4096  # room for the JSON envelope
DISPLAY_NAME_TAG = "display_name"
_TERMINAL = {"Completed", "Failed", "Stopped"}


def exit_flush_seconds() -> float:
    return float(os.environ.get("SKYTUNE_EXIT_FLUSH_SECONDS", "10"))


class Run:
    def __init__(self, experiment: str | None = None, name: str | None = None, *, run_id: str | None = None,
                 resume: bool = False, display_name: str | None = None, url: str | None = None,
                 client: Client | None = None, params: Mapping[str, Any] | None = None,
                 tags: Mapping[str, str] | None = None, trials: Sequence[str] = (), parent: str | None = None,
                 source: str | None = None, flush_interval: float = 2.0, create_experiment: bool = True) -> None:
        if experiment is None and run_id is None:
            raise TypeError("Run() needs experiment= (a new or resumed run) or run_id= (an existing run)")
        if resume and run_id is None and name is None:
            raise TypeError("resume=True needs the name of the run to resume (or pass run_id=)")
        self.experiment = experiment
        self.name = name
        self.client = client or Client(url)
        self.flush_interval = flush_interval
        checked_params = {key: _param_value(key, value) for key, value in (params or {}).items()}
        checked_tags = {key: _tag_value(key, value) for key, value in (tags or {}).items()}
        if display_name is not None:
            checked_tags[DISPLAY_NAME_TAG] = _tag_value(DISPLAY_NAME_TAG, display_name)
        self._create = {"experiment": experiment, "name": name, "trials": list(trials) or None, "parent": parent,
                        "source": source, "params": checked_params or None, "tags": checked_tags or None,
                        "client_token": uuid.uuid4().hex}
        self._create_experiment = create_experiment
        self._resume_id = run_id
        self._resume = resume
        self.run_id: str | None = None
        self._logged_params: dict[str, Any] = dict(checked_params)
        self._points: list[dict] = []
        self._params: dict[str, Any] = {}
        self._tags: dict[str, str] = {}
        self._in_flight = 0
        self._sending: list[dict] = []
        self._error: BaseException | None = None
        self._closing = False
        self._finished = False
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    @property
    def display_name(self) -> str | None:
        return (self._create.get("tags") or {}).get(DISPLAY_NAME_TAG)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "Run":
        if self.run_id is not None:
            return self
        if self._resume_id is not None:
            run = self._resume_run(self.client.get_run(self._resume_id))
        else:
            if self._create_experiment:
                self.client.ensure_experiment(self.experiment)
            try:
                run = self.client.create_run(**self._create)
            except ApiError as error:
                existing = (error.details or {}).get("run_id") if isinstance(error.details, dict) else None
                if not (self._resume and error.status == 409 and existing):
                    raise
                run = self._resume_run(self.client.get_run(existing))
        self.run_id, self.name, self.experiment = run["run_id"], run["name"], run.get("experiment", self.experiment)
        self._thread = threading.Thread(target=self._send_loop, name=f"skytune-run-{self.run_id}", daemon=True)
        self._thread.start()
        _register(self)
        return self

    def _resume_run(self, run: dict) -> dict:
        if self.experiment is not None and run.get("experiment") != self.experiment:
            raise ValueError(f"run {run['run_id']!r} belongs to experiment {run.get('experiment')!r}, "
                             f"not {self.experiment!r}")
        self._logged_params = {**run.get("params", {}), **self._logged_params}
        changes: dict[str, Any] = {}
        if run.get("status") in _TERMINAL:
            changes.update(status="InProgress", end_time=None)
        pending = {k: v for k, v in (self._create.get("tags") or {}).items() if run.get("tags", {}).get(k) != v}
        if pending:
            changes["tags"] = pending
        if changes:
            run = self.client.update_run(run["run_id"], **changes)
        if self._create.get("params"):
            self.client.log_batch(run["run_id"], params=self._create["params"])
        return run

    def __enter__(self) -> "Run":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        status = "Completed"
        if exc_type is not None:
            status = "Stopped" if issubclass(exc_type, KeyboardInterrupt) else "Failed"
        try:
            self.finish(status)
        except Exception:
            if exc_type is None:
                raise  # a failure to flush must not hide the user's own exception

    def finish(self, status: str = "Completed", timeout: float | None = None) -> None:
        """Flushes (for at most `timeout` seconds), stops the sender and sets the run's status,
        which stamps its end time. The status is set even when flushing failed; the flush error
        is raised afterwards. A second call does nothing."""
        if self.run_id is None or self._finished:
            return
        self._finished = True
        _unregister(self)
        deadline = None if timeout is None else time.monotonic() + timeout
        failure: BaseException | None = None
        try:
            self.flush(timeout)
        except BaseException as error:  # noqa: BLE001 - raised after the status is set
            failure = error
        finally:
            with self._condition:
                self._closing = True
                self._condition.notify_all()
            if self._thread is not None:
                self._thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            self._thread = None
        # the status update gets a few seconds of its own even when the flush used up the budget
        status_deadline = None if deadline is None else max(deadline, time.monotonic() + 3.0)
        self.client.request("PATCH", f"/v1/runs/{quote(self.run_id, safe='')}", {"status": status},
                            deadline=status_deadline)
        if failure is not None:
            raise failure

    end = finish

    def pending(self) -> int:
        """Entries (points, params, tags) logged but not yet acknowledged by the server."""
        with self._condition:
            return len(self._points) + len(self._params) + len(self._tags) + sum(
                len(b["metrics"]) + len(b["params"]) + len(b["tags"]) for b in self._sending)

    # -- logging -----------------------------------------------------------------------------
    def log_metric(self, name: str, value: float, step: int | None = None, timestamp: datetime | float | None = None) -> None:
        """`step` None: the server numbers the metric's points in the order it receives them.
        `timestamp`: a datetime or epoch seconds; default now."""
        _check_key(name, "metric name", tracking_limits.METRIC_NAME_MAX_LENGTH)
        number = _number(value, f"metric {name!r}")
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise TypeError(f"metric {name!r}: {type(value).__name__} is not a number")
        number = float(number)
        if not math.isfinite(number):
            raise ValueError(f"metric {name!r}: {value!r} is not finite (the API refuses NaN and infinity)")
        if step is not None:
            step = _number(step, f"metric {name!r}: step")
            if not isinstance(step, int) or isinstance(step, bool) or step < 0:
                raise ValueError(f"metric {name!r}: step must be a non-negative int, not {step!r}")
        point = {"name": name, "value": number, "timestamp": _epoch_ms(timestamp)}
        if step is not None:
            point["step"] = step
        self._add(points=[point])

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        stamp = _epoch_ms(None)
        for name, value in metrics.items():  # check all before buffering any
            _check_key(name, "metric name", tracking_limits.METRIC_NAME_MAX_LENGTH)
            _number(value, f"metric {name!r}")
        for name, value in metrics.items():
            self.log_metric(name, value, step=step, timestamp=stamp / 1000)

    def log_param(self, name: str, value: bool | int | float | str) -> None:
        self.log_params({name: value})

    def log_params(self, params: Mapping[str, bool | int | float | str]) -> None:
        checked = {name: _param_value(name, value) for name, value in params.items()}
        for name, value in checked.items():
            if name in self._logged_params and not _same_value(self._logged_params[name], value):
                raise ValueError(f"param {name!r} is already {self._logged_params[name]!r}; params are write-once "
                                 "(log a new name, or a metric for values that change)")
        self._add(params=checked)
        self._logged_params.update(checked)

    def set_tag(self, key: str, value: str) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self._add(tags={key: _tag_value(key, value) for key, value in tags.items()})

    def flush(self, timeout: float | None = None) -> None:
        """Blocks until everything logged so far is stored; raises the first send error, or
        TimeoutError (naming how much is still pending) after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            self._condition.notify_all()
            while (self._points or self._params or self._tags or self._in_flight) and self._error is None:
                if self._thread is None or not self._thread.is_alive():
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    points = len(self._points) + sum(len(b["metrics"]) for b in self._sending)
                    params = len(self._params) + sum(len(b["params"]) for b in self._sending)
                    tags = len(self._tags) + sum(len(b["tags"]) for b in self._sending)
                    raise TimeoutError(f"run {self.run_id}: {points} metric points, {params} params and {tags} "
                                       f"tags not acknowledged within {timeout} s")
                self._condition.wait(min(remaining, 1.0) if remaining is not None else 1.0)
            self._raise_error()

    # -- artifacts ---------------------------------------------------------------------------
    def log_artifact(self, local_path: str | os.PathLike, artifact_path: str | None = None) -> dict:
        """Uploads a file (synchronously, through presigned URLs; multipart and resumable when large:
        `skytune.client.artifacts`) and answers its output record on the run: name (its path
        under the run's artifacts), URI, size and `sha256:` digest."""
        source = Path(local_path)
        name = posixpath.join(artifact_path, source.name) if artifact_path else source.name
        return self._upload(artifacts.Source.of_file(source), name, artifacts.media_type_of(source.name))

    def log_artifacts(self, local_dir: str | os.PathLike, artifact_path: str | None = None) -> list[dict]:
        """Every file under `local_dir`, keeping its relative path."""
        root = Path(local_dir)
        recorded = []
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            parts = [p for p in (artifact_path, file.parent.relative_to(root).as_posix()) if p and p != "."]
            recorded.append(self.log_artifact(file, posixpath.join(*parts) if parts else None))
        return recorded

    def log_text(self, text: str, artifact_file: str) -> dict:
        return self._upload(artifacts.Source.of_bytes(text.encode()), artifact_file, "text/plain")

    def log_dict(self, dictionary: Mapping[str, Any], artifact_file: str) -> dict:
        data = json.dumps(dictionary, indent=2, sort_keys=True).encode()
        return self._upload(artifacts.Source.of_bytes(data), artifact_file, "application/json")

    def log_figure(self, figure: Any, artifact_file: str, **savefig_kwargs: Any) -> dict:
        """A matplotlib figure (anything with `savefig(file, format=...)`), saved in the format
        the file's suffix names (png, svg, pdf, ...; default png) and uploaded."""
        if not hasattr(figure, "savefig"):
            raise TypeError(f"log_figure needs a matplotlib Figure (with savefig), not {type(figure).__name__}")
        import io

        suffix = PurePosixPath(artifact_file).suffix.lstrip(".").lower() or "png"
        buffer = io.BytesIO()
        figure.savefig(buffer, format=suffix, **savefig_kwargs)
        return self._upload(artifacts.Source.of_bytes(buffer.getvalue()), artifact_file,
                            artifacts.media_type_of(artifact_file) or "image/png")

    def download_artifact(self, artifact_path: str, dst_path: str | os.PathLike | None = None) -> Path:
        """Fetches one artifact of this run into `dst_path` (a directory; default: the current one),
        keeping its relative path; checks its size and digest against the run's record."""
        if self.run_id is None:
            raise RuntimeError("start the run first")
        parts = PurePosixPath(artifact_path).parts
        if not parts or any(p in ("..", ".", "/") for p in parts):
            raise ValueError(f"artifact path {artifact_path!r} must be relative, without '..'")
        return artifacts.download(self.client, self.run_id, artifact_path, Path(dst_path or ".").joinpath(*parts))

    def _upload(self, source: "artifacts.Source", name: str, media_type: str | None) -> dict:
        if self.run_id is None:
            raise RuntimeError("start the run first (use `with skytune.Run(...) as run:` or run.start())")
        _check_key(name, "artifact path", general_limits.NAME_MAX_LENGTH)
        if name.startswith("/") or any(p in ("", ".", "..") for p in name.split("/")):
            raise ValueError(f"artifact path {name!r} must be relative, without empty, '.' or '..' segments")
        return artifacts.Uploader(self.client, self.run_id).upload(source, name, media_type)

    # -- internals ---------------------------------------------------------------------------
    def _add(self, points: list[dict] = (), params: dict | None = None, tags: dict | None = None) -> None:
        if self.run_id is None:
            raise RuntimeError("start the run first (use `with skytune.Run(...) as run:` or run.start())")
        if self._finished:
            raise RuntimeError(f"run {self.run_id} has ended; resume it with skytune.Run(run_id={self.run_id!r})")
        with self._condition:
            self._raise_error()
            self._points.extend(points)
            self._params.update(params or {})
            self._tags.update(tags or {})
            if len(self._points) >= MAX_POINTS or len(self._params) >= MAX_PARAMS or len(self._tags) >= MAX_TAGS:
                self._condition.notify_all()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _send_loop(self) -> None:
        while True:
            with self._condition:
                if not (self._points or self._params or self._tags) and not self._closing:
                    self._condition.wait(self.flush_interval)
                if not (self._points or self._params or self._tags):
                    if self._closing:
                        return
                    continue
                if self._error is not None:  # stop sending until the user has seen the error
                    self._condition.wait(self.flush_interval)
                    if self._closing:
                        return
                    continue
                batch = take_batch(self._points, self._params, self._tags)
                self._in_flight += 1
                self._sending.append(batch)
            try:
                error = self._send(batch)
            except BaseException as unexpected:  # noqa: BLE001 - handed to the user's thread
                error = unexpected
            with self._condition:
                if error is not None and self._error is None:
                    self._error = error
                self._in_flight -= 1
                self._sending.remove(batch)
                self._condition.notify_all()

    def _send(self, batch: dict) -> BaseException | None:
        """Sends one batch. A batch the server could not take (unreachable, 5xx after retries)
        goes back to the front of the buffer, to be resent; a refused one (4xx) is split until
        the refused entries are isolated, so the good ones are stored. Returns the first error."""
        try:
            self.client.log_batch(self.run_id, **batch)
            return None
        except ApiError as error:
            if error.status >= 500 or error.status == 429:
                self._requeue(batch)
                return error
            halves = _split(batch)
            if not halves:
                return error
            errors = [self._send(half) for half in halves]
            return next((e for e in errors if e is not None), None)
        except ServerUnreachable as error:
            self._requeue(batch)
            return error

    def _requeue(self, batch: dict) -> None:
        with self._condition:
            self._points[:0] = batch["metrics"]
            self._params = {**batch["params"], **self._params}
            self._tags = {**batch["tags"], **self._tags}


def _split(batch: dict) -> list[dict]:
    """Two smaller batches holding the entries of `batch`, or [] when it holds a single entry."""
    parts = [("metrics", batch["metrics"]), ("params", batch["params"]), ("tags", batch["tags"])]
    filled = [(kind, entries) for kind, entries in parts if entries]
    empty = {"metrics": [], "params": {}, "tags": {}}
    if len(filled) > 1:
        kind, entries = filled[0]
        rest = {**batch, kind: [] if kind == "metrics" else {}}
        return [{**empty, kind: entries}, rest]
    if not filled or len(filled[0][1]) < 2:
        return []
    kind, entries = filled[0]
    if kind == "metrics":
        middle = len(entries) // 2
        return [{**empty, kind: entries[:middle]}, {**empty, kind: entries[middle:]}]
    keys = list(entries)
    middle = len(keys) // 2
    return [{**empty, kind: {k: entries[k] for k in keys[:middle]}},
            {**empty, kind: {k: entries[k] for k in keys[middle:]}}]


# -- checks made when a value is logged (the server's rules, so nothing fails later) -----------
def _number(value: Any, what: str) -> Any:
    """Python scalars as they are; numpy scalars and 0-d arrays as the Python scalar they hold
    (checked by module name, so the SDK never imports numpy)."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        try:
            return value.item()
        except (ValueError, TypeError):
            raise TypeError(f"{what}: a numpy array of shape {getattr(value, 'shape', '?')} is not a single number") from None
    return value


def _check_key(key: Any, what: str, max_length: int) -> str:
    if not isinstance(key, str):
        raise TypeError(f"{what} must be a string, not {type(key).__name__}")
    if not 0 < len(key) <= max_length:
        raise ValueError(f"{what} {key[:40]!r} must be 1-{max_length} characters")
    if not tracking_limits.KEY_PATTERN.match(key) or key != key.strip():
        raise ValueError(f"{what} {key[:40]!r} may hold only letters, digits, '_', '-', '.', '/', ':' and inner spaces")
    return key


def _param_value(name: str, value: Any) -> bool | int | float | str:
    _check_key(name, "param name", general_limits.PARAM_NAME_MAX_LENGTH)
    value = _number(value, f"param {name!r}")
    if value is None:
        raise TypeError(f"param {name!r} is None: params are numbers, strings or bools; leave it out, "
                        "or log the string 'None'")
    if isinstance(value, (list, tuple, set, dict)):
        raise TypeError(f"param {name!r} is a {type(value).__name__}: log one param per element "
                        f"({name}.0, {name}.1, ...) or a string such as json.dumps(value)")
    if not isinstance(value, (bool, int, float, str)):
        raise TypeError(f"param {name!r}: {type(value).__name__} is not a number, string or bool")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"param {name!r}: {value!r} is not finite")
        if value != 0 and not tracking_limits.NUMBER_MIN_ABS <= abs(value) < tracking_limits.NUMBER_MAX_ABS:
            raise ValueError(f"param {name!r}: magnitude outside 1e-130..1e126")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**38:
        raise ValueError(f"param {name!r}: integers must have at most 38 digits")
    if isinstance(value, str) and len(value) > general_limits.PARAM_VALUE_MAX_LENGTH:
        raise ValueError(f"param {name!r}: value longer than {general_limits.PARAM_VALUE_MAX_LENGTH} characters")
    return value


def _tag_value(key: str, value: Any) -> str:
    _check_key(key, "tag key", general_limits.TAG_KEY_MAX_LENGTH)
    text = str(_number(value, f"tag {key!r}"))
    if len(text) > general_limits.TAG_VALUE_MAX_LENGTH:
        raise ValueError(f"tag {key!r}: value longer than {general_limits.TAG_VALUE_MAX_LENGTH} characters")
    return text


def _same_value(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                               and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


# -- ending open runs when the process ends ------------------------------------------------------
_active: dict[int, Run] = {}
_registry_lock = threading.Lock()
_state = {"atexit": False, "signals": False, "uncaught": False, "interrupted": False}


def _register(run: Run) -> None:
    with _registry_lock:
        _active[id(run)] = run
        if not _state["atexit"]:
            _state["atexit"] = True
            atexit.register(_at_exit)
            previous_hook = sys.excepthook

            def excepthook(kind, value, tb):
                _state["uncaught"] = True
                _state["interrupted"] = _state["interrupted"] or issubclass(kind, KeyboardInterrupt)
                previous_hook(kind, value, tb)

            sys.excepthook = excepthook
        if not _state["signals"] and threading.current_thread() is threading.main_thread():
            _state["signals"] = True
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous = signal.getsignal(signum)
                if previous in (signal.SIG_IGN, None):
                    continue  # the process ignores it (or a non-Python handler owns it): leave it so
                signal.signal(signum, _signal_handler(previous))


def _unregister(run: Run) -> None:
    with _registry_lock:
        _active.pop(id(run), None)


def _finish_all(status: str, why: str) -> None:
    with _registry_lock:
        runs = list(_active.values())
    for run in runs:
        try:
            run.finish(status, timeout=exit_flush_seconds())
        except BaseException as error:  # noqa: BLE001 - one run's failure must not stop the others
            print(f"skytune: run {run.run_id} ({why}): {error}", file=sys.stderr, flush=True)


def _at_exit() -> None:
    if _state["interrupted"]:
        _finish_all("Stopped", "interrupted")
    else:
        _finish_all("Failed" if _state["uncaught"] else "Completed", "interpreter exit")


def _signal_handler(previous):
    def handle(signum, frame):
        if signum == signal.SIGINT and previous is signal.default_int_handler:
            # Ctrl-C raises KeyboardInterrupt as always: a `with` block or the exit hook then ends
            # the run as Stopped, and code that catches it keeps its run open.
            _state["interrupted"] = True
            previous(signum, frame)
            return
        _finish_all("Stopped", f"signal {signal.Signals(signum).name}")
        if callable(previous):
            previous(signum, frame)
        else:  # SIG_DFL: die of the same signal, so the exit status says so
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    return handle


def take_batch(points: list[dict], params: dict[str, Any], tags: dict[str, str]) -> dict:
    """Removes and returns the next request's content: at most MAX_POINTS points, MAX_PARAMS
    params, MAX_TAGS tags and about MAX_BODY_BYTES of JSON, oldest first; never empty when
    something is pending (a single entry always fits, since the server's limits make each far
    smaller than 1 MB)."""
    budget = _BODY_BUDGET
    batch_params: dict[str, Any] = {}
    for name in list(params)[:MAX_PARAMS]:
        size = len(json.dumps({name: params[name]}))
        if size > budget and batch_params:
            break
        batch_params[name] = params.pop(name)
        budget -= size
    batch_tags: dict[str, str] = {}
    for key in list(tags)[:MAX_TAGS]:
        size = len(json.dumps({key: tags[key]}))
        if size > budget and (batch_params or batch_tags):
            break
        batch_tags[key] = tags.pop(key)
        budget -= size
    count = 0
    for point in points[:MAX_POINTS]:
        size = len(json.dumps(point)) + 1
        if size > budget and (count or batch_params or batch_tags):
            break
        budget -= size
        count += 1
    batch_points = points[:count]
    del points[:count]
    return {"metrics": batch_points, "params": batch_params, "tags": batch_tags}


def _epoch_ms(timestamp: datetime | float | None) -> int:
    if timestamp is None:
        return int(time.time() * 1000)
    if isinstance(timestamp, datetime):
        moment = timestamp if timestamp.tzinfo else timestamp.replace(tzinfo=timezone.utc)
        return int(moment.timestamp() * 1000)
    return int(float(timestamp) * 1000)


class Rows(list):
    """Search results: a list of dicts, one per run."""

    def to_pandas(self):
        try:
            import pandas
        except ImportError:
            raise ImportError("to_pandas() needs pandas: pip install pandas") from None
        return pandas.DataFrame(list(self))


def search(filter: str | None = None, order_by: str | Sequence[str] | None = None,  # noqa: A002 - API name
           experiments: Sequence[str] | None = None, columns: str | Sequence[str] | None = None, *,
           limit: int | None = None, url: str | None = None, client: Client | None = None) -> Rows:
    """Every run matching `filter` (the language of docs/search.md), in `order_by` order, following
    the cursor until done (or `limit` rows). Rows hold `columns`, or everything when omitted."""
    client = client or Client(url)
    rows, cursor = Rows(), None
    while limit is None or len(rows) < limit:
        page_size = 1000 if limit is None else min(1000, limit - len(rows))
        page = client.search_page(filter=filter, order_by=order_by, columns=columns,
                                  experiments=list(experiments) if experiments is not None else None,
                                  limit=page_size, cursor=cursor)
        rows.extend(page["rows"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return rows
