"""Search spaces in SageMaker AMT's ``ParameterRanges`` shape, and their numeric encodings.

Two encodings serve the strategies:

* the **unit encoding** ``z in [0, 1]^P`` has one column per tunable parameter; random, Sobol
  and grid strategies sample there and :meth:`SearchSpace.from_unit` decodes.
* the **feature encoding** used by the Gaussian process has one column per numeric parameter
  (the same unit value) and a one-hot block per categorical parameter.

Numeric parameters are warped before they reach ``[0, 1]``:

* Linear:               u = (x - lo) / (hi - lo)
* Logarithmic:          u = (ln x - ln lo) / (ln hi - ln lo)
* ReverseLogarithmic:   u = (ln(1 - lo) - ln(1 - x)) / (ln(1 - lo) - ln(1 - hi))

Integers are relaxed to ``[lo - 1/2, hi + 1/2]`` (before warping) so that every integer owns an
equal share of the unit interval in linear scale and decoding is a plain rounding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from skytune.optimize.conditional import Condition, active_names, check_conditions, parse_conditions

# AMT allows 30 tunable parameters and 30 values per categorical; we allow more (the Sobol
# direction-number table embedded here covers 64 dimensions).
MAX_TUNABLE_PARAMETERS = 64
MAX_CATEGORICAL_VALUES = 64
MAX_NAME_LENGTH = 256
# "Auto" scaling picks Logarithmic for a positive range spanning at least this ratio.
AUTO_LOG_RATIO = 1e3

Scaling = Literal["Linear", "Logarithmic", "ReverseLogarithmic"]
_SCALING_TYPES = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
_RANGE_KINDS = (
    "ContinuousParameterRanges",
    "IntegerParameterRanges",
    "CategoricalParameterRanges",
)
# The keys a range may carry (AMT's, plus Step/NumberOfValues for Grid and Conditions for
# conditional spaces, see skytune.optimize.conditional); anything else is a typo (``ScalingTyp``,
# ``Condition``) and is refused, not ignored.
_NUMERIC_KEYS = ("Name", "MinValue", "MaxValue", "ScalingType", "Step", "NumberOfValues", "Conditions")
_CATEGORICAL_KEYS = ("Name", "Values", "Conditions")


class SearchSpaceError(ValueError):
    """Invalid search space; ``field`` names the offending input like AMT's API errors do."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class NumericParameter:
    """A continuous or integer range with its scaling (already resolved from ``Auto``)."""

    name: str
    low: float
    high: float
    scaling: Scaling
    is_integer: bool
    # Grid only: an explicit step, or a count of evenly spaced values (in the scaled space).
    grid_step: float | None = None
    grid_count: int | None = None

    def _relaxed_bounds(self) -> tuple[float, float]:
        if self.is_integer:
            return self.low - 0.5, self.high + 0.5
        return self.low, self.high

    def _warp(self, x: np.ndarray) -> np.ndarray:
        if self.scaling == "Logarithmic":
            return np.log(x)
        if self.scaling == "ReverseLogarithmic":
            return -np.log1p(-x)
        return x

    def _unwarp(self, w: np.ndarray) -> np.ndarray:
        if self.scaling == "Logarithmic":
            return np.exp(w)
        if self.scaling == "ReverseLogarithmic":
            return -np.expm1(-w)
        return w

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        lo, hi = self._relaxed_bounds()
        w_lo, w_hi = self._warp(np.float64(lo)), self._warp(np.float64(hi))
        return (self._warp(np.asarray(values, dtype=float)) - w_lo) / (w_hi - w_lo)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Decode unit values (clipped into [0, 1]) to values inside ``[low, high]``."""
        lo, hi = self._relaxed_bounds()
        w_lo, w_hi = self._warp(np.float64(lo)), self._warp(np.float64(hi))
        x = self._unwarp(w_lo + np.clip(u, 0.0, 1.0) * (w_hi - w_lo))
        if self.is_integer:
            x = np.floor(x + 0.5)
        return np.clip(x, self.low, self.high)

    def python_value(self, x: float) -> int | float:
        return int(x) if self.is_integer else float(x)

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool):
            return False
        if self.is_integer:
            if not isinstance(value, (int, np.integer)):
                return False
        elif not isinstance(value, (int, float, np.integer, np.floating)):
            return False
        return bool(math.isfinite(value) and self.low <= value <= self.high)

    def coerce(self, value: Any) -> int | float:
        """The value as this range's type when that is unambiguous, else ``ValueError`` saying why.

        Numbers may arrive as numeric strings (AMT hyperparameters travel as strings); an integer
        may arrive as an integral float (``4.0``, ``"4.0"``, as JSON or pandas leave it). A
        fractional value for an integer range, a non-number, or a value outside the range is
        ambiguous and refused."""
        if isinstance(value, bool) or not isinstance(value, (str, int, float, np.integer, np.floating)):
            raise ValueError(f"{self.name}={value!r} is not a number")
        try:
            number = float(value.strip()) if isinstance(value, str) else float(value)
        except ValueError:
            raise ValueError(f"{self.name}={value!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"{self.name}={value!r} is not finite")
        if self.is_integer and number != math.floor(number):
            raise ValueError(f"{self.name}={value!r} is not an integer")
        if not self.low <= number <= self.high:
            raise ValueError(f"{self.name}={value!r} is outside [{self.python_value(self.low)}, "
                             f"{self.python_value(self.high)}]")
        return self.python_value(number)

    def grid_values(self) -> list[int | float]:
        """The values a grid visits: every integer (or every ``grid_step``), or ``grid_count``
        values evenly spaced in the scaled space."""
        if self.grid_count is not None:
            u = np.linspace(0.0, 1.0, self.grid_count)
            lo, hi = self._warp(np.float64(self.low)), self._warp(np.float64(self.high))
            x = np.clip(self._unwarp(lo + u * (hi - lo)), self.low, self.high)
            if self.is_integer:
                x = np.unique(np.floor(x + 0.5))
            return [self.python_value(v) for v in x]
        if self.grid_step is not None:
            count = int(math.floor((self.high - self.low) / self.grid_step + 1e-9)) + 1
            x = self.low + self.grid_step * np.arange(count)
            return [self.python_value(v) for v in np.clip(x, self.low, self.high)]
        if self.is_integer:
            return list(range(int(self.low), int(self.high) + 1))
        raise SearchSpaceError(
            self.name, "a continuous range needs NumberOfValues or Step for the Grid strategy"
        )


@dataclass(frozen=True)
class CategoricalParameter:
    name: str
    choices: tuple[str, ...]

    def contains(self, value: Any) -> bool:
        return isinstance(value, str) and value in self.choices

    def coerce(self, value: Any) -> str:
        """The choice ``value`` names: the string itself, or a number or bool whose ``str`` is
        exactly one of the choices (``1`` for ``"1"``); ``ValueError`` otherwise."""
        text = value if isinstance(value, str) else (
            str(value) if isinstance(value, (bool, int, float, np.integer, np.floating)) else None)
        if text is None or text not in self.choices:
            raise ValueError(f"{self.name}={value!r} is not one of {', '.join(self.choices)}")
        return text


Parameter = NumericParameter | CategoricalParameter


@dataclass(frozen=True)
class SearchSpace:
    """Tunable parameters in a fixed order, plus static hyperparameters passed through."""

    parameters: tuple[Parameter, ...]
    static: Mapping[str, Any] = field(default_factory=dict)
    # Conditional parameters: name -> conditions that must all hold (skytune.optimize.conditional).
    conditions: Mapping[str, tuple[Condition, ...]] = field(default_factory=dict)

    # ----- shape ---------------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def dimension(self) -> int:
        return len(self.parameters)

    def feature_blocks(self) -> list[tuple[int, int]]:
        """``(start, width)`` of each parameter's columns in the feature encoding."""
        blocks, start = [], 0
        for p in self.parameters:
            width = len(p.choices) if isinstance(p, CategoricalParameter) else 1
            blocks.append((start, width))
            start += width
        return blocks

    @property
    def feature_count(self) -> int:
        return sum(width for _, width in self.feature_blocks())

    # ----- membership ----------------------------------------------------------------------
    def key(self, config: Mapping[str, Any]) -> tuple:
        """The identity of a configuration in this space: numbers as rounded floats, so that 3, 3.0,
        "3" and a value that went through JSON are the same point; static values do not count.
        An inactive conditional parameter counts as None, whatever value it carries."""
        active = self.active(config)
        return tuple(
            None if p.name not in active else
            round(float(config[p.name]), 12) if isinstance(p, NumericParameter) else config[p.name]
            for p in self.parameters
        )

    def active(self, config: Mapping[str, Any]) -> set[str]:
        """The parameters that exist in ``config`` (all of them unless the space has conditions)."""
        if not self.conditions:
            return set(self.names)
        return active_names(self, config)

    def contains(self, config: Mapping[str, Any]) -> bool:
        """True when every active tunable parameter is present with an in-range value of the right
        type (and no inactive one is)."""
        active = self.active(config)
        return all((p.name in config and p.contains(config[p.name])) if p.name in active
                   else p.name not in config for p in self.parameters)

    def coerce(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` with every tunable value parsed to its range's type (see the parameters'
        ``coerce``) and static values added; ``ValueError`` naming the first parameter that is
        missing or cannot be placed unambiguously."""
        tunable = {}
        for p in self.parameters:
            if p.name not in config or config[p.name] is None:
                if self.conditions and p.name not in self.active({**config, **tunable}):
                    continue  # an inactive conditional parameter is absent
                raise ValueError(f"{p.name} is missing")
            tunable[p.name] = p.coerce(config[p.name])
        return self.with_static(tunable)

    def with_static(self, tunable: Mapping[str, Any]) -> dict[str, Any]:
        """The full hyperparameter dict a trial receives: static values, then the tunable ones
        (inactive conditional parameters left out)."""
        if self.conditions:
            active = self.active(tunable)
            tunable = {k: v for k, v in tunable.items() if k in active or k not in self.conditions}
        return {**self.static, **tunable}

    # ----- unit encoding -------------------------------------------------------------------
    def from_unit(self, z: np.ndarray) -> list[dict[str, Any]]:
        """Decode rows of ``z`` (shape (m, P), values in [0, 1]) to configurations."""
        z = np.atleast_2d(np.asarray(z, dtype=float))
        columns: list[list[Any]] = []
        for j, p in enumerate(self.parameters):
            if isinstance(p, CategoricalParameter):
                idx = np.minimum((np.clip(z[:, j], 0.0, 1.0) * len(p.choices)).astype(int),
                                 len(p.choices) - 1)
                columns.append([p.choices[i] for i in idx])
            else:
                columns.append([p.python_value(v) for v in p.from_unit(z[:, j])])
        return [self.with_static(dict(zip(self.names, row))) for row in zip(*columns)]

    def to_unit(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Encode configurations to (m, P); categorical values sit at the centre of their cell."""
        z = np.empty((len(configs), self.dimension))
        for j, p in enumerate(self.parameters):
            if isinstance(p, CategoricalParameter):
                z[:, j] = [(p.choices.index(c[p.name]) + 0.5) / len(p.choices) if p.name in c else 0.5
                           for c in configs]
            else:  # an absent (inactive) parameter sits mid-range here; the GP never uses this
                z[:, j] = [p.to_unit(np.array([float(c[p.name])]))[0] if p.name in c else 0.5 for c in configs]
        return z

    # ----- feature encoding (the GP's inputs) ----------------------------------------------
    def to_features(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Encode configurations to (m, F): unit value per numeric, one-hot per categorical."""
        x = np.zeros((len(configs), self.feature_count))
        for p, (start, width) in zip(self.parameters, self.feature_blocks()):
            if isinstance(p, CategoricalParameter):
                idx = [p.choices.index(c[p.name]) for c in configs]
                x[np.arange(len(configs)), start + np.asarray(idx, dtype=int)] = 1.0
            else:
                x[:, start] = p.to_unit(np.array([float(c[p.name]) for c in configs]))
        return x

    def from_features(self, x: np.ndarray) -> list[dict[str, Any]]:
        """Decode (m, F) features; a categorical takes the largest of its one-hot columns."""
        x = np.atleast_2d(x)
        columns: list[list[Any]] = []
        for p, (start, width) in zip(self.parameters, self.feature_blocks()):
            if isinstance(p, CategoricalParameter):
                idx = np.argmax(x[:, start : start + width], axis=1)
                columns.append([p.choices[i] for i in idx])
            else:
                columns.append([p.python_value(v) for v in p.from_unit(x[:, start])])
        return [self.with_static(dict(zip(self.names, row))) for row in zip(*columns)]

    def snap_features(self, x: np.ndarray) -> np.ndarray:
        """Move feature rows onto representable points: integers rounded, numeric values
        clipped into range, each categorical block made one-hot at its largest column."""
        out = np.array(x, dtype=float, copy=True)
        rows = np.arange(len(out))
        for p, (start, width) in zip(self.parameters, self.feature_blocks()):
            if isinstance(p, CategoricalParameter):
                idx = np.argmax(out[:, start : start + width], axis=1)
                out[:, start : start + width] = 0.0
                out[rows, start + idx] = 1.0
            else:
                out[:, start] = p.to_unit(p.from_unit(out[:, start]))
        return out

    def features_from_unit(self, z: np.ndarray) -> np.ndarray:
        """Unit rows (m, P) to snapped feature rows (m, F), without building dicts."""
        z = np.atleast_2d(z)
        out = np.zeros((len(z), self.feature_count))
        rows = np.arange(len(z))
        for j, (p, (start, width)) in enumerate(zip(self.parameters, self.feature_blocks())):
            if isinstance(p, CategoricalParameter):
                idx = np.minimum((np.clip(z[:, j], 0.0, 1.0) * width).astype(int), width - 1)
                out[rows, start + idx] = 1.0
            else:
                out[:, start] = p.to_unit(p.from_unit(z[:, j]))
        return out

    def numeric_feature_columns(self) -> np.ndarray:
        return np.array([start for p, (start, _) in zip(self.parameters, self.feature_blocks())
                         if isinstance(p, NumericParameter)], dtype=int)


# ----- parsing ---------------------------------------------------------------------------------
def parse_space(parameter_ranges: Mapping[str, Any], static: Mapping[str, Any] | None = None
                ) -> SearchSpace:  # noqa: C901
    """Build a :class:`SearchSpace` from AMT's ``ParameterRanges`` JSON.

    Numeric bounds arrive as strings (``"MinValue": "0.001"``) as AMT sends them; numbers are
    accepted too. Beyond AMT, numeric ranges may carry ``"NumberOfValues"`` (int >= 2) or
    ``"Step"`` (> 0) for the Grid strategy. Raises :class:`SearchSpaceError` naming the field.
    """
    root = "ParameterRanges"
    if not isinstance(parameter_ranges, Mapping):
        raise SearchSpaceError(root, "must be an object")
    unknown = set(parameter_ranges) - set(_RANGE_KINDS)
    if unknown:
        raise SearchSpaceError(f"{root}.{sorted(unknown)[0]}", "unknown range kind")

    parameters: list[Parameter] = []
    seen: dict[str, str] = {}
    conditions: dict[str, tuple[Condition, ...]] = {}
    for kind in _RANGE_KINDS:
        ranges = parameter_ranges.get(kind, [])
        if not isinstance(ranges, list):
            raise SearchSpaceError(f"{root}.{kind}", "must be a list")
        for i, spec in enumerate(ranges):
            where = f"{root}.{kind}[{i}]"
            if not isinstance(spec, Mapping):
                raise SearchSpaceError(where, "must be an object")
            _check_keys(spec, where, _CATEGORICAL_KEYS if kind == "CategoricalParameterRanges"
                        else _NUMERIC_KEYS)
            name = _parse_name(spec, where)
            if name in seen:
                raise SearchSpaceError(f"{where}.Name", f"duplicate parameter name (also {seen[name]})")
            seen[name] = where
            if "Conditions" in spec:
                conditions[name] = parse_conditions(spec["Conditions"], f"{where}.Conditions")
            if kind == "CategoricalParameterRanges":
                parameters.append(_parse_categorical(spec, where, name))
            else:
                parameters.append(_parse_numeric(spec, where, name, kind == "IntegerParameterRanges"))

    if not parameters:
        raise SearchSpaceError(root, "at least one tunable parameter is required")
    if len(parameters) > MAX_TUNABLE_PARAMETERS:
        raise SearchSpaceError(
            root, f"{len(parameters)} tunable parameters; at most {MAX_TUNABLE_PARAMETERS} are allowed"
        )
    check_conditions(parameters, conditions, seen)
    static = dict(static or {})
    for name in static:
        if name in seen:
            raise SearchSpaceError(f"StaticHyperParameters.{name}", "also declared as a tunable range")
    return SearchSpace(tuple(parameters), static, conditions)


def _check_keys(spec: Mapping[str, Any], where: str, allowed: tuple[str, ...]) -> None:
    for key in spec:
        if key not in allowed:
            raise SearchSpaceError(f"{where}.{key}",
                                   f"unknown key {key!r}; a range takes {', '.join(allowed)}")


def _parse_name(spec: Mapping[str, Any], where: str) -> str:
    name = spec.get("Name")
    if not isinstance(name, str) or not name:
        raise SearchSpaceError(f"{where}.Name", "must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise SearchSpaceError(f"{where}.Name", f"longer than {MAX_NAME_LENGTH} characters")
    return name


def _parse_number(spec: Mapping[str, Any], key: str, where: str, integer: bool) -> float:
    raw = spec.get(key)
    if raw is None:
        raise SearchSpaceError(f"{where}.{key}", "is required")
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise SearchSpaceError(f"{where}.{key}", "must be a number or a numeric string")
    try:
        value = float(raw) if not integer else _parse_integer(raw)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise SearchSpaceError(f"{where}.{key}", f"{raw!r} is not {kind}") from None
    if not math.isfinite(value):
        raise SearchSpaceError(f"{where}.{key}", "must be finite")
    return value


def _parse_integer(raw: str | int | float) -> float:
    if isinstance(raw, str):
        return float(int(raw.strip()))
    if float(raw) != int(raw):
        raise ValueError
    return float(int(raw))


def _parse_numeric(spec: Mapping[str, Any], where: str, name: str, integer: bool) -> NumericParameter:
    low = _parse_number(spec, "MinValue", where, integer)
    high = _parse_number(spec, "MaxValue", where, integer)
    if low >= high:
        raise SearchSpaceError(
            f"{where}.MaxValue",
            "must be greater than MinValue (empty range; use a static hyperparameter for one value)",
        )
    scaling = spec.get("ScalingType", "Auto")
    if scaling not in _SCALING_TYPES:
        raise SearchSpaceError(f"{where}.ScalingType", f"must be one of {', '.join(_SCALING_TYPES)}")
    if scaling == "Auto":
        scaling = "Logarithmic" if low > 0 and high / low >= AUTO_LOG_RATIO else "Linear"
    if scaling == "Logarithmic" and low <= 0:
        raise SearchSpaceError(f"{where}.MinValue", "Logarithmic scaling needs MinValue > 0")
    if scaling == "ReverseLogarithmic":
        if integer:
            raise SearchSpaceError(f"{where}.ScalingType", "ReverseLogarithmic is for continuous ranges only")
        if low < 0 or high >= 1:
            raise SearchSpaceError(f"{where}.MaxValue" if low >= 0 else f"{where}.MinValue",
                                   "ReverseLogarithmic scaling needs 0 <= MinValue and MaxValue < 1")

    step = count = None
    if "Step" in spec and "NumberOfValues" in spec:
        raise SearchSpaceError(f"{where}.Step", "give either Step or NumberOfValues, not both")
    if "Step" in spec:
        step = _parse_number(spec, "Step", where, integer)
        if step <= 0:
            raise SearchSpaceError(f"{where}.Step", "must be positive")
    if "NumberOfValues" in spec:
        count = int(_parse_number(spec, "NumberOfValues", where, integer=True))
        if count < 2:
            raise SearchSpaceError(f"{where}.NumberOfValues", "must be at least 2")
    return NumericParameter(name, low, high, scaling, integer, step, count)


def _parse_categorical(spec: Mapping[str, Any], where: str, name: str) -> CategoricalParameter:
    values = spec.get("Values")
    if not isinstance(values, list) or not values:
        raise SearchSpaceError(f"{where}.Values", "must be a non-empty list of strings")
    if len(values) > MAX_CATEGORICAL_VALUES:
        raise SearchSpaceError(
            f"{where}.Values", f"{len(values)} values; at most {MAX_CATEGORICAL_VALUES} are allowed"
        )
    seen: set[str] = set()
    for j, value in enumerate(values):
        if not isinstance(value, str):
            raise SearchSpaceError(f"{where}.Values[{j}]", "must be a string")
        if value in seen:
            raise SearchSpaceError(f"{where}.Values[{j}]", f"duplicate value {value!r}")
        seen.add(value)
    return CategoricalParameter(name, tuple(values))
