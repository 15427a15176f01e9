"""Model-free strategies: Random, Sobol and Grid."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from skytune.optimize.observation import Observation
from skytune.optimize.sobol import sobol
from skytune.optimize.space import CategoricalParameter, NumericParameter, SearchSpace


# A finite space up to this size is enumerated to find an untaken point; beyond it random
# draws find one unless the space is all but exhausted.
ENUMERATE_LIMIT = 4096
RANDOM_TRIES = 512


def suggest_random(space: SearchSpace, completed: Sequence[Observation],
                   pending: Sequence[dict[str, Any]], n: int, seed: int,
                   index: int | None = None, **_: Any) -> list[dict[str, Any]]:
    """Independent uniform draws in the unit encoding (so log-scaled ranges are log-uniform).

    The generator is keyed by the position in the job (``index``, default the history's size)
    so that successive stateless calls with the same job seed continue the stream instead of
    repeating it, and parallel trials draw differently.
    """
    if index is None:
        index = len(completed) + len(pending)
    rng = np.random.default_rng([seed, index, len(completed), len(pending), 0x7A4D])
    return space.from_unit(rng.random((n, space.dimension)))


def suggest_sobol(space: SearchSpace, completed: Sequence[Observation],
                  pending: Sequence[dict[str, Any]], n: int, seed: int,
                  index: int | None = None, **_: Any) -> list[dict[str, Any]]:
    """Points ``index .. index+n-1`` of the Sobol sequence scrambled by the job's ``seed``:
    trial ``k`` gets point ``k - 1``, so a job's points are one low-discrepancy set."""
    start = len(completed) + len(pending) if index is None else index
    return space.from_unit(sobol(start, n, space.dimension, seed))


def is_finite(space: SearchSpace) -> bool:
    """Every parameter takes finitely many values (integers and categories only)."""
    return all(not isinstance(p, NumericParameter) or p.is_integer for p in space.parameters)


def _point_count(space: SearchSpace) -> float:
    count = 1.0
    for p in space.parameters:
        count *= len(p.choices) if isinstance(p, CategoricalParameter) else p.high - p.low + 1
    return count


def distinct_point(space: SearchSpace, taken: set, rng: np.random.Generator
                   ) -> dict[str, Any] | None:
    """A configuration whose key is not in ``taken``, or None when there is none to find:
    uniformly among the untaken points of a small finite space, else by random draws."""
    if is_finite(space) and _point_count(space) <= ENUMERATE_LIMIT:
        axes = [list(p.choices) if isinstance(p, CategoricalParameter)
                else list(range(int(p.low), int(p.high) + 1)) for p in space.parameters]
        free = [c for c in (space.with_static(dict(zip(space.names, combo)))
                            for combo in itertools.product(*axes)) if space.key(c) not in taken]
        return free[int(rng.integers(len(free)))] if free else None
    for _ in range(RANDOM_TRIES):
        config = space.from_unit(rng.random((1, space.dimension)))[0]
        if space.key(config) not in taken:
            return config
    return None


def replace_repeats(space: SearchSpace, picks: list[dict[str, Any]], taken: set, rng: np.random.Generator
                    ) -> list[dict[str, Any]]:
    """``picks`` with each one that repeats a taken configuration (or an earlier pick) replaced by an
    untaken one; a pick is kept as it is only when no untaken configuration is left. Adds every
    answered pick to ``taken``."""
    out = []
    for pick in picks:
        if space.key(pick) in taken:
            pick = distinct_point(space, taken, rng) or pick
        taken.add(space.key(pick))
        out.append(pick)
    return out


def grid_size(space: SearchSpace) -> int:
    size = 1
    for p in space.parameters:
        size *= len(_grid_axis(p))
    return size


def iter_grid(space: SearchSpace) -> Iterator[dict[str, Any]]:
    """Every combination, first parameter slowest (lexicographic in declaration order)."""
    axes = [_grid_axis(p) for p in space.parameters]
    for combo in itertools.product(*axes):
        yield space.with_static(dict(zip(space.names, combo)))


def suggest_grid(space: SearchSpace, completed: Sequence[Observation],
                 pending: Sequence[dict[str, Any]], n: int, seed: int = 0,
                 **_: Any) -> list[dict[str, Any]]:
    """The first ``n`` grid points not already completed or pending; fewer (possibly none)
    once the grid is exhausted. ``seed`` is unused: the grid order is fixed."""
    taken = {space.key(o.params) for o in completed}
    taken |= {space.key(p) for p in pending}
    picks = []
    for config in iter_grid(space):
        if len(picks) == n:
            break
        if space.key(config) not in taken:
            picks.append(config)
    return picks


def _grid_axis(p) -> list[Any]:
    return p.grid_values() if isinstance(p, NumericParameter) else list(p.choices)


