"""Integration tests: the real handlers against DynamoDB Local (over HTTP), tables from the template."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from skytune.local.runtime import LocalStack


@pytest.fixture(scope="session")
def bound_tables(local_stack):
    """Bind the PynamoDB models to the template's tables, with the environment the functions get."""
    from skytune import storage
    from skytune.settings import Settings

    environment = next(f.environment for f in local_stack.functions.specs.values() if "TRACKING_TABLE" in f.environment)
    settings = Settings.model_validate(environment)
    storage.bind(settings)
    return settings


class Functions:
    """Invoke the template's functions by handler, as their triggers would."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack

    def logical_id(self, handler: str) -> str:
        matches = [lid for lid, spec in self.stack.functions.specs.items() if spec.handler == handler]
        assert len(matches) == 1, f"{handler}: {matches}"
        return matches[0]

    def invoke(self, handler: str, event):
        return self.stack.functions.invoke(self.logical_id(handler), event)


@pytest.fixture
def tuning_repo(bound_tables):
    """The tuning repository on the template's tables (the engine's steps are driven in-process)."""
    from skytune.tuning.repository import TuningRepository

    return TuningRepository()


@pytest.fixture(scope="session")
def functions(local_stack) -> Functions:
    return Functions(local_stack)


@dataclass
class ApiResponse:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


class ApiClient:
    """Calls the API through the HTTP API emulator (payload 2.0 events), without a socket."""

    def __init__(self, stack: LocalStack) -> None:
        self.emulator = stack.http_api()

    def request(self, method: str, path: str, body=None, headers=None) -> ApiResponse:
        payload = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        headers = {"content-type": "application/json", **(headers or {})}
        return ApiResponse(*self.emulator.handle(method, path, headers, payload))

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture(scope="session")
def api(local_stack) -> ApiClient:
    return ApiClient(local_stack)
