"""Outcome constraints: ``metric <= value`` or ``metric >= value`` reported by a trial.

A trial is *feasible* when it reported every constrained metric and each satisfies its bound
(a trial that never reported a constrained metric cannot be shown to satisfy it, so it is
infeasible). The Bayesian strategy models each constrained metric with its own GP (fitted on
the trials that reported it) and multiplies its acquisition by the probability of feasibility
(Gardner et al. 2014, Gelbart et al. 2014):

    PoF(x) = prod_c P(g_c(x) satisfies bound_c) = prod_c Phi(+-(bound_c - mu_c(x)) / sigma_c(x))

in log space: ``log acquisition + sum_c log Phi(...)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from skytune.optimize.acquisition import normal_cdf

Operator = Literal["<=", ">="]


@dataclass(frozen=True)
class OutcomeConstraint:
    metric: str
    operator: Operator
    value: float

    def satisfied(self, observed: float | None) -> bool:
        if observed is None or not math.isfinite(observed):
            return False
        return observed <= self.value if self.operator == "<=" else observed >= self.value


def is_feasible(constraints: Sequence[OutcomeConstraint], metrics: Mapping[str, Any]) -> bool:
    """Every constraint satisfied by the reported ``metrics`` (name -> final value)."""
    return all(c.satisfied(_number(metrics.get(c.metric))) for c in constraints)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def log_probability_of_feasibility(constraint: OutcomeConstraint, mean: np.ndarray, var: np.ndarray
                                   ) -> np.ndarray:
    """log P(g(x) satisfies the bound) under a Gaussian posterior of g (in the metric's units)."""
    sigma = np.sqrt(np.maximum(var, 1e-300))
    z = (constraint.value - mean) / sigma
    if constraint.operator == ">=":
        z = -z
    return np.log(np.maximum(normal_cdf(z), 1e-300))
