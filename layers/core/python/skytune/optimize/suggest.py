"""One entry point for every strategy."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from skytune.optimize.bayesian import suggest_bayesian
from skytune.optimize.history import usable_configs, usable_history
from skytune.optimize.observation import Objective, Observation, sign_for
from skytune.optimize.sampling import replace_repeats, suggest_grid, suggest_random, suggest_sobol
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
            objective: Objective = "Minimize", index: int | None = None,
            **options: Any) -> list[dict[str, Any]]:
    """``n`` configurations (static hyperparameters included) for the next trials.

    Stateless and deterministic: the same strategy, space, history, ``n``, seed, index and
    options give the same configurations. ``completed`` holds finished trials (``value=None``
    for failed ones; parents' trials for a warm start, see :func:`warm_start`), ``pending`` the
    configurations still running; values are parsed where unambiguous (``4.0``/``"4"`` for an
    integer) and observations that cannot be placed are left out (:func:`usable_history` says
    which). ``seed`` is the *job's* seed: it keys the Sobol scramble, so the whole job walks one
    low-discrepancy sequence. ``index`` is the position of the first pick in that sequence (a
    job passes trial number - 1, so parallel workers take different points); by default the
    number of trials issued so far.

    No pick repeats a completed or pending configuration, or an earlier pick, unless every
    point of a finite space is taken. Grid returns fewer than ``n`` once it is exhausted.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}")
    if n < 0:
        raise ValueError("n must be >= 0")
    sign_for(objective)  # validates
    if n == 0:
        return []
    history, _ = usable_history(space, completed)
    running = usable_configs(space, pending)
    if index is None:
        index = len(history) + len(running)
    picks = STRATEGIES[strategy](space, history, running, n, seed, objective=objective,
                                 index=index, **options)
    if strategy == "Grid":
        return picks  # already distinct, and fewer once exhausted
    return _distinct(space, picks, history, running, seed, index)


def _distinct(space: SearchSpace, picks: list[dict[str, Any]], history: Sequence[Observation],
              running: Sequence[Mapping[str, Any]], seed: int, index: int) -> list[dict[str, Any]]:
    """Replace any pick that repeats a taken configuration by an untaken one (a strategy on a
    small discrete space, or a random draw, can land on one); keep it only when none is left."""
    taken = {space.key(o.params) for o in history} | {space.key(c) for c in running}
    rng = np.random.default_rng([seed, index, len(history), len(running), 0xD1])
    return replace_repeats(space, picks, taken, rng)
