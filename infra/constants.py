"""Names shared by the CDK constructs, the local runtime and the tests: one place for each."""
from pathlib import Path

from skytune.local.template import stack_name  # noqa: F401 - one definition, shared with local mode

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = PROJECT_ROOT / "lambdas"
CORE_LAYER_DIR = PROJECT_ROOT / "layers" / "core"
BUILD_DIR = PROJECT_ROOT / "build"

SERVICE_NAME = "skytune"
METRICS_NAMESPACE = "skytune"


# Environment variables the functions read (parsed by skytune.settings).
ENV_TRACKING_TABLE = "TRACKING_TABLE"
ENV_METRICS_TABLE = "METRICS_TABLE"
ENV_IDEMPOTENCY_TABLE = "IDEMPOTENCY_TABLE"
ENV_STAGE = "STAGE"
