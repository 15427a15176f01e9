"""Warm start: reuse parent tuning jobs' observations in a new search space.

AMT's two modes differ in what the parents trained on (``IdenticalDataAndAlgorithm`` vs
``TransferLearning``); for the optimiser both mean "map the parents' trials into this space",
because either kind of child may change ranges, add or drop parameters. Mapping rules:

* a parameter the child dropped is ignored;
* a parameter the child added takes its value from ``defaults`` (typically the static value
  the parents ran with); without one, the observation is dropped (we cannot place it);
* numeric values are parsed (AMT hyperparameters travel as strings), integers rounded, and a
  value outside the new range is clipped to it (``out_of_range="clip"``: the closest point the
  child can express, as the model sees it) or the observation dropped (``"drop"``);
* a categorical value the child no longer offers drops the observation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from skytune.optimize.history import Dropped
from skytune.optimize.observation import Observation, as_observations
from skytune.optimize.space import CategoricalParameter, SearchSpace


def warm_start(parent_observations: Sequence[Observation | Mapping[str, Any]], space: SearchSpace,
               *, defaults: Mapping[str, Any] | None = None,
               out_of_range: Literal["clip", "drop"] = "clip") -> list[Observation]:
    """Parents' observations mapped into ``space`` (see module docstring); order is kept."""
    return warm_start_report(parent_observations, space, defaults=defaults,
                             out_of_range=out_of_range)[0]


def warm_start_report(parent_observations: Sequence[Observation | Mapping[str, Any]],
                      space: SearchSpace, *, defaults: Mapping[str, Any] | None = None,
                      out_of_range: Literal["clip", "drop"] = "clip"
                      ) -> tuple[list[Observation], list[Dropped]]:
    """:func:`warm_start`, plus the parents' observations that could not be mapped and why
    (so the child job can report them instead of silently learning from less)."""
    defaults = dict(defaults or {})
    mapped, dropped = [], []
    for obs in as_observations(parent_observations):
        try:
            params = _map_params(obs.params, space, defaults, out_of_range)
        except ValueError as error:
            dropped.append(Dropped(obs.trial_id, str(error)))
            continue
        mapped.append(Observation(space.with_static(params), obs.value, obs.curve, obs.trial_id))
    return mapped, dropped


def _map_params(params: Mapping[str, Any], space: SearchSpace, defaults: Mapping[str, Any],
                out_of_range: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in space.parameters:
        raw = params.get(p.name, defaults.get(p.name))
        if raw is None:
            raise ValueError(f"{p.name} is missing (a parameter the parent did not tune; give it "
                             "a static value to place the parent's trials)")
        if isinstance(p, CategoricalParameter):
            out[p.name] = p.coerce(raw)
            continue
        try:
            value = float(raw.strip() if isinstance(raw, str) else raw)
        except (TypeError, ValueError):
            raise ValueError(f"{p.name}={raw!r} is not a number") from None
        if isinstance(raw, bool) or not math.isfinite(value):
            raise ValueError(f"{p.name}={raw!r} is not a finite number")
        if p.is_integer:
            value = float(math.floor(value + 0.5))
        if not p.low <= value <= p.high:
            if out_of_range == "drop":
                raise ValueError(f"{p.name}={raw!r} is outside the child's range")
            value = min(max(value, p.low), p.high)
        out[p.name] = p.python_value(value)
    return out
