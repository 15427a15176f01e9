"""Issue 15 section 2 through the engine against DynamoDB Local: a job's Sobol design is one
low-discrepancy set, no job repeats a configuration before its space is exhausted, and history the
optimiser cannot use is reported in the job's description. Each test failed before its fix."""
from __future__ import annotations

import itertools
import logging
from datetime import datetime, timezone

import pytest

from skytune.tuning import engine
from skytune.tuning.repository import TuningRepository
from skytune.tuning.views import describe_job

_names = (f"r2-{n}" for n in itertools.count())


@pytest.fixture
def repo(bound_tables) -> TuningRepository:
    return TuningRepository()


def spec(**changes) -> dict:
    body = {
        "name": next(_names),
        "strategy": "Sobol",
        "objective": {"metric_name": "acc", "type": "Maximize"},
        "parameter_ranges": {"ContinuousParameterRanges": [
            {"Name": "x", "MinValue": "0", "MaxValue": "1"}, {"Name": "y", "MinValue": "0", "MaxValue": "1"}]},
        "resource_limits": {"max_number_of_training_jobs": 16, "max_parallel_training_jobs": 1},
        "random_seed": 11,
        "trial": {"runner": "external", "metric_definitions": [{"Name": "acc", "Regex": "acc=([0-9.]+)"}]},
    }
    body.update(changes)
    return body


def run_trials(repo, name: str, count: int, value=lambda hp: 0.5) -> list[dict]:
    configs = []
    for iteration in range(count):
        claim = engine.claim_slot(repo, name, "exec", 0, iteration, 0)
        assert claim["action"] == "run", claim
        request = engine.suggest_for_trial(repo, name, claim["trial_number"], 0)
        assert request["action"] == "run", request
        configs.append(request["hyperparameters"])
        engine.report_metrics(repo, name, request["trial_name"],
                              [{"name": "acc", "value": value(request["hyperparameters"]), "step": 1}])
        engine.record_trial(repo, name, claim["trial_number"], "external", {"status": "Completed"})
    return configs


def test_a_sobol_job_covers_every_cell_of_a_4x4_grid_in_16_trials(repo):
    # before: the scramble was keyed by each trial's own seed, so 16 points covered ~10 cells
    job, _ = engine.create_job(repo, spec())
    configs = run_trials(repo, job.name, 16)
    cells = {(int(c["x"] * 4), int(c["y"] * 4)) for c in configs}
    assert len(cells) == 16


@pytest.mark.parametrize("strategy", ["Random", "Bayesian", "Sobol"])
def test_no_job_repeats_a_configuration_before_its_space_is_exhausted(repo, strategy):
    job, _ = engine.create_job(repo, spec(strategy=strategy, parameter_ranges={
        "IntegerParameterRanges": [{"Name": "units", "MinValue": "1", "MaxValue": "3"}],
        "CategoricalParameterRanges": [{"Name": "act", "Values": ["relu", "tanh"]}]},
        resource_limits={"max_number_of_training_jobs": 6, "max_parallel_training_jobs": 1}))
    configs = run_trials(repo, job.name, 6, value=lambda hp: hp["units"] / 10)
    assert len({(c["units"], c["act"]) for c in configs}) == 6


def test_warm_start_parents_lacking_a_new_parameter_are_reported_in_describe_and_logs(repo, caplog):
    parent, _ = engine.create_job(repo, spec(strategy="Random", parameter_ranges={
        "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]},
        resource_limits={"max_number_of_training_jobs": 3, "max_parallel_training_jobs": 1}))
    run_trials(repo, parent.name, 3)
    child, _ = engine.create_job(repo, spec(strategy="Bayesian", warm_start={"parent_jobs": [parent.name]},
                                            resource_limits={"max_number_of_training_jobs": 2,
                                                             "max_parallel_training_jobs": 1}))
    with caplog.at_level(logging.WARNING, logger="skytune.tuning.engine"):
        run_trials(repo, child.name, 1)
    view = describe_job(repo.get_job(child.name), repo.list_trials(child.name), datetime.now(timezone.utc))
    ignored = view["IgnoredHistory"]
    assert ignored["Count"] == 3
    assert {o["Source"] for o in ignored["Observations"]} == {f"parent job {parent.name} trial {n}" for n in (1, 2, 3)}
    assert all("y is missing" in o["Reason"] for o in ignored["Observations"])
    assert "ignores 3 history observation(s)" in caplog.text
    # a job whose whole history is usable says nothing
    plain = describe_job(repo.get_job(parent.name), repo.list_trials(parent.name), datetime.now(timezone.utc))
    assert "IgnoredHistory" not in plain
