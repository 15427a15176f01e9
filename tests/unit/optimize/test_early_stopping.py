import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skytune.optimize import median_stopping_rule
from skytune.optimize.early_stopping import running_average_at

# Earlier trials' loss curves: running averages at step 3 are 0.8, 0.6, 0.4 (median 0.6).
EARLIER = [[(1, 1.0), (2, 0.8), (3, 0.6)], [(1, 0.8), (2, 0.6), (3, 0.4)],
           [(1, 0.6), (2, 0.4), (3, 0.2)]]


def test_running_average_uses_steps_up_to_the_given_one():
    assert running_average_at(EARLIER[0], 2) == pytest.approx(0.9)
    assert running_average_at(EARLIER[0], 4) is None


def test_stops_a_trial_worse_than_the_median_of_running_averages():
    assert median_stopping_rule([(1, 0.9), (2, 0.8), (3, 0.7)], EARLIER, "Minimize")
    assert not median_stopping_rule([(1, 0.9), (2, 0.8), (3, 0.5)], EARLIER, "Minimize")


def test_maximise_flips_the_comparison():
    accuracy = [[(s, 1 - v) for s, v in c] for c in EARLIER]  # median running average 0.4
    assert median_stopping_rule([(3, 0.3)], accuracy, "Maximize")
    assert not median_stopping_rule([(3, 0.5)], accuracy, "Maximize")


def test_no_decision_before_enough_trials_or_steps():
    assert not median_stopping_rule([(3, 9.0)], EARLIER[:2], "Minimize", min_trials=3)
    assert not median_stopping_rule([(1, 9.0)], EARLIER, "Minimize", min_step=2)
    assert not median_stopping_rule([(5, 9.0)], EARLIER, "Minimize")  # nobody reached step 5


def test_best_statistic_forgives_a_late_bump():
    curve = [(1, 0.3), (2, 0.9), (3, 0.7)]
    assert median_stopping_rule(curve, EARLIER, "Minimize", statistic="latest")
    assert not median_stopping_rule(curve, EARLIER, "Minimize", statistic="best")


@settings(max_examples=50)
@given(st.lists(st.floats(0, 10), min_size=1, max_size=6))
def test_the_best_of_earlier_trials_is_never_stopped_by_its_peers(values):
    curves = [[(1, v)] for v in values]
    best = min(values)
    assert not median_stopping_rule([(1, best)], curves, "Minimize", min_trials=1)
