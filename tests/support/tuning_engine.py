"""Driving tuning jobs through the engine's steps, as the state machine and a worker would, for the
integration tests of the engine (test_tuning_engine*.py): a job body with defaults, a trial claimed
and suggested, a trial recorded."""
from __future__ import annotations

import itertools
from collections.abc import Callable

from skytune.tuning import engine

EXTERNAL_ACC = {"runner": "external", "metric_definitions": [{"Name": "acc", "Regex": "acc=([0-9.]+)"}]}


def job_specs(prefix: str, **defaults) -> Callable[..., dict]:
    """spec(**changes) -> a job body named `<prefix>-<n>` (a new name per call): an `acc`-maximising
    job over `lr` in [0.001, 0.1] run by an external worker, with `defaults` and then `changes` on top."""
    names = (f"{prefix}-{n}" for n in itertools.count())

    def spec(**changes) -> dict:
        body = {
            "name": next(names),
            "strategy": "Random",
            "objective": {"metric_name": "acc", "type": "Maximize"},
            "parameter_ranges": {"ContinuousParameterRanges": [{"Name": "lr", "MinValue": "0.001", "MaxValue": "0.1"}]},
            "resource_limits": {"max_number_of_training_jobs": 5, "max_parallel_training_jobs": 3},
            "random_seed": 3,
            "trial": EXTERNAL_ACC,
        }
        body.update(defaults)
        body.update(changes)
        return body

    return spec


def start_trial(repo, name: str, iteration: int, worker: int = 0) -> tuple[int, dict]:
    """Claim a slot and get its suggestion: (trial number, the suggest step's answer)."""
    claim = engine.claim_slot(repo, name, "exec", worker, iteration, 0)
    assert claim["action"] == "run", claim
    request = engine.suggest_for_trial(repo, name, claim["trial_number"], worker)
    assert request["action"] == "run", request
    return claim["trial_number"], request


def finish_trial(repo, name: str, number: int, status: str = "Completed", records: int = 1) -> None:
    """The record step (`records` > 1: retried)."""
    for _ in range(records):
        engine.record_trial(repo, name, number, "external", {"status": status})
