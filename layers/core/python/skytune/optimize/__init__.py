"""Optimisers for hyperparameter tuning: pure Python + numpy, stateless, deterministic.

``suggest`` proposes configurations (Bayesian, Random, Sobol, Grid, Hyperband);
``Hyperband`` and ``median_stopping_rule`` stop running trials early; ``should_complete``
ends a job; ``warm_start`` maps parent jobs' trials into a new space. See docs/optimisers.md.
"""

from skytune.optimize.completion import should_complete
from skytune.optimize.early_stopping import median_stopping_rule
from skytune.optimize.history import Dropped, usable_history
from skytune.optimize.multifidelity import Hyperband, StopDecision
from skytune.optimize.observation import Objective, Observation
from skytune.optimize.sampling import grid_size, iter_grid
from skytune.optimize.space import (
    CategoricalParameter,
    NumericParameter,
    SearchSpace,
    SearchSpaceError,
    parse_space,
)
from skytune.optimize.suggest import STRATEGIES, suggest
from skytune.optimize.warm_start import warm_start, warm_start_report

__all__ = [
    "STRATEGIES",
    "CategoricalParameter",
    "Dropped",
    "Hyperband",
    "NumericParameter",
    "Objective",
    "Observation",
    "SearchSpace",
    "SearchSpaceError",
    "StopDecision",
    "grid_size",
    "iter_grid",
    "median_stopping_rule",
    "parse_space",
    "should_complete",
    "suggest",
    "usable_history",
    "warm_start",
    "warm_start_report",
]
