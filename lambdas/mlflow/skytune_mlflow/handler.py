"""Lambda entry point of the MLflow REST facade: observability around the resolver, nothing else."""
from __future__ import annotations

from skytune.handlers import http_api_handler

from skytune_mlflow.app import app
from skytune_mlflow.context import settings

lambda_handler = http_api_handler(app, settings)
