"""Path parameters, validated by the rules their bodies follow (a 400 naming the parameter).

Every `<...>` of a route is one of these types: the pattern and length go into the OpenAPI
document and are checked by the resolver's request validation before a route runs, so an id that
could never exist (too long for a DynamoDB key, characters no name holds) never reaches the core.
"""
from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from skytune import limits
from skytune.errors import InvalidInput
from skytune.tracking import limits as tracking_limits
from skytune.tracking.records import validate_key

_NAME_RULE = (f"1-{limits.NAME_MAX_LENGTH} letters, digits, '.', '_' or '-', starting with a letter or digit")

ExperimentName = Annotated[str, Path(description=f"Experiment name: {_NAME_RULE}", pattern=limits.NAME_PATTERN.pattern,
                                     max_length=limits.NAME_MAX_LENGTH)]
TrialName = Annotated[str, Path(description=f"Trial name: {_NAME_RULE}", pattern=limits.NAME_PATTERN.pattern,
                                max_length=limits.NAME_MAX_LENGTH)]
TuningJobName = Annotated[str, Path(description=f"Tuning job name: {_NAME_RULE}", pattern=limits.NAME_PATTERN.pattern,
                                    max_length=limits.NAME_MAX_LENGTH)]
RunId = Annotated[str, Path(description="Run id (a server-generated ULID; UUID for a SageMaker training job's run)",
                            pattern=tracking_limits.RUN_ID_PATTERN.pattern, max_length=64)]
# A metric name holds '/', ' ' and ':' (tracking.limits.KEY_PATTERN), which travel percent-encoded:
# the key rules apply to the decoded name, in the route (`metric_name`).
MetricName = Annotated[str, Path(description="Metric name, percent-encoded (train%2Floss for train/loss)",
                                 min_length=1, max_length=3 * tracking_limits.METRIC_NAME_MAX_LENGTH)]


def metric_name(raw: str) -> str:
    """The decoded metric name of a path, checked like a logged metric's name."""
    from urllib.parse import unquote

    name = unquote(raw)
    try:
        return validate_key(name, "metric name", tracking_limits.METRIC_NAME_MAX_LENGTH)
    except ValueError as error:
        raise InvalidInput(f"metric: {error}", field="metric") from None
