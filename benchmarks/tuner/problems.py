"""Test functions with known optima, each with its AMT search space."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Problem:
    name: str
    parameter_ranges: dict
    function: Callable[[Mapping[str, Any]], float]
    optimum: float


def branin(c: Mapping[str, Any]) -> float:
    x1, x2 = c["x1"], c["x2"]
    b, cc, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + cc * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])


def hartmann6(c: Mapping[str, Any]) -> float:
    x = np.array([c[f"x{i}"] for i in range(1, 7)])
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


_ACTIVATION_PENALTY = {"relu": 0.3, "gelu": 0.0, "tanh": 0.8}


def mixed(c: Mapping[str, Any]) -> float:
    return ((math.log10(c["lr"]) + 3) ** 2 + 0.1 * (c["layers"] - 4) ** 2
            + _ACTIVATION_PENALTY[c["act"]])


def _continuous(name: str, low: float, high: float, scaling: str = "Linear") -> dict:
    return {"Name": name, "MinValue": str(low), "MaxValue": str(high), "ScalingType": scaling}


PROBLEMS: dict[str, Problem] = {
    "branin": Problem("branin", {"ContinuousParameterRanges": [
        _continuous("x1", -5, 10), _continuous("x2", 0, 15)]}, branin, 0.397887),
    "hartmann6": Problem("hartmann6", {"ContinuousParameterRanges": [
        _continuous(f"x{i}", 0, 1) for i in range(1, 7)]}, hartmann6, -3.32237),
    "mixed": Problem("mixed", {
        "ContinuousParameterRanges": [_continuous("lr", 1e-6, 1, "Logarithmic")],
        "IntegerParameterRanges": [{"Name": "layers", "MinValue": "1", "MaxValue": "12",
                                    "ScalingType": "Linear"}],
        "CategoricalParameterRanges": [{"Name": "act", "Values": ["relu", "gelu", "tanh"]}],
    }, mixed, 0.0),
}
