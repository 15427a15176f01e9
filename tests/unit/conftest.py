"""Unit tests never touch the network: any connection attempt fails the test."""
from __future__ import annotations

import socket

import pytest


class NetworkBlocked(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def _block_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise NetworkBlocked("unit tests must not use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(autouse=True)
def _no_deployment_policy(monkeypatch):
    """Unit tests see no trial policy (skytune.tuning.policy) from the process environment: a local stack
    loaded earlier in the same session sets the API function's variables process-wide."""
    from skytune.settings import (
        ENV_TRAINING_ROLE_ARNS,
        ENV_TRIAL_INSTANCE_TYPES,
        ENV_TRIAL_MAX_INSTANCE_COUNT,
        ENV_TRIAL_MAX_RUNTIME_SECONDS,
    )

    for name in (ENV_TRAINING_ROLE_ARNS, ENV_TRIAL_INSTANCE_TYPES, ENV_TRIAL_MAX_INSTANCE_COUNT,
                 ENV_TRIAL_MAX_RUNTIME_SECONDS):
        monkeypatch.delenv(name, raising=False)
