"""The median stopping rule: SageMaker AMT's early stopping ``Auto``.

At step ``s`` a running trial is stopped when its objective is worse than the median, over
earlier trials that reached ``s``, of their running averages up to ``s``:

    stop  <=>  sign * v(s) > median_j( sign * mean{ v_j(t) : t <= s } )

(``sign`` = +1 to minimise, -1 to maximise; ``v(s)`` is the trial's latest value, or its best so
far with ``statistic="best"``, the more forgiving variant of Golovin et al.'s Vizier paper.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from skytune.optimize.observation import Objective, sign_for

Curve = Sequence[tuple[int, float]]


def running_average_at(curve: Curve, step: int) -> float | None:
    """Mean of the values reported at steps <= ``step``; None if the curve never reached it."""
    if not curve or max(s for s, _ in curve) < step:
        return None
    values = [v for s, v in curve if s <= step]
    return float(np.mean(values)) if values else None


def median_stopping_rule(curve: Curve, completed_curves: Sequence[Curve], objective: Objective,
                         *, min_trials: int = 3, min_step: int = 1,
                         statistic: Literal["latest", "best"] = "latest") -> bool:
    """True when the running trial with ``curve`` should stop now.

    ``completed_curves`` are earlier trials' curves (completed or stopped). No decision before
    ``min_step`` or before ``min_trials`` earlier trials have reached the current step.
    """
    if not curve:
        return False
    sign = sign_for(objective)
    ordered = sorted(curve)
    step = ordered[-1][0]
    if step < min_step:
        return False
    averages = [a for c in completed_curves if (a := running_average_at(c, step)) is not None]
    if len(averages) < max(1, min_trials):
        return False
    signed = [sign * v for _, v in ordered]
    current = signed[-1] if statistic == "latest" else min(signed)
    return bool(current > float(np.median([sign * a for a in averages])))
