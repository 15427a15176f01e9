"""Tuning-job completion criteria (AMT's ``TuningJobCompletionCriteria`` and one more)."""

from __future__ import annotations

from collections.abc import Sequence

from skytune.optimize.observation import Objective, Observation, sign_for

TARGET_REACHED = "TargetObjectiveMetricValueReached"
NOT_IMPROVING = "BestObjectiveNotImproving"
CONVERGED = "ConvergenceDetected"


def should_complete(observations: Sequence[Observation], objective: Objective, *,
                    target: float | None = None, max_no_improvement: int | None = None,
                    convergence: bool = False, min_relative_improvement: float = 0.01,
                    convergence_window: int = 10, convergence_tolerance: float = 1e-3,
                    ) -> tuple[bool, str]:
    """Whether the job is done, and why (``""`` when it is not).

    ``observations`` are the completed trials in completion order; failed ones are ignored.

    * ``target``: the best value reaches it (<= when minimising, >= when maximising).
    * ``max_no_improvement``: the last N trials with a value did not improve the best by more
      than ``min_relative_improvement`` (AMT: 1%) of ``|best|``.
    * ``convergence``: at least ``2 * convergence_window`` trials, and over the last
      ``convergence_window`` of them the best improved by less than ``convergence_tolerance``
      times the range of values seen: the search keeps landing where it already was.
    """
    sign = sign_for(objective)
    values = [sign * o.value for o in observations if o.is_success]
    if not values:
        return False, ""
    best = min(values)
    if target is not None and best <= sign * target:
        return True, TARGET_REACHED

    if max_no_improvement is not None and max_no_improvement > 0:
        running_best, since = values[0], 0
        for v in values[1:]:
            if running_best - v > min_relative_improvement * abs(running_best):
                running_best, since = v, 0
            else:
                running_best, since = min(running_best, v), since + 1
        if since >= max_no_improvement:
            return True, NOT_IMPROVING

    if convergence and len(values) >= 2 * convergence_window:
        before = min(values[:-convergence_window])
        spread = max(values) - min(values)
        if spread == 0 or (before - best) < convergence_tolerance * spread:
            return True, CONVERGED
    return False, ""
