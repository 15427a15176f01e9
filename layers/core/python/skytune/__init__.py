"""skytune: experiment tracking and hyperparameter tuning on your own AWS account.

The top level is the client SDK (`skytune.Run`, `skytune.search`), imported lazily so that
`import skytune` stays light and never pulls in PynamoDB or the Lambda-side core.
"""
from __future__ import annotations

__version__ = "0.1.0"

_SDK_EXPORTS = {"Run": "skytune.client.run", "Client": "skytune.client.http", "search": "skytune.client.run",
                "ApiError": "skytune.client.http", "ServerUnreachable": "skytune.client.http"}


def __getattr__(name: str):
    if name in _SDK_EXPORTS:
        import importlib

        return getattr(importlib.import_module(_SDK_EXPORTS[name]), name)
    raise AttributeError(f"module 'skytune' has no attribute {name!r}")
