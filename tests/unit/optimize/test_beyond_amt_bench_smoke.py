"""The Beyond-AMT benchmark (benchmarks/beyond_amt.py) in miniature: the problems' stated optima
and maximal hypervolumes are right, and the paired runner produces its tables. The full run (with
Optuna's samplers) is in BENCHMARKS.md with its command."""
import math

import numpy as np
import pytest

from benchmarks.beyond_amt import PARTS, main, score
from skytune.optimize import parse_space
from skytune.optimize.multiobjective import hypervolume


@pytest.mark.parametrize("name", ["zdt1-6d", "zdt2-6d", "zdt3-6d", "dtlz2-6d-3obj"])
def test_points_on_the_true_front_reach_the_stated_hypervolume(name):
    problem = PARTS["multiobjective"][name](0)
    grid = np.linspace(0, 1, 120)
    if name.startswith("zdt"):
        configs = [{"x0": a, **{f"x{i}": 0.0 for i in range(1, 6)}} for a in grid]
    else:
        configs = [{"x0": a, "x1": b, **{f"x{i}": 0.5 for i in range(2, 6)}} for a in grid[::3] for b in grid[::3]]
    y = np.array([[problem.function(c)[m] for m in problem.objectives] for c in configs])
    volume = hypervolume(y, problem.reference)
    assert volume <= problem.best + 1e-9
    assert volume == pytest.approx(problem.best, rel=0.03)  # a finite sample of the front


def test_zdt3s_stated_hypervolume_matches_skytunes_own_hypervolume_of_a_dense_front():
    problem = PARTS["multiobjective"]["zdt3-6d"](0)
    configs = [{"x0": a, **{f"x{i}": 0.0 for i in range(1, 6)}} for a in np.linspace(0, 1, 20001)]
    y = np.array([[problem.function(c)[m] for m in problem.objectives] for c in configs])
    # the front's five pieces, some of them below f2 = 0: another implementation, the same area
    assert y[:, 1].min() < -0.7
    assert hypervolume(y, problem.reference) == pytest.approx(problem.best, rel=1e-4)


@pytest.mark.parametrize("part, name", [(part, name) for part in ("conditional", "constrained") for name in PARTS[part]]
                         + [("multiobjective", "branin-currin")])
def test_no_sampled_point_beats_the_stated_optimum(part, name):
    for seed in range(3):
        problem = PARTS[part][name](seed)
        space = parse_space(problem.ranges)
        sample = [problem.function(c) for c in space.from_unit(np.random.default_rng(seed).random((400, space.dimension)))]
        assert score(problem, sample) > math.log10(1e-12) + 1  # a positive regret: the optimum was not beaten


def test_the_smoke_run_prints_every_table():
    text = main(["--smoke"])
    for heading in ("### multiobjective", "### conditional", "### constrained"):
        assert heading in text
    assert "| conditional-net | 6 | skytune-flat |" in text and "| gramacy | 6 | random |" in text


def test_dtlz7_front_reaches_its_numerically_integrated_hypervolume():
    """DTLZ7 (held out in round 4): HV* integrated on a grid; a finite sample of the front (rest of
    x at 0) comes within 3% from below."""
    problem = PARTS["multiobjective"]["dtlz7-6d-3obj"](0)
    grid = np.linspace(0, 1, 40)
    configs = [{"x0": a, "x1": b, **{f"x{i}": 0.0 for i in range(2, 6)}} for a in grid for b in grid]
    y = np.array([[problem.function(c)[m] for m in problem.objectives] for c in configs])
    volume = hypervolume(y, problem.reference)
    assert volume <= problem.best + 1e-6
    assert volume == pytest.approx(problem.best, rel=0.03)
