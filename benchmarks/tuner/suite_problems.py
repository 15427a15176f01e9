"""The broad optimiser suite's problems: standard synthetic functions from the Bayesian-optimisation
literature, each *shifted randomly per seed* so the optimum is not where a design looks first (the
centre, a corner, a Sobol point), plus scikit-learn tuning tasks on bundled data sets.

A shifted function evaluates ``f(x - delta)``: ``delta`` moves one global minimiser ``x*`` to a
point drawn uniformly in the inner 80 % of the search box (integer problems: to an integer point).
Every function here attains its global minimum ``f*`` over the whole of R^d at ``x*``, so the
shifted problem's optimum is still ``f*`` and the regret stays exact.

numpy only (the scikit-learn tasks import scikit-learn lazily), so the smoke test in ``make test``
can build and check every synthetic problem.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.tuner.problems import Problem


# ----- standard functions on R^d (vectorised over the last axis) ------------------------------
def branin(x: np.ndarray) -> float:
    x1, x2 = x
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return float((x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10)


def camel6(x: np.ndarray) -> float:
    x1, x2 = x
    return float((4 - 2.1 * x1**2 + x1**4 / 3) * x1**2 + x1 * x2 + (-4 + 4 * x2**2) * x2**2)


_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann3(x: np.ndarray) -> float:
    return float(-np.sum(_H_ALPHA * np.exp(-np.sum(_H3_A * (x - _H3_P) ** 2, axis=1))))


def hartmann6(x: np.ndarray) -> float:
    return float(-np.sum(_H_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def ackley(x: np.ndarray) -> float:
    d = len(x)
    return float(-20 * np.exp(-0.2 * np.sqrt(np.sum(x**2) / d)) - np.exp(np.sum(np.cos(2 * np.pi * x)) / d)
                 + 20 + math.e)


def levy(x: np.ndarray) -> float:
    w = 1 + (x - 1) / 4
    return float(np.sin(np.pi * w[0]) ** 2
                 + np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2))
                 + (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2))


def rosenbrock(x: np.ndarray) -> float:
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def styblinski_tang(x: np.ndarray) -> float:
    return float(0.5 * np.sum(x**4 - 16 * x**2 + 5 * x))


def rastrigin(x: np.ndarray) -> float:
    return float(10 * len(x) + np.sum(x**2 - 10 * np.cos(2 * np.pi * x)))


def griewank(x: np.ndarray) -> float:
    i = np.arange(1, len(x) + 1)
    return float(np.sum(x**2) / 4000 - np.prod(np.cos(x / np.sqrt(i))) + 1)


_H6_XSTAR = np.array([0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573])
_H3_XSTAR = np.array([0.114614, 0.555649, 0.852547])
_ST_XSTAR = -2.903534


@dataclass(frozen=True)
class Synthetic:
    """A standard function, its usual box, one global minimiser and the minimum."""

    function: Callable[[np.ndarray], float]
    dimension: int
    low: float | np.ndarray
    high: float | np.ndarray
    xstar: np.ndarray
    fstar: float
    kind: str = "continuous"  # or "integer", "log" (log10-scaled ranges), "categorical"


def _box(low, high, d):
    return np.broadcast_to(np.asarray(low, float), (d,)).copy(), np.broadcast_to(np.asarray(high, float), (d,)).copy()


SYNTHETIC: dict[str, Synthetic] = {
    "branin2": Synthetic(branin, 2, np.array([-5.0, 0.0]), np.array([10.0, 15.0]),
                         np.array([math.pi, 2.275]), 0.397887357729739),
    "camel2": Synthetic(camel6, 2, np.array([-3.0, -2.0]), np.array([3.0, 2.0]),
                        np.array([0.0898, -0.7126]), -1.031628453489877),
    "hartmann3": Synthetic(hartmann3, 3, 0.0, 1.0, _H3_XSTAR, -3.86278214782076),
    "hartmann6": Synthetic(hartmann6, 6, 0.0, 1.0, _H6_XSTAR, -3.32236801141551),
    "ackley5": Synthetic(ackley, 5, -32.768, 32.768, np.zeros(5), 0.0),
    "levy8": Synthetic(levy, 8, -10.0, 10.0, np.ones(8), 0.0),
    "rosenbrock4": Synthetic(rosenbrock, 4, -5.0, 10.0, np.ones(4), 0.0),
    "styblinski10": Synthetic(styblinski_tang, 10, -5.0, 5.0, np.full(10, _ST_XSTAR), -39.16616570377142 * 10),
    "griewank12": Synthetic(griewank, 12, -30.0, 30.0, np.zeros(12), 0.0),
    "ackley20": Synthetic(ackley, 20, -32.768, 32.768, np.zeros(20), 0.0),
    "rastrigin4int": Synthetic(rastrigin, 4, -5.0, 5.0, np.zeros(4), 0.0, "integer"),
    "levy6int": Synthetic(levy, 6, -10.0, 10.0, np.ones(6), 0.0, "integer"),
    "rosenbrock3log": Synthetic(rosenbrock, 3, -2.0, 3.0, np.ones(3), 0.0, "log"),
    "hartmann6cat": Synthetic(hartmann6, 6, 0.0, 1.0, _H6_XSTAR, -3.32236801141551, "categorical"),
}

# Integer problems run on a coarse lattice: x = low + k * step, so the minimiser must be a lattice
# point; levy's minimiser (1, ..., 1) and rastrigin's 0 are, with step 1 and 0.5.
_INTEGER_STEP = {"rastrigin4int": 0.5, "levy6int": 1.0}
# hartmann6cat: each of the last two coordinates is a categorical with 6 levels at 0, 0.2, ..., 1.0
# (the shift puts the minimiser's last two coordinates on levels).
_CATEGORICAL_LEVELS = np.linspace(0.0, 1.0, 6)


def make_synthetic(name: str, seed: int) -> Problem:
    """The named function with its optimum moved by this seed (see module docstring)."""
    spec = SYNTHETIC[name]
    d = spec.dimension
    low, high = _box(spec.low, spec.high, d)
    rng = np.random.default_rng([seed, 0x5F1F7, sum(map(ord, name))])
    target = low + (0.1 + 0.8 * rng.random(d)) * (high - low)  # new minimiser, inner 80 %
    if spec.kind == "integer":
        step = _INTEGER_STEP[name]
        target = spec.xstar + step * np.round((target - spec.xstar) / step)
    if spec.kind == "categorical":
        target[-2:] = _CATEGORICAL_LEVELS[np.argmin(np.abs(_CATEGORICAL_LEVELS[None, :] - target[-2:, None]), axis=1)]
    delta = target - spec.xstar
    names = [f"x{i}" for i in range(d)]

    if spec.kind == "integer":
        step = _INTEGER_STEP[name]
        counts = np.round((high - low) / step).astype(int)
        ranges = {"IntegerParameterRanges": [{"Name": n, "MinValue": "0", "MaxValue": str(int(c)),
                                              "ScalingType": "Linear"} for n, c in zip(names, counts)]}

        def point(c: Mapping[str, Any]) -> np.ndarray:
            return low + step * np.array([float(c[n]) for n in names])
    elif spec.kind == "log":
        # the parameter p in [1e-3, 1e2] is log-scaled and x = low + (log10 p + 3) / 5 * (high - low):
        # the function is smooth in log p, as a learning rate's effect is.
        ranges = {"ContinuousParameterRanges": [{"Name": n, "MinValue": "0.001", "MaxValue": "100",
                                                 "ScalingType": "Logarithmic"} for n in names]}

        def point(c: Mapping[str, Any]) -> np.ndarray:
            return low + (np.log10([float(c[n]) for n in names]) + 3.0) / 5.0 * (high - low)
    elif spec.kind == "categorical":
        levels = [f"l{k}" for k in range(len(_CATEGORICAL_LEVELS))]
        ranges = {"ContinuousParameterRanges": [{"Name": n, "MinValue": str(lo), "MaxValue": str(hi),
                                                 "ScalingType": "Linear"}
                                                for n, lo, hi in zip(names[:-2], low[:-2], high[:-2])],
                  "CategoricalParameterRanges": [{"Name": n, "Values": levels} for n in names[-2:]]}

        def point(c: Mapping[str, Any]) -> np.ndarray:
            head = [float(c[n]) for n in names[:-2]]
            tail = [_CATEGORICAL_LEVELS[int(c[n][1:])] for n in names[-2:]]
            return np.array(head + tail)
    else:
        ranges = {"ContinuousParameterRanges": [{"Name": n, "MinValue": repr(float(lo)), "MaxValue": repr(float(hi)),
                                                 "ScalingType": "Linear"}
                                                for n, lo, hi in zip(names, low, high)]}

        def point(c: Mapping[str, Any]) -> np.ndarray:
            return np.array([float(c[n]) for n in names])

    def function(c: Mapping[str, Any]) -> float:
        return spec.function(point(c) - delta)

    problem = Problem(name, ranges, function, spec.fstar)
    object.__setattr__(problem, "optimum_config", _optimum_config(spec, name, names, low, high, target))
    return problem


def _optimum_config(spec: Synthetic, name: str, names, low, high, target) -> dict[str, Any]:
    """The configuration at the shifted minimiser (for the smoke test's exactness check)."""
    if spec.kind == "integer":
        return {n: int(round((t - lo) / _INTEGER_STEP[name])) for n, t, lo in zip(names, target, low)}
    if spec.kind == "log":
        return {n: 10 ** ((t - lo) / (hi - lo) * 5.0 - 3.0) for n, t, lo, hi in zip(names, target, low, high)}
    if spec.kind == "categorical":
        config: dict[str, Any] = {n: float(t) for n, t in zip(names[:-2], target[:-2])}
        for n, t in zip(names[-2:], target[-2:]):
            config[n] = f"l{int(np.argmin(np.abs(_CATEGORICAL_LEVELS - t)))}"
        return config
    return {n: float(t) for n, t in zip(names, target)}


# ----- scikit-learn tasks on bundled data sets ------------------------------------------------
# No known optimum: the "regret" is the cross-validated error minus the best error any method
# found on that task in the same run (report.py computes it); the error itself is reported too.
def _svm_cancer() -> Problem:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    x, y = load_breast_cancer(return_X_y=True)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)

    def error(c: Mapping[str, Any]) -> float:
        model = make_pipeline(StandardScaler(), SVC(C=c["C"], gamma=c["gamma"], kernel=c["kernel"]))
        return 1.0 - float(np.mean(cross_val_score(model, x, y, cv=folds)))

    return Problem("svm_cancer", {
        "ContinuousParameterRanges": [
            {"Name": "C", "MinValue": "0.001", "MaxValue": "1000", "ScalingType": "Logarithmic"},
            {"Name": "gamma", "MinValue": "0.00001", "MaxValue": "10", "ScalingType": "Logarithmic"}],
        "CategoricalParameterRanges": [{"Name": "kernel", "Values": ["rbf", "sigmoid"]}],
    }, error, 0.0)


