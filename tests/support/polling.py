"""Waiting for what follows a write moments later (search and analytics answer from the experiment
index, which the tables' streams update)."""
from __future__ import annotations

import time


def eventually(read, done, timeout: float = 20.0, interval: float = 0.25):
    """``read()`` until ``done(value)`` or ``timeout`` seconds pass; answers the last value read."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(interval)
