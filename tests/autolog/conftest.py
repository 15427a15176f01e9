"""MLflow autologgers with heavy frameworks (XGBoost, Keras, PyTorch Lightning): collected only by
`make test-autolog` (SKYTUNE_AUTOLOG=1, in .venv-bench), never by `make test`."""
from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("SKYTUNE_AUTOLOG") == "1" else ["test_*.py"]
