"""The dashboard: a static single-page app (``static/``) that reads only the documented /v1 API.

It is package data, so a pip install has it; ``skytune local`` serves it at ``/`` and the CDK
stack deploys the same folder to a private S3 bucket behind CloudFront.
"""
from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
