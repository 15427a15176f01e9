"""Make a trial history usable by the strategies, and say what could not be used.

Trial hyperparameters reach the optimiser from stored JSON, from AMT-style string maps and from
parent jobs with other search spaces. Everything that names a point of the space unambiguously is
parsed (``4.0`` or ``"4"`` for an integer, ``"0.01"`` for a continuous value, ``1`` for the
category ``"1"``); anything else is dropped *and reported*, so a job can say which of its history
it ignored instead of silently learning from less.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from skytune.optimize.observation import Observation, as_observations
from skytune.optimize.space import SearchSpace


@dataclass(frozen=True)
class Dropped:
    """An observation the optimiser could not use: whose (``trial_id``) and why."""

    trial_id: Any
    reason: str


def usable_history(space: SearchSpace, observations: Sequence[Observation | Mapping[str, Any]]
                   ) -> tuple[list[Observation], list[Dropped]]:
    """The observations with their parameters parsed into ``space`` (order kept), and the
    ones dropped with the reason."""
    usable, dropped = [], []
    for obs in as_observations(observations):
        try:
            params = space.coerce(obs.params)
        except ValueError as error:
            dropped.append(Dropped(obs.trial_id, str(error)))
            continue
        usable.append(Observation(params, obs.value, obs.curve, obs.trial_id))
    return usable, dropped


def usable_configs(space: SearchSpace, configs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Configurations (e.g. pending trials) parsed into ``space``; unplaceable ones left out."""
    out = []
    for config in configs:
        try:
            out.append(space.coerce(config))
        except ValueError:
            continue
    return out
