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
the `with` block flushes everything and marks the run Completed (Failed if an exception escaped).
An error the server refuses (4xx) is raised by the next call to the run (or by `flush`/`finish`).

`skytune.search(...)` returns every matching run as a list of dicts (`.to_pandas()` when pandas
is installed).
"""
from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from skytune.client.http import Client

MAX_POINTS = 1000
MAX_PARAMS = 100
MAX_TAGS = 100
MAX_BODY_BYTES = 1024 * 1024
_BODY_BUDGET = MAX_BODY_BYTES - 4096  # room for the JSON envelope


class Run:
    def __init__(self, experiment: str, name: str | None = None, *, url: str | None = None,
                 client: Client | None = None, params: Mapping[str, Any] | None = None,
                 tags: Mapping[str, str] | None = None, trials: Sequence[str] = (), parent: str | None = None,
                 source: str | None = None, flush_interval: float = 2.0, create_experiment: bool = True) -> None:
        self.experiment = experiment
        self.name = name
        self.client = client or Client(url)
        self.flush_interval = flush_interval
        self._create = {"experiment": experiment, "name": name, "trials": list(trials) or None, "parent": parent,
                        "source": source, "params": dict(params or {}) or None, "tags": dict(tags or {}) or None,
                        "client_token": uuid.uuid4().hex}
        self._create_experiment = create_experiment
        self.run_id: str | None = None
        self._points: list[dict] = []
        self._params: dict[str, Any] = {}
        self._tags: dict[str, str] = {}
        self._in_flight = 0
        self._error: BaseException | None = None
        self._closing = False
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "Run":
        if self.run_id is not None:
            return self
        if self._create_experiment:
            self.client.ensure_experiment(self.experiment)
        created = self.client.create_run(**self._create)
        self.run_id, self.name = created["run_id"], created["name"]
        self._thread = threading.Thread(target=self._send_loop, name=f"skytune-run-{self.run_id}", daemon=True)
        self._thread.start()
        return self

    def __enter__(self) -> "Run":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.finish("Failed" if exc_type is not None else "Completed")
        except Exception:
            if exc_type is None:
                raise  # a failure to flush must not hide the user's own exception

    def finish(self, status: str = "Completed") -> None:
        """Flushes, stops the sender and sets the run's status (which stamps its end time)."""
        if self.run_id is None:
            return
        try:
            self.flush()
        finally:
            with self._condition:
                self._closing = True
                self._condition.notify_all()
            if self._thread is not None:
                self._thread.join()
            self._thread = None
        self.client.update_run(self.run_id, status=status)

    # -- logging -----------------------------------------------------------------------------
    def log_metric(self, name: str, value: float, step: int | None = None, timestamp: datetime | float | None = None) -> None:
        """`step` None: the server numbers the metric's points in the order it receives them.
        `timestamp`: a datetime or epoch seconds; default now."""
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"metric {name!r}: {value!r} is not finite (the API refuses NaN and infinity)")
        if step is not None and (not isinstance(step, int) or isinstance(step, bool) or step < 0):
            raise ValueError(f"metric {name!r}: step must be a non-negative int")
        point = {"name": name, "value": number, "timestamp": _epoch_ms(timestamp)}
        if step is not None:
            point["step"] = step
        self._add(points=[point])

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        stamp = _epoch_ms(None)
        for name, value in metrics.items():
            self.log_metric(name, value, step=step, timestamp=stamp / 1000)

    def log_param(self, name: str, value: bool | int | float | str) -> None:
        self.log_params({name: value})

    def log_params(self, params: Mapping[str, bool | int | float | str]) -> None:
        for name, value in params.items():
            if not isinstance(value, (bool, int, float, str)):
                raise TypeError(f"param {name!r}: {type(value).__name__} is not a number, string or bool")
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"param {name!r}: {value!r} is not finite")
        self._add(params=dict(params))

    def set_tag(self, key: str, value: str) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self._add(tags={key: str(value) for key, value in tags.items()})

    def flush(self, timeout: float | None = None) -> None:
        """Blocks until everything logged so far is stored; raises the first send error."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            self._condition.notify_all()
            while (self._points or self._params or self._tags or self._in_flight) and self._error is None:
                if self._thread is None or not self._thread.is_alive():
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("metrics not flushed in time")
                self._condition.wait(remaining if remaining is not None else 1.0)
            self._raise_error()

    # -- internals ---------------------------------------------------------------------------
    def _add(self, points: list[dict] = (), params: dict | None = None, tags: dict | None = None) -> None:
        if self.run_id is None:
            raise RuntimeError("start the run first (use `with skytune.Run(...) as run:` or run.start())")
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
            try:
                self.client.log_batch(self.run_id, **batch)
            except BaseException as error:  # noqa: BLE001 - handed to the user's thread
                with self._condition:
                    self._error = error
            finally:
                with self._condition:
                    self._in_flight -= 1
                    self._condition.notify_all()


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
