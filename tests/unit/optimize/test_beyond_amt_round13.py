"""Round 13: the multi-objective strategy can draw its candidates in boxes around the Pareto set
(``pareto_box``) on a share of its picks (``pareto_box_share``). Measured and not made the default
(BENCHMARKS.md, "Beyond AMT", round 13); the defaults draw from the whole space."""

from __future__ import annotations

import numpy as np
import pytest

from skytune.optimize import parse_space
from skytune.optimize.extended import ExtendedOptions, Goal, Outcome, _Models, suggest_extended

SPACE = parse_space({"ContinuousParameterRanges": [
    {"Name": f"x{i}", "MinValue": "0", "MaxValue": "1"} for i in range(3)]})
GOALS = [Goal("f1"), Goal("f2")]


def _history() -> list[Outcome]:
    """Twelve trials; the three with x0 <= 0.2 trade f1 against f2 (the Pareto set), the others are
    dominated by them."""
    rng = np.random.default_rng(3)
    out = []
    for i in range(12):
        x = rng.random(3)
        front = i < 3
        if front:
            x[0] = 0.1 * i
        else:
            x[0] = 0.5 + 0.5 * x[0]
        penalty = 0.0 if front else 5.0
        out.append(Outcome({"x0": x[0], "x1": x[1], "x2": x[2]},
                           {"f1": x[1] + penalty, "f2": 1.0 - x[1] + penalty}))
    return out


def _models(**options) -> _Models:
    history = _history()
    return _Models(SPACE, history, history, GOALS, [], np.random.default_rng(0), ExtendedOptions(**options))


def _unit(configs) -> np.ndarray:
    return SPACE.to_unit(list(configs))


def test_boxed_candidates_lie_in_the_clipped_boxes_and_are_not_piled_on_the_bounds():
    models = _models(pareto_box=0.4)
    centres = _unit(models._centres())
    assert len(centres) == 3 and np.all(centres[:, 0] <= 0.2 + 1e-9)
    z = _unit(models._boxed(models._centres(), 0.4, start=5, seed=1))
    assert len(z) == models.opts.n_candidates
    distance = np.abs(z[:, None, :] - centres[None, :, :]).max(axis=2).min(axis=1)
    assert distance.max() <= 0.2 + 1e-9
    assert np.all((z >= 0.0) & (z <= 1.0))
    # the centre at x0 = 0 has its box clipped to [0, 0.2]: points spread inside it, none pile on 0
    assert np.mean(z[:, 0] == 0.0) < 0.01
    assert z[:, 0].max() > 0.35  # the box around x0 = 0.2 reaches 0.4


def test_with_the_box_on_every_pick_the_pick_comes_from_a_box(monkeypatch):
    # the local moves around the Pareto set (which may redraw a parameter anywhere) set aside:
    # this checks where the candidates that replace the whole-space Sobol points come from
    monkeypatch.setattr(_Models, "_local", lambda self, *args, **kwargs: [])
    history = _history()
    centres = _unit([o.params for o in history[:3]])
    for seed in range(4):
        pick = suggest_extended(SPACE, history, [], 1, seed, objectives=GOALS, pareto_box=0.2,
                                refine_rounds=0)[0]
        z = _unit([pick])[0]
        assert np.abs(z - centres).max(axis=1).min() <= 0.1 + 1e-9


def test_the_share_decides_which_picks_use_the_box_by_trial_index():
    def pattern(share, n=6):
        models = _models(pareto_box=0.4, pareto_box_share=share)
        return [models._boxed_pick(i) for i in range(n)]

    assert pattern(1.0) == [True] * 6
    assert pattern(0.0) == [False] * 6
    assert pattern(0.5) == [False, True, False, True, False, True]
    assert pattern(2 / 3) == [False, True, True, False, True, True]
    assert [_models()._boxed_pick(i) for i in range(4)] == [False] * 4  # the default: the whole space


def test_one_objective_never_uses_the_box():
    history = _history()
    models = _Models(SPACE, history, history, [Goal("f1")], [], np.random.default_rng(0),
                     ExtendedOptions(pareto_box=0.4))
    assert not any(models._boxed_pick(i) for i in range(4))


@pytest.mark.parametrize("options, name", [
    ({"pareto_box": 1.5}, "pareto_box"), ({"pareto_box": float("nan")}, "pareto_box"),
    ({"pareto_box": -0.1}, "pareto_box"), ({"pareto_box_share": 2.0}, "pareto_box_share")])
def test_out_of_range_box_options_are_refused_by_name(options, name):
    with pytest.raises(ValueError, match=name):
        suggest_extended(SPACE, _history(), [], 1, 0, objectives=GOALS, **options)
