"""Conditional search spaces: parameters that exist only for some values of a parent.

Spec (beyond AMT): any range may carry ``"Conditions"``, a list of conditions that must all hold
for the parameter to exist in a trial's configuration::

    {"Name": "momentum", "MinValue": "0", "MaxValue": "0.99",
     "Conditions": [{"Parameter": "optimizer", "Values": ["sgd"]}]}
    {"Name": "units_3", "MinValue": "16", "MaxValue": "256",
     "Conditions": [{"Parameter": "n_layers", "MinValue": 3}]}

A condition names a categorical parent with ``Values`` (active when the parent takes one of
them) or an integer parent with ``MinValue`` and/or ``MaxValue`` (inclusive). A parent may be
conditional itself (a chain); a parameter is active only when its parents are. Cycles are refused.
An inactive parameter is *absent* from the configuration a trial receives and from its stored
hyperparameters (no placeholder value is passed to the trial or learned from).

The Gaussian process sees an inactive dimension through the *arc embedding* of Swersky et al.
("Raiders of the lost architecture: kernels for Bayesian optimization in conditional parameter
spaces", 2014): an active numeric value ``u`` in [0, 1] maps to the point
``rho (cos(pi theta u), sin(pi theta u))`` on an arc, an inactive one to the origin; a
categorical's one-hot block is scaled the same way and is all zeros when inactive. With the
Matern kernel's per-parameter lengthscale ``l`` fitted by MAP, two points where the parameter is
inactive are at distance 0 in that parameter (it does not separate them), an active and an
inactive point at the constant ``rho / l``, whatever the active value: the inactive dimension
contributes a learned constant instead of an imputed value. ``theta = 1/2`` and ``rho = 2/pi``
make the chord between two active values ~ their difference in ``u`` for small differences
(the usual metric); the learned lengthscale carries the rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from skytune.optimize.gp import KernelStructure
    from skytune.optimize.space import SearchSpace

MAX_CONDITIONS = 8
ARC_THETA = 0.5
ARC_RADIUS = 2.0 / math.pi
_CONDITION_KEYS = ("Parameter", "Values", "MinValue", "MaxValue")


@dataclass(frozen=True)
class Condition:
    """``parameter`` takes one of ``values`` (categorical parent) or lies in
    ``[min_value, max_value]`` (integer parent; either bound may be None)."""

    parameter: str
    values: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None

    def holds(self, value: Any) -> bool:
        if self.values is not None:
            return value in self.values
        try:
            number = float(value)
        except (TypeError, ValueError):
            return False
        return (self.min_value is None or number >= self.min_value) and \
            (self.max_value is None or number <= self.max_value)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Parameter": self.parameter}
        if self.values is not None:
            out["Values"] = list(self.values)
        if self.min_value is not None:
            out["MinValue"] = int(self.min_value)
        if self.max_value is not None:
            out["MaxValue"] = int(self.max_value)
        return out


def parse_conditions(raw: Any, where: str) -> tuple[Condition, ...]:
    """The ``Conditions`` of one range, checked for shape only (parents are checked once every
    range is known, by :func:`check_conditions`). Raises ``SearchSpaceError`` naming the field."""
    from skytune.optimize.space import SearchSpaceError

    if not isinstance(raw, list) or not raw:
        raise SearchSpaceError(where, "must be a non-empty list of {Parameter, Values} or "
                                      "{Parameter, MinValue/MaxValue} objects")
    if len(raw) > MAX_CONDITIONS:
        raise SearchSpaceError(where, f"at most {MAX_CONDITIONS} conditions per range")
    out = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(item, Mapping):
            raise SearchSpaceError(at, "must be an object")
        for key in item:
            if key not in _CONDITION_KEYS:
                raise SearchSpaceError(f"{at}.{key}", f"unknown key {key!r}; a condition takes "
                                                      f"{', '.join(_CONDITION_KEYS)}")
        parent = item.get("Parameter")
        if not isinstance(parent, str) or not parent:
            raise SearchSpaceError(f"{at}.Parameter", "must be the name of another range")
        has_values = "Values" in item
        has_bounds = "MinValue" in item or "MaxValue" in item
        if has_values == has_bounds:
            raise SearchSpaceError(at, "give Values (categorical parent) or MinValue/MaxValue "
                                       "(integer parent), not both and not neither")
        if has_values:
            values = item["Values"]
            if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                raise SearchSpaceError(f"{at}.Values", "must be a non-empty list of strings")
            out.append(Condition(parent, values=tuple(values)))
            continue
        bounds = {}
        for key in ("MinValue", "MaxValue"):
            if key not in item:
                continue
            value = item[key]
            try:
                number = float(value.strip()) if isinstance(value, str) else float(value)
            except (TypeError, ValueError, AttributeError):
                number = math.nan
            if isinstance(value, bool) or not math.isfinite(number) or number != math.floor(number):
                raise SearchSpaceError(f"{at}.{key}", f"{value!r} is not an integer")
            bounds[key] = number
        if "MinValue" in bounds and "MaxValue" in bounds and bounds["MinValue"] > bounds["MaxValue"]:
            raise SearchSpaceError(f"{at}.MaxValue", "must be at least MinValue")
        out.append(Condition(parent, min_value=bounds.get("MinValue"), max_value=bounds.get("MaxValue")))
    return tuple(out)


def check_conditions(parameters: Sequence[Any], conditions: Mapping[str, tuple[Condition, ...]],
                     where: Mapping[str, str]) -> None:
    """Every parent exists and is categorical (``Values`` among its choices) or integer
    (``MinValue``/``MaxValue`` bounds); no parameter depends on itself, directly or not."""
    from skytune.optimize.space import CategoricalParameter, SearchSpaceError

    by_name = {p.name: p for p in parameters}
    for name, conds in conditions.items():
        for i, cond in enumerate(conds):
            at = f"{where[name]}.Conditions[{i}]"
            parent = by_name.get(cond.parameter)
            if parent is None:
                raise SearchSpaceError(f"{at}.Parameter", f"no range is named {cond.parameter!r}")
            if cond.parameter == name:
                raise SearchSpaceError(f"{at}.Parameter", "a parameter cannot depend on itself")
            if cond.values is not None:
                if not isinstance(parent, CategoricalParameter):
                    raise SearchSpaceError(f"{at}.Values", f"{cond.parameter!r} is not categorical: "
                                                           "give MinValue/MaxValue")
                for j, value in enumerate(cond.values):
                    if value not in parent.choices:
                        raise SearchSpaceError(f"{at}.Values[{j}]",
                                               f"{value!r} is not one of {cond.parameter}'s values")
            else:
                if isinstance(parent, CategoricalParameter) or not parent.is_integer:
                    raise SearchSpaceError(f"{at}.Parameter", f"{cond.parameter!r} is not an integer "
                                                              "range: MinValue/MaxValue conditions need one "
                                                              "(a categorical parent takes Values)")
                low = parent.low if cond.min_value is None else max(parent.low, cond.min_value)
                high = parent.high if cond.max_value is None else min(parent.high, cond.max_value)
                if low > high:
                    raise SearchSpaceError(at, f"never holds: {cond.parameter} lies in "
                                               f"[{int(parent.low)}, {int(parent.high)}]")
    # cycles: depth-first over the parent graph
    state: dict[str, int] = {}

    def visit(name: str) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise SearchSpaceError(f"{where[name]}.Conditions", f"conditions form a cycle through {name!r}")
        state[name] = 1
        for cond in conditions.get(name, ()):
            visit(cond.parameter)
        state[name] = 2

    for name in conditions:
        visit(name)


def active_names(space: "SearchSpace", config: Mapping[str, Any]) -> set[str]:
    """The parameters that exist in ``config``: unconditional ones, and conditional ones whose
    parents are active and satisfy every condition."""
    active: set[str] = set()
    for name, conds in resolution_order(space):  # parents before children
        if all(c.parameter in active and c.parameter in config and c.holds(config[c.parameter]) for c in conds):
            active.add(name)
    return active


_ORDERS: dict[int, tuple] = {}


def resolution_order(space: "SearchSpace") -> list[tuple[str, tuple[Condition, ...]]]:
    """The parameters with their conditions, parents first (cached per space: a hot path)."""
    cached = _ORDERS.get(id(space))
    if cached is not None and cached[0] is space:
        return cached[1]
    order: list[tuple[str, tuple[Condition, ...]]] = []
    placed: set[str] = set()

    def place(name: str, depth: int = 0) -> None:
        if name in placed or depth > len(space.parameters):
            return
        for cond in space.conditions.get(name, ()):
            place(cond.parameter, depth + 1)
        placed.add(name)
        order.append((name, space.conditions.get(name, ())))

    for p in space.parameters:
        place(p.name)
    if len(_ORDERS) > 64:
        _ORDERS.clear()
    _ORDERS[id(space)] = (space, order)
    return order


# ----- the GP's view: arc embedding ------------------------------------------------------------
def embedding_width(space: "SearchSpace") -> list[int]:
    """Columns per parameter: 1 numeric, 2 conditional numeric (the arc), k categorical."""
    from skytune.optimize.space import CategoricalParameter

    widths = []
    for p in space.parameters:
        if isinstance(p, CategoricalParameter):
            widths.append(len(p.choices))
        else:
            widths.append(2 if p.name in space.conditions else 1)
    return widths


def embed(space: "SearchSpace", configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Features for the GP (see module docstring): inactive parameters at the origin of their
    block, never an imputed value."""
    from skytune.optimize.space import CategoricalParameter

    widths = embedding_width(space)
    x = np.zeros((len(configs), sum(widths)))
    start = 0
    actives = [active_names(space, c) for c in configs]
    for p, width in zip(space.parameters, widths):
        conditional = p.name in space.conditions
        rows = np.array([i for i, config in enumerate(configs) if p.name in actives[i] and p.name in config], dtype=int)
        if len(rows) == 0:
            start += width
            continue
        if isinstance(p, CategoricalParameter):
            index = np.array([p.choices.index(configs[i][p.name]) for i in rows], dtype=int)
            x[rows, start + index] = ARC_RADIUS if conditional else 1.0
        else:
            u = p.to_unit(np.array([float(configs[i][p.name]) for i in rows]))
            if conditional:
                angle = math.pi * ARC_THETA * u
                x[rows, start] = ARC_RADIUS * np.cos(angle)
                x[rows, start + 1] = ARC_RADIUS * np.sin(angle)
            else:
                x[rows, start] = u
        start += width
    return x


def embedding_structure(space: "SearchSpace") -> "KernelStructure":
    """One lengthscale per parameter over its block (one-hot columns weigh 1/2, a Hamming
    kernel, as in :func:`skytune.optimize.bayesian.kernel_structure`)."""
    from skytune.optimize.gp import KernelStructure
    from skytune.optimize.space import CategoricalParameter

    groups, factors = [], []
    for j, (p, width) in enumerate(zip(space.parameters, embedding_width(space))):
        groups += [j] * width
        factors += [0.5 if isinstance(p, CategoricalParameter) else 1.0] * width
    return KernelStructure(np.array(groups, dtype=int), np.array(factors), space.dimension)
