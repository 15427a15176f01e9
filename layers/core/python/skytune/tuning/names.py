"""Names shared by the tuning construct, its functions, the API and local mode."""
from __future__ import annotations

import hashlib

# Environment variables
ENV_STATE_MACHINE_ARN = "TUNING_STATE_MACHINE_ARN"  # the API starts executions and answers task tokens
ENV_TRIAL_QUEUE = "TRIAL_QUEUE"  # the dispatch step publishes external/local trials here

# The Lambda runner may invoke only functions whose name starts with this (least privilege).
TRIAL_FUNCTION_PREFIX = "skytune-trial-"

# Step Functions execution names: at most 80 characters of [A-Za-z0-9-_].
_EXECUTION_NAME_MAX = 80


def state_machine_name(stack_name: str) -> str:
    return f"{stack_name}-tuning"


def execution_name(job_name: str, generation: int) -> str:
    """``<job>-g<generation>``, shortened with a digest when too long. Starting an execution with a
    name already used (and the same input) is idempotent in Step Functions: a retried create or
    continue-as-new step cannot start the loop twice."""
    suffix = f"-g{generation}"
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in job_name)
    if len(safe) + len(suffix) <= _EXECUTION_NAME_MAX:
        return safe + suffix
    digest = hashlib.sha256(job_name.encode()).hexdigest()[:10]
    return f"{safe[:_EXECUTION_NAME_MAX - len(suffix) - 11]}-{digest}{suffix}"
