"""Invoke the template's Lambda handlers in this process, as the Lambda runtime would."""
from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from skytune.local.template import LOCAL_ACCOUNT, LOCAL_REGION, FunctionSpec

_import_lock = threading.Lock()


@dataclass
class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers and powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str = ""
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def __post_init__(self) -> None:
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{self.function_name}"
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalFunctions:
    """Loads each function's handler once (its environment applied at import, like a cold start).

    ``one_at_a_time``: functions that handle one event at a time, as one Lambda execution
    environment does. The HTTP API's functions must: powertools' resolver keeps the current event
    and route on its module-level ``app``, so two threads in one handler would read each other's
    request (a KeyError '_route' 500 under concurrent requests)."""

    def __init__(self, specs: dict[str, FunctionSpec], one_at_a_time: Iterable[str] = ()) -> None:
        self.specs = specs
        self._handlers: dict[str, Callable] = {}
        self._environments = {logical_id: threading.RLock() for logical_id in one_at_a_time}

    def by_name(self, name: str) -> FunctionSpec | None:
        return next((spec for spec in self.specs.values() if name in (spec.name, spec.logical_id)), None)

    def handler(self, logical_id: str) -> Callable[[Any, Any], Any]:
        with _import_lock:
            if logical_id not in self._handlers:
                spec = self.specs[logical_id]
                os.environ.update(spec.environment)
                os.environ["AWS_LAMBDA_FUNCTION_NAME"] = spec.name
                if str(spec.code_dir) not in sys.path:
                    sys.path.insert(0, str(spec.code_dir))
                module_name, _, function_name = spec.handler.rpartition(".")
                module = importlib.import_module(module_name)
                self._handlers[logical_id] = getattr(module, function_name)
            return self._handlers[logical_id]

    def invoke(self, logical_id: str, event: Any) -> Any:
        spec = self.specs[logical_id]
        context = LambdaContext(function_name=spec.name, memory_limit_in_mb=spec.memory_mb, timeout_s=spec.timeout_s)
        handler = self.handler(logical_id)
        environment = self._environments.get(logical_id)
        if environment is None:
            return handler(event, context)
        with environment:
            return handler(event, context)
