"""One entry point for every strategy."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from skytune.optimize.bayesian import suggest_bayesian
from skytune.optimize.observation import Objective, Observation, as_observations, sign_for
from skytune.optimize.sampling import suggest_grid, suggest_random, suggest_sobol
from skytune.optimize.space import SearchSpace


def suggest_hyperband(space: SearchSpace, completed: Sequence[Observation],
                      pending: Sequence[dict[str, Any]], n: int, seed: int, *,
                      objective: Objective = "Minimize", base: str = "Random",
                      **options: Any) -> list[dict[str, Any]]:
    """New configurations for a Hyperband/ASHA job, drawn by the ``base`` strategy.

    Stopping is :class:`skytune.optimize.multifidelity.Hyperband`'s job; stopped trials
    should be passed with ``value=None`` so a model-based ``base`` treats them as poor.
    """
    if base == "Hyperband":
        raise ValueError("base must be another strategy")
    return suggest(base, space, completed, pending, n, seed, objective=objective, **options)


STRATEGIES: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "Bayesian": suggest_bayesian,
    "Random": suggest_random,
    "Sobol": suggest_sobol,
    "Grid": suggest_grid,
    "Hyperband": suggest_hyperband,
}


def suggest(strategy: str, space: SearchSpace,
            completed: Sequence[Observation | Mapping[str, Any]],
            pending: Sequence[Mapping[str, Any]], n: int, seed: int, *,
            objective: Objective = "Minimize", **options: Any) -> list[dict[str, Any]]:
    """``n`` configurations (static hyperparameters included) for the next trials.

    Stateless and deterministic: the same strategy, space, history, ``n``, seed and options
    give the same configurations. ``completed`` holds finished trials (``value=None`` for
    failed ones; parents' trials for a warm start, see :func:`warm_start`), ``pending`` the
    configurations still running. Grid returns fewer than ``n`` once it is exhausted.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    if n < 0:
        raise ValueError("n must be >= 0")
    sign_for(objective)  # validates
    if n == 0:
        return []
    return STRATEGIES[strategy](space, as_observations(completed), [dict(p) for p in pending],
                                n, seed, objective=objective, **options)
