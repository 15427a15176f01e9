"""Print the HTTP API's OpenAPI document, generated from the powertools resolver (docs/openapi.json)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lambdas" / "api"))

from skytune import __version__  # noqa: E402
from skytune_api.app import app  # noqa: E402


def document() -> dict:
    return json.loads(
        app.get_openapi_json_schema(
            title="skytune API",
            version=__version__,
            summary="Experiment tracking and hyperparameter tuning on your own AWS account",
            description="Every route is authorised with IAM (SigV4) by default, or JWT when deployed with -c auth=jwt.",
        )
    )


if __name__ == "__main__":
    print(json.dumps(document(), indent=2, sort_keys=True))
