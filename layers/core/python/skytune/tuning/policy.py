"""What a tuning job's trials may run as: the deployment's allow-lists and caps (docs/security.md).

The API is not the place a caller gains power: a caller who may create tuning jobs may not pick an
arbitrary IAM role, Lambda function, instance type or runtime for its trials. IAM enforces the same
limits a second time (infra/constructs/tuning.py: PassRole on the allowed roles only, InvokeFunction
on ``skytune-trial-*`` only); this module turns a refused request into a 400 naming the field,
instead of a trial that fails later inside the state machine.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from skytune.errors import InvalidInput
from skytune.settings import TuningPolicySettings
from skytune.tuning.names import TRIAL_FUNCTION_PREFIX

# A function name, a partial ARN (account:function:name) or a full ARN, with an optional qualifier.
_FUNCTION = re.compile(
    r"^(?:(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:)?\d{12}:function:)?(?P<name>[A-Za-z0-9_-]{1,64})(?::[A-Za-z0-9$_-]{1,128})?$")


def check_trial(trial: Any, settings: TuningPolicySettings | None = None) -> None:
    """Raise :class:`InvalidInput` (field as in the native body) when ``trial`` breaks the policy."""
    settings = settings or TuningPolicySettings.from_environment()
    if trial.runner == "lambda" and trial.function_name:
        _check_function(trial.function_name)
    if trial.runner == "sagemaker" and trial.training_job_definition is not None:
        _check_training_job(trial.training_job_definition, settings)
        cap = settings.trial_max_runtime_seconds
        if cap is not None and trial.max_runtime_in_seconds > cap:
            raise InvalidInput(f"at most {cap} seconds per trial in this deployment",
                               field="trial.max_runtime_in_seconds")


def _check_function(function_name: str) -> None:
    match = _FUNCTION.match(function_name)
    if not match or not match["name"].startswith(TRIAL_FUNCTION_PREFIX):
        raise InvalidInput(
            f"a Lambda trial function's name must start with {TRIAL_FUNCTION_PREFIX!r} (the stack may invoke "
            "only those)", field="trial.function_name")


def _check_training_job(definition: Mapping[str, Any], settings: TuningPolicySettings) -> None:
    prefix = "trial.training_job_definition"
    role = definition.get("RoleArn")
    allowed = settings.training_role_arns
    if not isinstance(role, str) or not role:
        raise InvalidInput("RoleArn is required: one of the deployment's training roles", field=f"{prefix}.RoleArn",
                           details={"allowed": allowed} if allowed is not None else None)
    if allowed is not None and role not in allowed:
        raise InvalidInput("this role is not one of the deployment's training roles (stage config trainingRoleArns)",
                           field=f"{prefix}.RoleArn", details={"allowed": allowed})

    resources = definition.get("ResourceConfig") or {}
    if not isinstance(resources, Mapping):
        raise InvalidInput("ResourceConfig must be an object", field=f"{prefix}.ResourceConfig")
    # Either one instance type and count, or heterogeneous instance groups: check every one.
    groups = [(f"{prefix}.ResourceConfig", resources)] + [
        (f"{prefix}.ResourceConfig.InstanceGroups[{i}]", group)
        for i, group in enumerate(resources.get("InstanceGroups") or []) if isinstance(group, Mapping)]
    total = 0
    for path, group in groups:
        instance_type = group.get("InstanceType")
        if settings.trial_instance_types is not None and instance_type is not None \
                and instance_type not in settings.trial_instance_types:
            raise InvalidInput(f"instance type {instance_type!r} is not allowed in this deployment",
                               field=f"{path}.InstanceType", details={"allowed": settings.trial_instance_types})
        count = group.get("InstanceCount", 1 if group is resources and not resources.get("InstanceGroups") else 0)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise InvalidInput("must be a non-negative integer", field=f"{path}.InstanceCount")
        total += count
    cap = settings.trial_max_instance_count
    if cap is not None and total > cap:
        raise InvalidInput(f"at most {cap} instances per trial in this deployment",
                           field=f"{prefix}.ResourceConfig.InstanceCount", details={"requested": total})
