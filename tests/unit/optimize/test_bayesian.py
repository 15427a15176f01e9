import math

import numpy as np
import pytest

from skytune.optimize import Observation, parse_space, suggest
from skytune.optimize.bayesian import count_initial

BRANIN_SPACE = parse_space({"ContinuousParameterRanges": [
    {"Name": "x1", "MinValue": "-5", "MaxValue": "10"},
    {"Name": "x2", "MinValue": "0", "MaxValue": "15"}]})
BRANIN_OPTIMUM = 0.397887


def branin(c):
    x1, x2 = c["x1"], c["x2"]
    return ((x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
            + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10)


def optimise(space, f, budget, seed, objective="Minimize", strategy="Bayesian"):
    observations = []
    for _ in range(budget):
        config = suggest(strategy, space, observations, [], 1, seed, objective=objective)[0]
        observations.append(Observation(config, f(config)))
    return observations


def test_bayesian_beats_random_search_on_branin():
    # 25 evaluations: the Optuna-like lengthscale prior explores a little longer before it
    # converges (seed 0 is 0.12 from the optimum after 20, 0.001 after 25).
    bo = [min(o.value for o in optimise(BRANIN_SPACE, branin, 25, s)) for s in range(2)]
    rs = [min(o.value for o in optimise(BRANIN_SPACE, branin, 25, s, strategy="Random"))
          for s in range(2)]
    assert max(bo) - BRANIN_OPTIMUM < 0.1
    assert np.mean(bo) < np.mean(rs)


def test_maximise_is_minimise_of_the_negation():
    def negative(c):
        return -branin(c)
    maximised = optimise(BRANIN_SPACE, negative, 12, 0, objective="Maximize")
    minimised = optimise(BRANIN_SPACE, branin, 12, 0, objective="Minimize")
    assert [o.params for o in maximised] == [o.params for o in minimised]


def test_initial_design_is_the_centre_then_sobol_then_the_model_takes_over():
    n0 = count_initial(BRANIN_SPACE)
    assert n0 == 5  # since round 8 (Ax's budget); rounds 1-7: max(4, min(10, P + 1)) = 4 here
    assert count_initial(BRANIN_SPACE, n_initial=None) == 4
    sobol = suggest("Sobol", BRANIN_SPACE, [], [], n0, seed=3)
    bayes = suggest("Bayesian", BRANIN_SPACE, [], [], n0, seed=3)
    # the default since round 8 (BENCHMARKS.md): the centre first, as Ax does
    assert bayes[0] == {"x1": 2.5, "x2": 7.5}
    assert bayes[1:] == sobol[:n0 - 1]
    assert suggest("Bayesian", BRANIN_SPACE, [], [], n0, seed=3, first_point="sobol") == sobol
    completed = [Observation(c, branin(c)) for c in bayes]
    model_pick = suggest("Bayesian", BRANIN_SPACE, completed, [], 1, seed=3)[0]
    assert model_pick not in suggest("Sobol", BRANIN_SPACE, [], [], 16, seed=3)


MIXED_SPACE = parse_space({
    "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "1e-4", "MaxValue": "1", "ScalingType": "Logarithmic"}],
    "IntegerParameterRanges": [{"Name": "units", "MinValue": "1", "MaxValue": "4"}],
    "CategoricalParameterRanges": [{"Name": "act", "Values": ["relu", "tanh", "gelu"]}]})


def test_center_first_tries_the_centre_then_the_whole_sobol_design():
    picks = suggest("Bayesian", MIXED_SPACE, [], [], 5, seed=3, first_point="center")
    # mid-range on the log scale, the integer tie broken upwards (as Ax does), the middle category
    assert picks[0]["lr"] == pytest.approx(1e-2) and picks[0]["units"] == 3 and picks[0]["act"] == "tanh"
    assert picks[1:] == suggest("Sobol", MIXED_SPACE, [], [], 4, seed=3)
    # later calls continue the same design: trial k is Sobol point k - 1; the centre is one of the
    # initial design's trials
    assert count_initial(MIXED_SPACE) == 5
    one_by_one = []
    for _ in range(5):
        one_by_one += suggest("Bayesian", MIXED_SPACE, [Observation(c, 1.0) for c in one_by_one], [], 1,
                              seed=3, first_point="center")
    assert one_by_one == picks


def test_auto_first_point_uses_the_centre_from_eight_parameters_on():
    wide = parse_space({"ContinuousParameterRanges": [
        {"Name": f"x{i}", "MinValue": "0", "MaxValue": "2"} for i in range(8)]})
    assert suggest("Bayesian", wide, [], [], 1, seed=3, first_point="auto")[0] == {f"x{i}": 1.0 for i in range(8)}
    # below the threshold "auto" is the plain Sobol design
    assert (suggest("Bayesian", MIXED_SPACE, [], [], 3, seed=3, first_point="auto")
            == suggest("Sobol", MIXED_SPACE, [], [], 3, seed=3))


def test_an_unknown_first_point_is_refused():
    with pytest.raises(ValueError, match="first_point"):
        suggest("Bayesian", MIXED_SPACE, [], [], 1, seed=3, first_point="middle")


def test_center_first_keeps_sixteen_sobol_points_in_sixteen_cells():
    picks = suggest("Bayesian", BRANIN_SPACE, [], [], 17, seed=7, first_point="center", n_initial=17)
    cells = {(int((c["x1"] + 5) / 15 * 4), int(c["x2"] / 15 * 4)) for c in picks[1:]}
    assert len(cells) == 16


def _history(n):
    configs = BRANIN_SPACE.from_unit(np.random.default_rng(1).random((n, 2)))
    return [Observation(c, branin(c)) for c in configs]


def _distance(a, b):
    return math.hypot((a["x1"] - b["x1"]) / 15, (a["x2"] - b["x2"]) / 15)


def test_pending_trials_are_not_suggested_again_and_batches_are_diverse():
    completed = _history(12)
    alone = suggest("Bayesian", BRANIN_SPACE, completed, [], 1, seed=0)[0]
    with_pending = suggest("Bayesian", BRANIN_SPACE, completed, [alone], 1, seed=0)[0]
    assert _distance(alone, with_pending) > 0.02
    batch = suggest("Bayesian", BRANIN_SPACE, completed, [], 4, seed=0)
    gaps = [_distance(a, b) for i, a in enumerate(batch) for b in batch[i + 1:]]
    assert min(gaps) > 0.02


def test_failed_trials_push_the_search_away_from_their_region():
    # Trials in the left half failed: the model should propose right-half points.
    configs = BRANIN_SPACE.from_unit(np.random.default_rng(2).random((16, 2)))
    completed = [Observation(c, None if c["x1"] < 2.5 else branin(c)) for c in configs]
    picks = suggest("Bayesian", BRANIN_SPACE, completed, [], 3, seed=0)
    assert all(c["x1"] >= 2.0 for c in picks)


def test_all_failed_history_falls_back_to_the_initial_design():
    completed = [Observation(o.params, None) for o in _history(6)]
    picks = suggest("Bayesian", BRANIN_SPACE, completed, [], 2, seed=0)
    # trial k of a centre-first design is Sobol point k - 1: trials 6 and 7 are Sobol points 5 and 6
    assert picks == suggest("Sobol", BRANIN_SPACE, [], [], 7, seed=0)[5:7]
    assert (suggest("Bayesian", BRANIN_SPACE, completed, [], 2, seed=0, first_point="sobol")
            == suggest("Sobol", BRANIN_SPACE, completed, [], 2, seed=0))


def test_small_discrete_space_is_exhausted_without_repeats():
    space = parse_space({
        "IntegerParameterRanges": [{"Name": "k", "MinValue": "1", "MaxValue": "3"}],
        "CategoricalParameterRanges": [{"Name": "c", "Values": ["a", "b"]}]})
    observations = optimise(space, lambda c: c["k"] + (c["c"] == "b"), 6, seed=0)
    assert len({(o.params["k"], o.params["c"]) for o in observations}) == 6


def test_noisy_objective_still_finds_the_basin():
    rng = np.random.default_rng(0)
    space = parse_space({"ContinuousParameterRanges": [
        {"Name": "x", "MinValue": "-2", "MaxValue": "2"}]})
    observations = optimise(space, lambda c: c["x"] ** 2 + 0.05 * rng.standard_normal(), 15, 0)
    late = [o.params["x"] for o in observations[-5:]]
    assert np.median(np.abs(late)) < 0.4


@pytest.mark.parametrize("objective", ["Minimize", "Maximize"])
def test_integer_and_log_inputs_reach_the_optimum(objective):
    space = parse_space({
        "ContinuousParameterRanges": [{"Name": "lr", "MinValue": "1e-6", "MaxValue": "1",
                                       "ScalingType": "Logarithmic"}],
        "IntegerParameterRanges": [{"Name": "layers", "MinValue": "1", "MaxValue": "12"}]})
    sign = 1 if objective == "Minimize" else -1

    def f(c):
        return sign * ((math.log10(c["lr"]) + 3) ** 2 + 0.1 * (c["layers"] - 4) ** 2)

    observations = optimise(space, f, 20, 0, objective=objective)
    best = min(observations, key=lambda o: sign * o.value)
    assert best.params["layers"] == 4
    assert abs(math.log10(best.params["lr"]) + 3) < 0.2


def test_a_warm_started_job_fills_its_initial_design_with_the_centre_unless_a_parent_ran_it():
    parents = _history(2)  # fewer than the 5 of the initial design
    centre = {"x1": 2.5, "x2": 7.5}
    assert suggest("Bayesian", BRANIN_SPACE, parents, [], 1, seed=3, index=0) == [centre]
    with_centre = parents + [Observation(centre, branin(centre))]
    first = suggest("Bayesian", BRANIN_SPACE, with_centre, [], 1, seed=3, index=0)
    assert first != [centre] and first == suggest("Sobol", BRANIN_SPACE, [], [], 1, seed=3)
    # parents holding the whole initial design: the model picks trial 1
    many = _history(6)
    assert suggest("Bayesian", BRANIN_SPACE, many, [], 1, seed=3, index=0) not in (
        [centre], suggest("Sobol", BRANIN_SPACE, [], [], 1, seed=3))


def _ensemble(n_points=12, seed=0):
    from skytune.optimize.bayesian import kernel_structure
    from skytune.optimize.gp import EnsembleGP, GaussianProcess

    rng = np.random.default_rng(seed)
    x = rng.random((n_points, 2))
    y = np.sin(6 * x[:, 0]) + x[:, 1] ** 2
    y = (y - y.mean()) / y.std()
    structure = kernel_structure(BRANIN_SPACE)
    thetas = [np.array([np.log(l0), np.log(l1), 0.0, np.log(1e-4)]) for l0, l1 in
              [(0.2, 0.5), (0.05, 0.3), (0.6, 1.2)]]
    return EnsembleGP([GaussianProcess(x, y, t, structure) for t in thetas]), x, y


def test_averaged_ei_is_the_log_of_the_members_mean_ei_with_its_exact_gradient():
    from skytune.optimize.bayesian import _Acquisition

    gp, x, y = _ensemble()
    best = float(np.min(gp.predict(x)[0]))
    averaged = _Acquisition("ei", best, 2.0, average=True)
    xs = np.random.default_rng(5).random((40, 2))
    members = np.stack([np.exp(averaged(*m.predict(xs))) for m in gp.members])
    assert np.allclose(averaged.score(gp, xs), np.log(members.mean(axis=0)))
    # not the moment-matched mixture's EI: the members disagree here
    moments = _Acquisition("ei", best, 2.0)
    assert np.max(np.abs(averaged.score(gp, xs) - moments.score(gp, xs))) > 0.05
    assert_gradient_is_exact(averaged, gp, xs[:5])


def assert_gradient_is_exact(acquisition, model, xs, h=1e-6):
    """score_with_gradient's value is score's, and its gradient the central difference's."""
    value, grad = acquisition.score_with_gradient(model, xs)
    assert np.allclose(value, acquisition.score(model, xs))
    for d in range(xs.shape[1]):
        step = np.zeros(xs.shape[1])
        step[d] = h
        numeric = (acquisition.score(model, xs + step) - acquisition.score(model, xs - step)) / (2 * h)
        assert np.allclose(grad[:, d], numeric, rtol=1e-4, atol=1e-6)


def test_averaged_ei_is_an_option_and_unknown_values_are_refused():
    completed = _history(10)
    differ = [suggest("Bayesian", BRANIN_SPACE, completed[:n], [], 1, seed=4)
              != suggest("Bayesian", BRANIN_SPACE, completed[:n], [], 1, seed=4, ensemble_acquisition="average")
              for n in (6, 8, 10)]
    assert any(differ)
    with pytest.raises(ValueError, match="ensemble_acquisition"):
        suggest("Bayesian", BRANIN_SPACE, completed, [], 1, seed=4, ensemble_acquisition="mean")


@pytest.mark.parametrize("option", ["output_transform", "trust_region", "input_warp", "hyperparameters",
                                    "acquisition", "first_point", "ensemble_acquisition", "in_flight"])
def test_every_choice_option_refuses_an_unknown_value_before_any_work(option):
    # Before round 9, an unknown output_transform, trust_region or input_warp silently ran as
    # "none"/"off" (a typo in a benchmark variant measured the default under another name).
    # An empty history: the refusal must not depend on reaching the model fit.
    with pytest.raises(ValueError, match=f"{option} must be one of .*not 'bogus'"):
        suggest("Bayesian", BRANIN_SPACE, [], [], 1, seed=4, **{option: "bogus"})


def test_coordinate_moves_redraw_one_or_two_parameters_of_a_centre():
    from skytune.optimize.bayesian import _coordinate_moves
    rng = np.random.default_rng(5)
    centres = MIXED_SPACE.features_from_unit(rng.random((3, MIXED_SPACE.dimension)))
    moves = _coordinate_moves(MIXED_SPACE, centres, 400, rng, None)
    blocks = MIXED_SPACE.feature_blocks()

    def changed(row, centre):
        return sum(not np.array_equal(row[s:s + w], centre[s:s + w]) for s, w in blocks)

    counts = [min(changed(row, c) for c in centres) for row in moves]
    assert max(counts) <= 2
    assert {1, 2} <= set(counts)  # both move sizes happen (0: a redraw that hit the same value)
    # each parameter is redrawn across its whole range: the 3 categories, the 4 integers, and
    # log-scaled rates below and above the centres'
    for s, w in blocks[1:]:
        assert len({tuple(r) for r in moves[:, s:s + w]}) == (3 if w == 3 else 4)
    assert moves[:, 0].min() < centres[:, 0].min() and moves[:, 0].max() > centres[:, 0].max()
    assert np.array_equal(MIXED_SPACE.snap_features(moves), moves)


def test_the_default_searches_a_trust_region_from_eight_parameters_or_on_smooth_values_after_20():
    # round 9's default (BENCHMARKS.md): TuRBO's trust region on spaces of >= 8 parameters; round
    # 12's: on smaller spaces too once 20 trials have completed, unless the values tie near the best
    rng = np.random.default_rng(11)

    def history(dimension):
        space = parse_space({"ContinuousParameterRanges": [
            {"Name": f"x{i}", "MinValue": "0", "MaxValue": "1"} for i in range(dimension)]})
        points = rng.random((30, dimension))
        return space, [Observation({f"x{i}": float(v) for i, v in enumerate(p)},
                                   float(np.sum((p - 0.3) ** 2))) for p in points]

    wide, completed = history(8)
    default = suggest("Bayesian", wide, completed, [], 1, seed=2)
    assert default == suggest("Bayesian", wide, completed, [], 1, seed=2, trust_region="auto")
    assert default != suggest("Bayesian", wide, completed, [], 1, seed=2, trust_region="off")
    narrow, completed = history(7)
    default = suggest("Bayesian", narrow, completed, [], 1, seed=2)
    assert default == suggest("Bayesian", narrow, completed, [], 1, seed=2, trust_region_min_dim=1)
    assert default != suggest("Bayesian", narrow, completed, [], 1, seed=2, trust_region="off")
    assert (suggest("Bayesian", narrow, completed[:19], [], 1, seed=2)
            == suggest("Bayesian", narrow, completed[:19], [], 1, seed=2, trust_region="off"))


def test_every_other_pick_can_search_the_whole_space_with_the_trust_region_on():
    # trust_region_global_every=2: picks at odd positions in the job ignore the box, the others
    # search it (round 10's candidate against the box holding a plateau, BENCHMARKS.md)
    rng = np.random.default_rng(3)
    space = parse_space({"ContinuousParameterRanges": [
        {"Name": f"x{i}", "MinValue": "0", "MaxValue": "1"} for i in range(3)]})
    points = rng.random((30, 3))
    completed = [Observation({f"x{i}": float(v) for i, v in enumerate(p)},
                             float(np.sum((p - 0.3) ** 2) + np.sum(np.sin(9 * p)))) for p in points]
    boxed = {"trust_region": "auto", "trust_region_min_dim": 1}
    for index in (30, 31):
        alternating = suggest("Bayesian", space, completed, [], 1, seed=2, index=index,
                              trust_region_global_every=2, **boxed)
        expected = (suggest("Bayesian", space, completed, [], 1, seed=2, index=index, trust_region="off")
                    if index % 2 else suggest("Bayesian", space, completed, [], 1, seed=2, index=index, **boxed))
        assert alternating == expected
    assert (suggest("Bayesian", space, completed, [], 1, seed=2, index=31, **boxed)
            != suggest("Bayesian", space, completed, [], 1, seed=2, index=31, trust_region="off"))
