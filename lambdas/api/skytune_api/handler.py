"""Lambda entry point of the HTTP API: observability around the resolver, nothing else."""
from __future__ import annotations

from skytune.handlers import http_api_handler

from skytune_api.app import app
from skytune_api.context import settings

lambda_handler = http_api_handler(app, settings)
