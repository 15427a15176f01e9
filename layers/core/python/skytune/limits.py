"""Every limit skytune enforces, in one place (docs/limits.md is generated from the same numbers)."""
from __future__ import annotations

import re

NAME_MAX_LENGTH = 120
DESCRIPTION_MAX_LENGTH = 3072
TAG_KEY_MAX_LENGTH = 128
TAG_VALUE_MAX_LENGTH = 256
TAGS_PER_ENTITY = 50
PARAM_NAME_MAX_LENGTH = 256
PARAM_VALUE_MAX_LENGTH = 6000
PAGE_SIZE_MAX = 1000

# Names identify entities in URLs: letters, digits and - _ . (SageMaker allows [a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
