import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skytune.optimize import Hyperband, Observation


def test_brackets_and_rungs_follow_hyperband():
    hb = Hyperband(min_resource=1, max_resource=27, reduction_factor=3)
    assert hb.brackets == 4
    assert hb.rungs(0) == [1, 3, 9]
    assert hb.rungs(2) == [9]
    assert hb.rungs(3) == []  # the last bracket never stops a trial


def test_bracket_shares_are_proportional_to_hyperband_sizes():
    hb = Hyperband(1, 27, 3)
    counts = [0] * hb.brackets
    for i in range(1000):
        counts[hb.bracket_of(i)] += 1
    # n_b = ceil(4/(4-b) * 3^(3-b)) = 27, 12, 6, 4
    assert counts[0] > counts[1] > counts[2] > counts[3] > 0
    assert counts[0] / counts[3] == pytest.approx(27 / 4, rel=0.1)


def test_asha_keeps_the_top_third_at_a_rung():
    hb = Hyperband(1, 27, 3, n_brackets=1)
    peers = [[(1, v)] for v in (0.1, 0.2, 0.3, 0.4, 0.5)]  # with me, 6 trials: keep 2
    assert not hb.should_stop([(1, 0.15)], 0, peers, "Minimize").stop
    decision = hb.should_stop([(1, 0.25)], 0, peers, "Minimize")
    assert decision.stop and decision.rung == 1


def test_only_the_report_crossing_a_rung_is_judged():
    hb = Hyperband(1, 27, 3, n_brackets=1)
    peers = [[(1, 0.1), (3, 0.05)], [(1, 0.2), (3, 0.1)]]
    decision = hb.should_stop([(1, 0.05), (2, 9.0)], 0, peers, "Minimize")
    assert not decision.stop and decision.rung is None
    assert hb.should_stop([(1, 0.05), (2, 9.0), (4, 9.0)], 0, peers, "Minimize").rung == 3


def test_maximise_keeps_high_values():
    hb = Hyperband(1, 9, 3, n_brackets=1)
    peers = [[(1, v)] for v in (0.5, 0.6)]
    assert not hb.should_stop([(1, 0.9)], 0, peers, "Maximize").stop
    assert hb.should_stop([(1, 0.55)], 0, peers, "Maximize").stop


def test_decide_stops_running_losers_within_their_bracket():
    hb = Hyperband(1, 9, 3, n_brackets=1)
    done = [Observation({}, None, [(1, v)], trial_id=f"t{i}") for i, v in enumerate((0.1, 0.2))]
    running = [Observation({}, None, [(1, 0.9)], trial_id="loser"),
               Observation({}, None, [(1, 0.05)], trial_id="winner")]
    indices = {"t0": 0, "t1": 1, "loser": 2, "winner": 3}
    assert hb.decide(running, done, "Minimize", indices) == ["loser"]


@settings(max_examples=50)
@given(st.lists(st.floats(0, 1), min_size=0, max_size=12), st.floats(0, 1))
def test_the_best_value_at_a_rung_is_never_stopped(peer_values, mine):
    hb = Hyperband(1, 9, 3, n_brackets=1)
    peers = [[(1, v)] for v in peer_values]
    best = min(peer_values + [mine])
    assert not hb.should_stop([(1, best)], 0, peers, "Minimize").stop


def test_invalid_configuration_is_rejected():
    with pytest.raises(ValueError):
        Hyperband(min_resource=5, max_resource=5)
    with pytest.raises(ValueError):
        Hyperband(1, 9, reduction_factor=1)