def _sgd_digits() -> Problem:
    import warnings

    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    folds = StratifiedKFold(3, shuffle=True, random_state=0)

    def error(c: Mapping[str, Any]) -> float:
        model = make_pipeline(StandardScaler(), SGDClassifier(
            loss=c["loss"], alpha=c["alpha"], l1_ratio=c["l1_ratio"], penalty="elasticnet",
            max_iter=int(c["max_iter"]), tol=None, random_state=0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return 1.0 - float(np.mean(cross_val_score(model, x, y, cv=folds)))

    return Problem("sgd_digits", {
        "ContinuousParameterRanges": [
            {"Name": "alpha", "MinValue": "0.000001", "MaxValue": "1", "ScalingType": "Logarithmic"},
            {"Name": "l1_ratio", "MinValue": "0", "MaxValue": "1", "ScalingType": "Linear"}],
        "IntegerParameterRanges": [{"Name": "max_iter", "MinValue": "2", "MaxValue": "30", "ScalingType": "Linear"}],
        "CategoricalParameterRanges": [{"Name": "loss", "Values": ["hinge", "log_loss", "modified_huber"]}],
    }, error, 0.0)


def _kernel_ridge_diabetes() -> Problem:
    from sklearn.datasets import load_diabetes
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = load_diabetes(return_X_y=True)
    folds = KFold(5, shuffle=True, random_state=0)

    def error(c: Mapping[str, Any]) -> float:
        model = make_pipeline(StandardScaler(), KernelRidge(alpha=c["alpha"], gamma=c["gamma"], kernel=c["kernel"]))
        mse = -float(np.mean(cross_val_score(model, x, y, cv=folds, scoring="neg_mean_squared_error")))
        return mse / float(np.var(y))  # fraction of variance unexplained

    return Problem("kridge_diabetes", {
        "ContinuousParameterRanges": [
            {"Name": "alpha", "MinValue": "0.0001", "MaxValue": "100", "ScalingType": "Logarithmic"},
            {"Name": "gamma", "MinValue": "0.00001", "MaxValue": "1", "ScalingType": "Logarithmic"}],
        "CategoricalParameterRanges": [{"Name": "kernel", "Values": ["rbf", "laplacian"]}],
    }, error, 0.0)


def _tree_wine() -> Problem:
    from sklearn.datasets import load_wine
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.tree import DecisionTreeClassifier

    x, y = load_wine(return_X_y=True)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)

    def error(c: Mapping[str, Any]) -> float:
        model = DecisionTreeClassifier(max_depth=int(c["max_depth"]), min_samples_leaf=int(c["min_samples_leaf"]),
                                       max_features=c["max_features"], ccp_alpha=c["ccp_alpha"],
                                       criterion=c["criterion"], random_state=0)
        return 1.0 - float(np.mean(cross_val_score(model, x, y, cv=folds)))

    return Problem("tree_wine", {
        "ContinuousParameterRanges": [
            {"Name": "max_features", "MinValue": "0.1", "MaxValue": "1", "ScalingType": "Linear"},
            {"Name": "ccp_alpha", "MinValue": "0.0001", "MaxValue": "0.3", "ScalingType": "Logarithmic"}],
        "IntegerParameterRanges": [
            {"Name": "max_depth", "MinValue": "1", "MaxValue": "16", "ScalingType": "Linear"},
            {"Name": "min_samples_leaf", "MinValue": "1", "MaxValue": "40", "ScalingType": "Linear"}],
        "CategoricalParameterRanges": [{"Name": "criterion", "Values": ["gini", "entropy", "log_loss"]}],
    }, error, 0.0)


SKLEARN: dict[str, Callable[[], Problem]] = {
    "svm_cancer": _svm_cancer,
    "sgd_digits": _sgd_digits,
    "kridge_diabetes": _kernel_ridge_diabetes,
}
# Development problems: run by name, outside the suite's table. tree_wine (round 11) is a
# quantised objective (a cross-validated error on 178 samples: flat plateaus) other than
# svm_cancer, so a rule for plateaus can be developed without tuning on the suite's own tasks
DEVELOPMENT: dict[str, Callable[[], Problem]] = {"tree_wine": _tree_wine}
SUITE = tuple(SYNTHETIC) + tuple(SKLEARN)


def make_problem(name: str, seed: int) -> Problem:
    if name in SYNTHETIC:
        return make_synthetic(name, seed)
    return {**SKLEARN, **DEVELOPMENT}[name]()
