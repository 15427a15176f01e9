"""Beyond AMT (issue 15 section 3): multi-objective, conditional and constrained tuning against
Optuna's samplers in the same run, paired by seed.

    python -m benchmarks.beyond_amt --part multiobjective --seeds 20 --budget 40 --jobs 2
    python -m benchmarks.beyond_amt --part conditional --seeds 20 --budget 40 --jobs 2
    python -m benchmarks.beyond_amt --part constrained --seeds 20 --budget 40 --jobs 2
    python -m benchmarks.beyond_amt --smoke      # seconds; part of `make test`

Metrics (lower is better, per seed after the budget):

* multi-objective: log10 hypervolume regret, log10(HV* - HV) of every evaluated point against the
  problem's reference point (HV* the front's hypervolume, known analytically);
* conditional: log10 simple regret (best found - optimum, floored at 1e-12) of a tree-structured
  problem whose optimum is known and moves per seed;
* constrained: log10 regret of the best *feasible* value (a run without a feasible point counts
  the worst feasible value of the problem); the optimum comes from a dense grid.

Each table gives each method's mean with its standard error, and skytune minus each peer, seed by
seed, with the standard error of the difference: a win (loss) is a difference below (above) -2
(+2) standard errors, otherwise a tie. Skytune runs the strategy a tuning job runs
(:func:`skytune.optimize.extended.suggest_extended`) sequentially.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402

from skytune.optimize import Observation, parse_space, suggest  # noqa: E402
from skytune.optimize.conditional import resolution_order  # noqa: E402
from skytune.optimize.constraints import OutcomeConstraint  # noqa: E402
from skytune.optimize.extended import Goal, Outcome, suggest_extended  # noqa: E402
from skytune.optimize.gp import Prior  # noqa: E402
from skytune.optimize.multiobjective import hypervolume  # noqa: E402


# ---------------------------------------------------------------------------------------------
# Problems
# ---------------------------------------------------------------------------------------------
@dataclass
class Problem:
    name: str
    kind: str  # multiobjective | conditional | constrained
    ranges: dict  # AMT ParameterRanges (with Conditions for the conditional problem)
    function: Callable[[dict], dict[str, float]]  # config -> metrics
    objectives: list[str] = field(default_factory=lambda: ["f"])
    constraints: list[OutcomeConstraint] = field(default_factory=list)
    reference: np.ndarray | None = None  # multi-objective: HV reference point
    best: float = 0.0  # HV* (multi-objective) or the optimum (others)
    worst: float = 0.0  # constrained: the worst feasible value


def _box(d: int) -> dict:
    return {"ContinuousParameterRanges": [{"Name": f"x{i}", "MinValue": 0, "MaxValue": 1} for i in range(d)]}


def _x(c: dict, d: int) -> np.ndarray:
    return np.array([c[f"x{i}"] for i in range(d)])


def zdt(kind: int, d: int = 6) -> Problem:
    def f(c):
        x = _x(c, d)
        g = 1 + 9 * x[1:].mean()
        h = 1 - math.sqrt(x[0] / g) if kind == 1 else 1 - (x[0] / g) ** 2
        return {"f1": float(x[0]), "f2": float(g * h)}
    # front f2 = 1 - sqrt(f1) (ZDT1) or 1 - f1^2 (ZDT2), f1 in [0, 1]; reference (11, 11)
    best = 121.0 - (1.0 / 3.0 if kind == 1 else 2.0 / 3.0)
    return Problem(f"zdt{kind}-{d}d", "multiobjective", _box(d), f, ["f1", "f2"], reference=np.array([11.0, 11.0]),
                   best=best)


def _zdt3_front_hv(reference: np.ndarray, n: int = 200001) -> float:
    """HV* of ZDT3's disconnected front (f2 = 1 - sqrt(f1) - f1 sin(10 pi f1), f1 in [0, 1], its
    non-dominated part) against ``reference``: exact 2-D hypervolume of n front points (to ~1e-5).
    Computed here rather than with skytune's ``hypervolume``: the benchmark's ground truth stays
    independent of the code it scores, and a unit test checks one against the other."""
    f1 = np.linspace(0.0, 1.0, n)
    f2 = 1 - np.sqrt(f1) - f1 * np.sin(10 * np.pi * f1)
    keep = f2 < np.minimum.accumulate(np.concatenate([[np.inf], f2[:-1]]))  # below every point to its left
    f1, f2 = f1[keep], f2[keep]
    widths = np.diff(np.concatenate([f1, [reference[0]]]))
    return float(np.sum(widths * (reference[1] - f2)))


def zdt3(d: int = 6) -> Problem:
    """ZDT3 (Zitzler, Deb, Thiele 2000): a front of five disconnected pieces; held out in round 13b."""
    def f(c):
        x = _x(c, d)
        g = 1 + 9 * x[1:].mean()
        r = x[0] / g
        return {"f1": float(x[0]), "f2": float(g * (1 - math.sqrt(r) - r * math.sin(10 * math.pi * x[0])))}
    reference = np.array([11.0, 11.0])
    return Problem(f"zdt3-{d}d", "multiobjective", _box(d), f, ["f1", "f2"], reference=reference,
                   best=_zdt3_front_hv(reference))


def dtlz2(d: int = 6, m: int = 3) -> Problem:
    def f(c):
        x = _x(c, d)
        g = float(np.sum((x[m - 1:] - 0.5) ** 2))
        out = []
        for i in range(m):
            v = 1 + g
            for j in range(m - 1 - i):
                v *= math.cos(x[j] * math.pi / 2)
            if i > 0:
                v *= math.sin(x[m - 1 - i] * math.pi / 2)
            out.append(v)
        return {f"f{i + 1}": out[i] for i in range(m)}
    ref = np.full(m, 1.1)
    return Problem(f"dtlz2-{d}d-{m}obj", "multiobjective", _box(d), f, [f"f{i + 1}" for i in range(m)],
                   reference=ref, best=float(np.prod(ref) - math.pi / 6))


def _dtlz7_front_hv(reference: np.ndarray, n: int = 2001) -> float:
    """HV* of DTLZ7's 3-objective front (g = 1: f3 = 6 - sum_i f_i (1 + sin(3 pi f_i)), f1, f2 in
    [0, 1]) against ``reference``: the integral over (a, b) of reference_3 minus the lowest f3 of the
    front points with f1 <= a, f2 <= b, on an n x n grid (cumulative minima; exact to ~1e-3)."""
    a = np.linspace(0.0, reference[0], n)
    b = np.linspace(0.0, reference[1], n)
    fa, fb = np.minimum(a, 1.0), np.minimum(b, 1.0)
    f3 = 6.0 - (fa * (1 + np.sin(3 * np.pi * fa)))[:, None] - (fb * (1 + np.sin(3 * np.pi * fb)))[None, :]
    low = np.minimum.accumulate(np.minimum.accumulate(f3, axis=0), axis=1)
    height = np.maximum(reference[2] - low, 0.0)
    # trapezoid rule over the grid
    return float(np.trapezoid(np.trapezoid(height, b, axis=1), a))


def dtlz7(d: int = 6, m: int = 3) -> Problem:
    """DTLZ7 (Deb et al. 2005): a disconnected front of four patches; held out (added in round 4
    to check the 3-objective fix on a problem it was not developed on)."""
    def f(c):
        x = _x(c, d)
        g = 1 + 9 * float(np.mean(x[m - 1:]))
        head = [float(v) for v in x[: m - 1]]
        h = m - sum(v / (1 + g) * (1 + math.sin(3 * math.pi * v)) for v in head)
        return {**{f"f{i + 1}": head[i] for i in range(m - 1)}, f"f{m}": (1 + g) * h}
    ref = np.array([1.1, 1.1, 6.6])
    return Problem(f"dtlz7-{d}d-{m}obj", "multiobjective", _box(d), f, [f"f{i + 1}" for i in range(m)],
                   reference=ref, best=_dtlz7_front_hv(ref))


def branin_currin() -> Problem:
    def f(c):
        x0, x1 = c["x0"], c["x1"]
        a, b = 15 * x0 - 5, 15 * x1
        branin = (b - 5.1 / (4 * math.pi**2) * a**2 + 5 / math.pi * a - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(a) + 10
        x1c = max(x1, 1e-9)
        currin = (1 - math.exp(-1 / (2 * x1c))) * (2300 * x0**3 + 1900 * x0**2 + 2092 * x0 + 60) / (
            100 * x0**3 + 500 * x0**2 + 4 * x0 + 20)
        return {"f1": branin, "f2": currin}
    # BoTorch's BraninCurrin: reference (18, 6), maximal hypervolume 59.36011874867746
    return Problem("branin-currin", "multiobjective", _box(2), f, ["f1", "f2"], reference=np.array([18.0, 6.0]),
                   best=59.36011874867746)


CONDITIONAL_RANGES = {
    "CategoricalParameterRanges": [{"Name": "optimizer", "Values": ["sgd", "adam", "rmsprop"]}],
    "ContinuousParameterRanges": [
        {"Name": "lr", "MinValue": "0.00001", "MaxValue": "1", "ScalingType": "Logarithmic"},
        {"Name": "momentum", "MinValue": "0", "MaxValue": "1", "Conditions": [{"Parameter": "optimizer", "Values": ["sgd"]}]},
        {"Name": "beta", "MinValue": "0", "MaxValue": "1", "Conditions": [{"Parameter": "optimizer", "Values": ["adam"]}]}],
    "IntegerParameterRanges": [
        {"Name": "n_layers", "MinValue": "1", "MaxValue": "3"},
        *[{"Name": f"log2_units_{k}", "MinValue": "3", "MaxValue": "9",
           **({"Conditions": [{"Parameter": "n_layers", "MinValue": k}]} if k > 1 else {})} for k in (1, 2, 3)]],
}


def conditional(seed: int) -> Problem:
    """A tree-structured 'network' problem: three optimisers with their own parameters, one to
    three layers with per-layer sizes. Branch offsets, targets and the best layer count are drawn
    per seed, so the optimum (0) sits elsewhere for each seed."""
    rng = np.random.default_rng([seed, 0xC0])
    lr_target = rng.uniform(-4.5, -0.5)
    momentum, beta = rng.uniform(0.1, 0.9, 2)
    branch_offset = dict(zip(["sgd", "adam", "rmsprop"], rng.permutation([0.0, 0.15, 0.4])))
    layer_offset = dict(zip([1, 2, 3], rng.permutation([0.0, 0.1, 0.3])))
    units = rng.integers(3, 10, 3)

    def f(c):
        v = (math.log10(c["lr"]) - lr_target) ** 2 / 4 + branch_offset[c["optimizer"]]
        if c["optimizer"] == "sgd":
            v += 2 * (c["momentum"] - momentum) ** 2
        elif c["optimizer"] == "adam":
            v += 2 * (c["beta"] - beta) ** 2
        v += layer_offset[c["n_layers"]]
        v += sum((c[f"log2_units_{k}"] - units[k - 1]) ** 2 / 20 for k in range(1, c["n_layers"] + 1))
        return {"f": v}
    return Problem("conditional-net", "conditional", CONDITIONAL_RANGES, f, best=0.0)


def _grid_extremes(function, constraints, n=1201) -> tuple[float, float]:
    grid = np.linspace(0, 1, n)
    xs, ys = np.meshgrid(grid, grid)
    values = function(xs, ys)
    feasible = np.ones_like(values, dtype=bool)
    for c in constraints:
        feasible &= c(xs, ys)
    return float(values[feasible].min()), float(values[feasible].max())


def gardner() -> Problem:
    """Gardner et al. (2014): min cos(2x)cos(y) + sin(x) s.t. cos(x)cos(y) - sin(x)sin(y) <= 0.5,
    x, y in [0, 6] (here scaled to the unit square)."""
    def obj(u, v):
        x, y = 6 * u, 6 * v
        return np.cos(2 * x) * np.cos(y) + np.sin(x)

    def con(u, v):
        x, y = 6 * u, 6 * v
        return np.cos(x) * np.cos(y) - np.sin(x) * np.sin(y)
    best, worst = _grid_extremes(obj, [lambda u, v: con(u, v) <= 0.5])
    return Problem("gardner", "constrained", _box(2),
                   lambda c: {"f": float(obj(c["x0"], c["x1"])), "c": float(con(c["x0"], c["x1"]))},
                   constraints=[OutcomeConstraint("c", "<=", 0.5)], best=best, worst=worst)


def gramacy() -> Problem:
    """Gramacy et al. (2016): min x + y s.t. 1.5 - x - 2y - 0.5 sin(2 pi (x^2 - 2y)) <= 0 and
    x^2 + y^2 - 1.5 <= 0 on the unit square (two constraints; a small disconnected feasible set)."""
    def c1(x, y):
        return 1.5 - x - 2 * y - 0.5 * np.sin(2 * np.pi * (x**2 - 2 * y))

    def c2(x, y):
        return x**2 + y**2 - 1.5
    best, worst = _grid_extremes(lambda x, y: x + y, [lambda x, y: c1(x, y) <= 0, lambda x, y: c2(x, y) <= 0])
    return Problem("gramacy", "constrained", _box(2),
                   lambda c: {"f": c["x0"] + c["x1"], "c1": float(c1(c["x0"], c["x1"])), "c2": float(c2(c["x0"], c["x1"]))},
                   constraints=[OutcomeConstraint("c1", "<=", 0.0), OutcomeConstraint("c2", "<=", 0.0)],
                   best=best, worst=worst)


def constrained_branin() -> Problem:
    """Branin on [-5, 10] x [0, 15] s.t. (x1 - 2.5)^2 + (x2 - 7.5)^2 <= 50 (the unconstrained
    minima at (pi, 2.275) and (9.42, 2.475) are infeasible)."""
    def obj(u, v):
        a, b = 15 * u - 5, 15 * v
        return (b - 5.1 / (4 * np.pi**2) * a**2 + 5 / np.pi * a - 6) ** 2 + 10 * (1 - 1 / (8 * np.pi)) * np.cos(a) + 10

    def con(u, v):
        a, b = 15 * u - 5, 15 * v
        return (a - 2.5) ** 2 + (b - 7.5) ** 2
    best, worst = _grid_extremes(obj, [lambda u, v: con(u, v) <= 50])
    return Problem("branin-disc", "constrained", _box(2),
                   lambda c: {"f": float(obj(c["x0"], c["x1"])), "c": float(con(c["x0"], c["x1"]))},
                   constraints=[OutcomeConstraint("c", "<=", 50.0)], best=best, worst=worst)


PARTS: dict[str, dict[str, Callable[[int], Problem]]] = {
    "multiobjective": {"zdt1-6d": lambda s: zdt(1), "zdt2-6d": lambda s: zdt(2), "zdt3-6d": lambda s: zdt3(),
                       "dtlz2-6d-3obj": lambda s: dtlz2(), "dtlz7-6d-3obj": lambda s: dtlz7(),
                       "branin-currin": lambda s: branin_currin()},
    "conditional": {"conditional-net": conditional},
    "constrained": {"gardner": lambda s: gardner(), "gramacy": lambda s: gramacy(),
                    "branin-disc": lambda s: constrained_branin()},
}
METHODS = {
    "multiobjective": ["skytune-ehvi", "skytune-parego", "optuna-nsga2", "optuna-tpe", "optuna-gp", "random",
                       "skytune-ehvi-known-ref"],
    "conditional": ["skytune", "skytune-flat", "optuna-tpe", "random"],
    "constrained": ["skytune", "optuna-tpe", "optuna-gp", "random"],
}
OURS = {"multiobjective": "skytune-ehvi", "conditional": "skytune", "constrained": "skytune"}
# Round 5 ablations (BENCHMARKS.md, "Round 5: DTLZ2"), run only when named in --methods: a tighter
# default reference (30% inside the worst value observed instead of 10% past it), less exploration
# (posterior standard deviations x 0.3 in EHVI), both, and BoTorch's front-based reference
ABLATIONS = {"multiobjective": ["skytune-ehvi-tight", "skytune-ehvi-calm", "skytune-ehvi-tight-calm",
                                "skytune-ehvi-known-ref-calm", "skytune-ehvi-front-ref", "skytune-ehvi-r6",
                                "skytune-ehvi-box40", "skytune-ehvi-box20", "skytune-ehvi-box40-half",
                                "skytune-ehvi-box40-twothirds"],
             "constrained": ["skytune-r6"]}  # round 7: the single-objective model's round-6 choices


# ---------------------------------------------------------------------------------------------
# Methods: ask a configuration, tell its metrics
# ---------------------------------------------------------------------------------------------
class Skytune:
    def __init__(self, problem: Problem, seed: int, acquisition: str = "ehvi", **options: Any) -> None:
        self.problem, self.seed, self.acquisition, self.options = problem, seed, acquisition, options
        self.space = parse_space(problem.ranges)
        self.history: list[Outcome] = []

    def ask(self) -> dict:
        p = self.problem
        reference = self.options.get("reference")
        goals = [Goal(m, reference=None if reference is None else float(reference[j]))
                 for j, m in enumerate(p.objectives)]
        return suggest_extended(self.space, self.history, [], 1, self.seed, objectives=goals,
                                constraints=p.constraints, acquisition=self.acquisition,
                                **{k: v for k, v in self.options.items() if k != "reference"})[0]

    def tell(self, config: dict, metrics: dict) -> None:
        self.history.append(Outcome(config, metrics))


class SkytuneFlat:
    """Ablation: the single-objective Bayesian strategy on the *flat* space (every parameter
    always present; the function ignores inactive ones): what imputing inactive values costs."""

    def __init__(self, problem: Problem, seed: int) -> None:
        self.problem, self.seed = problem, seed
        flat = json.loads(json.dumps(problem.ranges))
        for ranges in flat.values():
            for r in ranges:
                r.pop("Conditions", None)
        self.flat, self.space = parse_space(flat), parse_space(problem.ranges)
        self.history: list[Observation] = []

    def ask(self) -> dict:
        config = suggest("Bayesian", self.flat, self.history, [], 1, self.seed)[0]
        self._last = config
        return self.space.coerce(config)  # the trial sees only its active parameters

    def tell(self, config: dict, metrics: dict) -> None:
        self.history.append(Observation(self._last, metrics["f"]))


class RandomSearch:
    def __init__(self, problem: Problem, seed: int) -> None:
        self.space = parse_space(problem.ranges)
        self.rng = np.random.default_rng([seed, 0x5EED])

    def ask(self) -> dict:
        return self.space.from_unit(self.rng.random((1, self.space.dimension)))[0]

    def tell(self, config: dict, metrics: dict) -> None:
        pass


class OptunaMethod:
    def __init__(self, name: str, problem: Problem, seed: int) -> None:
        import warnings

        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        self.problem, self.space = problem, parse_space(problem.ranges)
        constraints = None
        if problem.constraints:
            def constraints(trial):  # Optuna: feasible when every value <= 0
                return trial.user_attrs["constraints"]
        if name == "optuna-nsga2":
            sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=10)
        elif name == "optuna-tpe":
            sampler = optuna.samplers.TPESampler(seed=seed, constraints_func=constraints)
        elif name == "optuna-gp":
            sampler = optuna.samplers.GPSampler(seed=seed, constraints_func=constraints)
        else:
            raise ValueError(name)
        self.study = optuna.create_study(directions=["minimize"] * len(problem.objectives), sampler=sampler)

    def ask(self) -> dict:
        self.trial = self.study.ask()
        config = {}
        by_name = {p.name: p for p in self.space.parameters}
        for name, conds in resolution_order(self.space):  # parents first
            p = by_name[name]
            if not all(c.parameter in config and c.holds(config[c.parameter]) for c in conds):
                continue  # define-by-run: an inactive parameter is never sampled
            if hasattr(p, "choices"):
                config[p.name] = self.trial.suggest_categorical(p.name, list(p.choices))
            elif p.is_integer:
                config[p.name] = self.trial.suggest_int(p.name, int(p.low), int(p.high))
            else:
                config[p.name] = self.trial.suggest_float(p.name, p.low, p.high, log=p.scaling == "Logarithmic")
        return config

    def tell(self, config: dict, metrics: dict) -> None:
        p = self.problem
        if p.constraints:
            self.trial.set_user_attr("constraints", [
                (metrics[c.metric] - c.value) if c.operator == "<=" else (c.value - metrics[c.metric])
                for c in p.constraints])
        values = [metrics[m] for m in p.objectives]
        self.study.tell(self.trial, values if len(values) > 1 else values[0])


def make_method(name: str, problem: Problem, seed: int):
    if name == "skytune-ehvi" or name == "skytune":
        return Skytune(problem, seed, "ehvi")
    if name == "skytune-parego":
        return Skytune(problem, seed, "parego")
    if name == "skytune-ehvi-known-ref":  # the job states the problem's reference point
        return Skytune(problem, seed, "ehvi", reference=problem.reference)
    if name == "skytune-ehvi-front-ref":  # ablation: BoTorch's reference point (lost on ZDT1)
        return Skytune(problem, seed, "ehvi", ehvi_reference="front")
    if name == "skytune-ehvi-tight":
        return Skytune(problem, seed, "ehvi", ehvi_margin=-0.3)
    if name == "skytune-ehvi-calm":
        return Skytune(problem, seed, "ehvi", ehvi_sd_scale=0.3)
    if name == "skytune-ehvi-tight-calm":
        return Skytune(problem, seed, "ehvi", ehvi_margin=-0.3, ehvi_sd_scale=0.3)
    if name == "skytune-ehvi-known-ref-calm":
        return Skytune(problem, seed, "ehvi", reference=problem.reference, ehvi_sd_scale=0.3)
    if name in ("skytune-ehvi-r6", "skytune-r6"):  # round 7's candidate: the single-objective model's
        # round-6 choices (mixture noise prior, winsorized objective values)
        return Skytune(problem, seed, "ehvi", prior=Prior(noise_form="mixture"), output_transform="winsorize")
    if name.startswith("skytune-ehvi-box"):  # round 13: candidates in boxes around the Pareto set
        width, _, share = name.removeprefix("skytune-ehvi-box").partition("-")
        return Skytune(problem, seed, "ehvi", pareto_box=int(width) / 100,
                       pareto_box_share={"": 1.0, "half": 0.5, "twothirds": 2 / 3}[share])
    if name == "skytune-flat":
        return SkytuneFlat(problem, seed)
    if name == "random":
        return RandomSearch(problem, seed)
    return OptunaMethod(name, problem, seed)


# ---------------------------------------------------------------------------------------------
# Runs and tables
# ---------------------------------------------------------------------------------------------
def score(problem: Problem, evaluated: list[dict]) -> float:
    if problem.kind == "multiobjective":
        y = np.array([[m[o] for o in problem.objectives] for m in evaluated])
        return math.log10(max(problem.best - hypervolume(y, problem.reference), 1e-12))
    feasible = [m["f"] for m in evaluated if all(c.satisfied(m[c.metric]) for c in problem.constraints)]
    best = min(feasible) if feasible else problem.worst
    return math.log10(max(best - problem.best, 1e-12))


def run_one(args: tuple) -> dict:
    part, problem_name, method_name, seed, budget = args
    problem = PARTS[part][problem_name](seed)
    method = make_method(method_name, problem, seed)
    evaluated, asks, checkpoints = [], [], {}
    for i in range(budget):
        start = time.perf_counter()
        config = method.ask()
        asks.append(time.perf_counter() - start)
        metrics = problem.function(config)
        method.tell(config, metrics)
        evaluated.append(metrics)
        if i + 1 in (budget // 2, budget):
            checkpoints[i + 1] = score(problem, evaluated)
    return {"part": part, "problem": problem_name, "method": method_name, "seed": seed, "scores": checkpoints,
            "ask_seconds": float(np.median(asks))}


def paired(results: list[dict], ours: str) -> list[dict]:
    by: dict[tuple, dict[str, dict[int, dict]]] = defaultdict(lambda: defaultdict(dict))
    for r in results:
        by[(r["problem"])][r["method"]][r["seed"]] = r
    rows = []
    for problem, table in sorted(by.items()):
        budgets = sorted({int(b) for runs in table.values() for r in runs.values() for b in r["scores"]})
        for budget in budgets:
            for method in sorted(table, key=lambda m: (m != ours, m)):
                runs = table[method]
                values = np.array([runs[s]["scores"][budget] for s in sorted(runs)])
                row = {"problem": problem, "budget": budget, "method": method, "seeds": len(values),
                       "mean": float(values.mean()), "se": float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0,
                       "ask": float(np.median([r["ask_seconds"] for r in runs.values()]))}
                if method != ours and ours in table:
                    seeds = sorted(set(runs) & set(table[ours]))
                    diff = np.array([table[ours][s]["scores"][budget] - runs[s]["scores"][budget] for s in seeds])
                    se = float(diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else 0.0
                    mean = float(diff.mean())
                    row.update(diff=mean, diff_se=se,
                               verdict="win" if mean < -2 * se else "loss" if mean > 2 * se else "tie")
                rows.append(row)
    return rows


def render(part: str, results: list[dict], command: str, elapsed: float) -> str:
    ours = OURS[part]
    metric = {"multiobjective": "log10 hypervolume regret", "conditional": "log10 regret",
              "constrained": "log10 regret of the best feasible value"}[part]
    seeds = len({r["seed"] for r in results})
    lines = [f"### {part}", "", f"Command: `{command}`  ",
             f"{seeds} seeds, {len(results)} runs, {elapsed / 60:.1f} min (Python {platform.python_version()}). "
             f"Cells: mean {metric} ± standard error (lower is better); diff = {ours} − method, paired by seed, "
             "± its standard error; win/loss beyond 2 standard errors; ask = median seconds per suggestion.", "",
             "| problem | evals | method | mean ± se | diff vs " + ours + " | verdict | ask s |",
             "|---|---|---|---|---|---|---|"]
    for row in paired(results, ours):
        diff = f"{row['diff']:+.3f} ± {row['diff_se']:.3f}" if "diff" in row else "—"
        lines.append(f"| {row['problem']} | {row['budget']} | {row['method']} | {row['mean']:.3f} ± {row['se']:.3f} | "
                     f"{diff} | {row.get('verdict', '—')} | {row['ask']:.3f} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Suggestion cost (--latency): CPU seconds of one suggest_extended call on a random history
# ---------------------------------------------------------------------------------------------
LATENCY_CASES = (("2 objectives, EHVI", 2, 0, "ehvi"), ("2 objectives, ParEGO", 2, 0, "parego"),
                 ("3 objectives, EHVI", 3, 0, "ehvi"), ("1 objective + 1 constraint", 1, 1, "ehvi"))


def latency(n_trials: int, dimension: int = 6, repeats: int = 5) -> list[tuple[str, float]]:
    """Median ``time.process_time`` (single-threaded BLAS) of one suggestion with one pending
    trial, from ``n_trials`` random configurations scored by DTLZ2-like objectives."""
    space = parse_space(_box(dimension))
    rng = np.random.default_rng(0)
    configs = space.from_unit(rng.random((n_trials + 1, dimension)))
    out = []
    for label, m, k, acquisition in LATENCY_CASES:
        metrics = []
        for c in configs[:-1]:
            x = _x(c, dimension)
            g = 1 + float(np.sum((x[2:] - 0.5) ** 2))
            values = {"f1": g * math.cos(x[0] * math.pi / 2), "f2": g * math.sin(x[0] * math.pi / 2) * x[1],
                      "f3": g * (1 - x[1]), "c": float(x[0] + x[1])}
            metrics.append(values)
        history = [Outcome(c, mm) for c, mm in zip(configs[:-1], metrics)]
        goals = [Goal(f"f{j + 1}") for j in range(m)]
        constraints = [OutcomeConstraint("c", "<=", 1.0)] * k
        times = []
        for seed in range(repeats):
            started = time.process_time()
            suggest_extended(space, history, [configs[-1]], 1, seed, objectives=goals, constraints=constraints,
                             acquisition=acquisition)
            times.append(time.process_time() - started)
        out.append((label, float(np.median(times))))
    return out


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=sorted(PARTS), action="append")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--methods", help="comma-separated subset of the part's methods")
    parser.add_argument("--problems", help="comma-separated subset of the part's problems")
    parser.add_argument("--json", help="append finished runs here (JSON lines) and reuse them")
    parser.add_argument("--markdown", help="write the tables here")
    parser.add_argument("--smoke", action="store_true", help="2 seeds, 6 evaluations, skytune and random only")
    parser.add_argument("--latency", action="store_true",
                        help="CPU seconds per suggestion at 30 and 300 trials x 6 parameters, then exit")
    args = parser.parse_args(argv)
    if args.latency:
        lines = [f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}"]
        for n in (30, 300):
            lines += [f"{label}, {n} trials x 6: {seconds:.3f} s CPU" for label, seconds in latency(n)]
        return "\n".join(lines)
    parts = args.part or sorted(PARTS)
    if args.smoke:
        args.seeds, args.budget = 2, 6
    done: dict[tuple, dict] = {}
    if args.json and os.path.exists(args.json):
        with open(args.json) as f:
            for line in f:
                r = json.loads(line)
                r["scores"] = {int(k): v for k, v in r["scores"].items()}
                done[(r["part"], r["problem"], r["method"], r["seed"], max(r["scores"]))] = r
    tasks = []
    for part in parts:
        methods = METHODS[part]
        if args.smoke:
            methods = [m for m in methods if not m.startswith("optuna")]
        if args.methods:
            methods = [m for m in methods + ABLATIONS.get(part, []) if m in args.methods.split(",")]
        problems = [p for p in PARTS[part] if not args.problems or p in args.problems.split(",")]
        tasks += [(part, p, m, s, args.budget) for p in problems for m in methods for s in range(args.seeds)]
    todo = [t for t in tasks if t not in done]
    start = time.time()
    sink = open(args.json, "a") if args.json else None
    try:
        pool = multiprocessing.Pool(args.jobs) if args.jobs > 1 else None
        results = pool.imap_unordered(run_one, todo) if pool else map(run_one, todo)
        for r in results:
            done[(r["part"], r["problem"], r["method"], r["seed"], args.budget)] = r
            if sink:
                sink.write(json.dumps(r) + "\n")
                sink.flush()
        if pool:
            pool.close()
    finally:
        if sink:
            sink.close()
    elapsed = time.time() - start
    command = "python -m benchmarks.beyond_amt " + " ".join(argv if argv is not None else sys.argv[1:])
    text = "\n".join(render(part, [done[t] for t in tasks if t[0] == part], command, elapsed) for part in parts)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    return text


if __name__ == "__main__":
    print(main())
