"""Model-free strategies: Random, Sobol and Grid."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from skytune.optimize.observation import Observation
from skytune.optimize.sobol import sobol
from skytune.optimize.space import NumericParameter, SearchSpace


def suggest_random(space: SearchSpace, completed: Sequence[Observation],
                   pending: Sequence[dict[str, Any]], n: int, seed: int,
                   **_: Any) -> list[dict[str, Any]]:
    """Independent uniform draws in the unit encoding (so log-scaled ranges are log-uniform).

    The generator is keyed by the history's size so that successive stateless calls with the
    same job seed continue the stream instead of repeating it.
    """
    rng = np.random.default_rng([seed, len(completed), len(pending), 0x7A4D])
    return space.from_unit(rng.random((n, space.dimension)))


def suggest_sobol(space: SearchSpace, completed: Sequence[Observation],
                  pending: Sequence[dict[str, Any]], n: int, seed: int,
                  **_: Any) -> list[dict[str, Any]]:
    """The next ``n`` points of a scrambled Sobol sequence; trial ``k`` gets point ``k``."""
    start = len(completed) + len(pending)
    return space.from_unit(sobol(start, n, space.dimension, seed))


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


