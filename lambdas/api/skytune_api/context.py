"""What every route needs from the outside world, created once per container (cold start)."""
from __future__ import annotations

from skytune.handlers import FunctionResources

_resources = FunctionResources()
settings = _resources.settings
repository = _resources.repository
index = _resources.index
