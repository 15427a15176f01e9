"""What the optimisers learn from: one finished (or running) trial."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Objective = Literal["Minimize", "Maximize"]


@dataclass(frozen=True)
class Observation:
    """A trial's hyperparameters and outcome.

    ``value`` is the final objective metric, or ``None`` when the trial failed or never reported
    one. ``curve`` holds intermediate objective values as ``(step, value)`` pairs (epochs, or any
    increasing integer the trial reports) for early stopping and multi-fidelity strategies.
    ``trial_id`` lets the multi-fidelity scheduler tell trials apart; anything hashable works.
    """

    params: Mapping[str, Any]
    value: float | None = None
    curve: tuple[tuple[int, float], ...] = field(default=())
    trial_id: Any = None

    def __post_init__(self) -> None:
        # Accept lists from JSON, store tuples sorted by step so the instance stays hashable
        # and comparisons between trials line up.
        curve = tuple(sorted((int(s), float(v)) for s, v in self.curve))
        object.__setattr__(self, "curve", curve)
        object.__setattr__(self, "params", dict(self.params))

    @property
    def is_success(self) -> bool:
        return self.value is not None and math.isfinite(self.value)


def sign_for(objective: Objective) -> float:
    """+1 for Minimize, -1 for Maximize: internally everything is minimised as ``sign * value``."""
    if objective == "Minimize":
        return 1.0
    if objective == "Maximize":
        return -1.0
    raise ValueError(f"objective must be 'Minimize' or 'Maximize', not {objective!r}")


def as_observations(items: Sequence[Observation | Mapping[str, Any]]) -> list[Observation]:
    """Accept Observation instances or plain dicts with the same keys (from stored JSON)."""
    return [o if isinstance(o, Observation) else Observation(**o) for o in items]
