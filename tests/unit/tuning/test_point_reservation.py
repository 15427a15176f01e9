"""The identity under which a trial reserves its configuration: near-identical continuous values are
one point (two workers' acquisition optima that differ in the 7th digit ran as two trials of the same
configuration in `make demo`), integers and categories are exact."""
from __future__ import annotations

from skytune.tuning.engine import point_digest
from tests.unit.tuning.helpers import job

SPACE = job().spec.search_space()  # lr: log 1e-4..0.1, units: 8..64, act: relu/tanh


def config(lr, units=32, act="relu"):
    return {"lr": lr, "units": units, "act": act}


def test_the_demos_near_duplicates_share_one_reservation():
    assert point_digest(SPACE, config(0.0069500737)) == point_digest(SPACE, config(0.0069500730))
    assert point_digest(SPACE, config("0.0069500737")) == point_digest(SPACE, config(0.0069500737))


def test_points_apart_by_more_than_the_resolution_are_distinct():
    assert point_digest(SPACE, config(0.0069)) != point_digest(SPACE, config(0.0070))
    assert point_digest(SPACE, config(0.01, units=32)) != point_digest(SPACE, config(0.01, units=33))
    assert point_digest(SPACE, config(0.01, act="relu")) != point_digest(SPACE, config(0.01, act="tanh"))
