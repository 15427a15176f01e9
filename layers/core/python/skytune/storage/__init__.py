"""DynamoDB access through PynamoDB: the adapter between the domain core and the tables.

Table names come from the function's Settings at cold start (`bind`), so the same models serve every
stage and the local runtime; the endpoint is botocore's own (`AWS_ENDPOINT_URL_DYNAMODB` points it at
DynamoDB Local), so nothing here knows whether it runs in Lambda or on a laptop.
"""
from __future__ import annotations

import os
from pynamodb.connection import TableConnection
from pynamodb.models import Model

from skytune.settings import Settings

# table key (a Settings field) -> the model classes stored in that table
_REGISTRY: dict[str, list[type[Model]]] = {}


def table_model(table_setting: str):
    """Class decorator: register a PynamoDB model as living in the table named by `Settings.<table_setting>`."""

    def register(model: type[Model]) -> type[Model]:
        _REGISTRY.setdefault(table_setting, []).append(model)
        if _BOUND:  # a model imported after `bind` (e.g. lazily) gets the same tables
            _bind_model(model, _BOUND[-1], table_setting)
        return model

    return register


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


_BOUND: list[Settings] = []


def _bind_model(model: type[Model], settings: Settings, table_setting: str) -> None:
    model.Meta.table_name = getattr(settings, table_setting) or "unbound"
    model.Meta.region = _region()
    model._connection = None  # PynamoDB caches the connection per class, with the table name
    for index in getattr(model, "_indexes", {}).values():
        index.Meta.model = model


def bind(settings: Settings) -> None:
    _BOUND[:] = [settings]
    for table_setting, models in _REGISTRY.items():
        for model in models:
            _bind_model(model, settings, table_setting)


def table_status(settings: Settings) -> dict[str, str]:
    """DescribeTable status of every table the settings name, e.g. {"tracking_table": "ACTIVE"}."""
    statuses = {}
    for table_setting in (field for field in Settings.model_fields if field.endswith("_table")):
        if getattr(settings, table_setting) is None:
            continue  # an optional table this function does not use
        try:
            connection = TableConnection(getattr(settings, table_setting), region=_region())
            statuses[table_setting] = connection.describe_table()["TableStatus"]
        except Exception as error:  # noqa: BLE001 - health reports the failure instead of raising it
            statuses[table_setting] = f"UNAVAILABLE: {type(error).__name__}"
    return statuses

