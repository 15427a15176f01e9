from skytune.optimize import Observation, should_complete


def obs(values):
    return [Observation({}, v) for v in values]


def test_target_reached_in_either_direction():
    assert should_complete(obs([5, 3, 0.9]), "Minimize", target=1.0) == (
        True, "TargetObjectiveMetricValueReached")
    assert should_complete(obs([0.5, 0.8]), "Maximize", target=0.9) == (False, "")
    assert should_complete(obs([0.5, 0.95]), "Maximize", target=0.9)[0]


def test_improvements_of_at_most_one_percent_do_not_reset_the_counter():
    # 10 -> 9.95 is a 0.5% improvement: not counted (AMT's 1% rule).
    values = [10.0, 9.95, 9.93, 9.92]
    assert should_complete(obs(values), "Minimize", max_no_improvement=3) == (
        True, "BestObjectiveNotImproving")
    assert not should_complete(obs([10.0, 9.0, 9.99, 9.98]), "Minimize", max_no_improvement=3)[0]


def test_failed_trials_are_ignored():
    values = [1.0, None, None, None, 0.5]
    assert not should_complete(obs(values), "Minimize", max_no_improvement=3)[0]


def test_convergence_needs_a_flat_tail_of_the_best_so_far():
    improving = [10.0 - i for i in range(20)]
    flat = improving[:10] + [5.0] * 10
    assert not should_complete(obs(improving), "Minimize", convergence=True)[0]
    assert should_complete(obs(flat), "Minimize", convergence=True) == (
        True, "ConvergenceDetected")
    assert not should_complete(obs(flat[:15]), "Minimize", convergence=True)[0]


def test_no_values_means_not_complete():
    assert should_complete(obs([None, None]), "Minimize", target=0, max_no_improvement=1) == (
        False, "")
