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


def test_a_worker_that_loses_the_race_to_every_other_worker_still_gets_an_untaken_point(monkeypatch):
    """4 workers suggest at once (max_parallel_training_jobs 4); this one loses the reservation to
    each of the other 3 in turn. A fixed 3 attempts returned the third point unreserved: a repeat."""
    from skytune.tuning import engine

    the_job = job()
    assert the_job.spec.resource_limits.max_parallel_training_jobs == 4
    taken_by_others = [config(0.001), config(0.002), config(0.003)]

    def suggest_once(repo, job, number, extra_pending):
        # the model's next best point once the ones already reserved are pending
        return config(0.001 * (len(extra_pending) + 1))

    class Reservations:
        def reserve_point(self, job_name, digest, number, now):
            held = {point_digest(SPACE, c): 90 + i for i, c in enumerate(taken_by_others)}
            return held.get(digest, number)

    monkeypatch.setattr(engine, "_suggest_once", suggest_once)
    chosen = engine._suggest(Reservations(), the_job, 5)
    assert chosen == config(0.004)
