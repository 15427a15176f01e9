"""Issue 15 section 2 through the engine against DynamoDB Local: a job's Sobol design is one
low-discrepancy set, no job repeats a configuration before its space is exhausted, and history the
optimiser cannot use is reported in the job's description. Each test failed before its fix."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import pytest

from skytune.tuning import engine
from skytune.tuning.repository import TuningRepository
from tests.support.tuning_engine import finish_trial, job_specs, start_trial
from skytune.tuning.views import describe_job

spec = job_specs("r2", strategy="Sobol", random_seed=11,
                 parameter_ranges={"ContinuousParameterRanges": [
                     {"Name": "x", "MinValue": "0", "MaxValue": "1"}, {"Name": "y", "MinValue": "0", "MaxValue": "1"}]},
                 resource_limits={"max_number_of_training_jobs": 16, "max_parallel_training_jobs": 1})


def run_trials(tuning_repo, name: str, count: int, value=lambda hp: 0.5) -> list[dict]:
    configs = []
    for iteration in range(count):
        number, request = start_trial(tuning_repo, name, iteration)
        configs.append(request["hyperparameters"])
        engine.report_metrics(tuning_repo, name, request["trial_name"],
                              [{"name": "acc", "value": value(request["hyperparameters"]), "step": 1}])
        finish_trial(tuning_repo, name, number)
    return configs


def test_a_sobol_job_covers_every_cell_of_a_4x4_grid_in_16_trials(tuning_repo):
    # before: the scramble was keyed by each trial's own seed, so 16 points covered ~10 cells
    job, _ = engine.create_job(tuning_repo, spec())
    configs = run_trials(tuning_repo, job.name, 16)
    cells = {(int(c["x"] * 4), int(c["y"] * 4)) for c in configs}
    assert len(cells) == 16


@pytest.mark.parametrize("strategy", ["Random", "Bayesian", "Sobol"])
def test_no_job_repeats_a_configuration_before_its_space_is_exhausted(tuning_repo, strategy):
    job, _ = engine.create_job(tuning_repo, spec(strategy=strategy, parameter_ranges={
        "IntegerParameterRanges": [{"Name": "units", "MinValue": "1", "MaxValue": "3"}],
        "CategoricalParameterRanges": [{"Name": "act", "Values": ["relu", "tanh"]}]},
        resource_limits={"max_number_of_training_jobs": 6, "max_parallel_training_jobs": 1}))
    configs = run_trials(tuning_repo, job.name, 6, value=lambda hp: hp["units"] / 10)
    assert len({(c["units"], c["act"]) for c in configs}) == 6


def test_warm_start_parents_lacking_a_new_parameter_are_reported_in_describe_and_logs(tuning_repo, caplog):
    parent, _ = engine.create_job(tuning_repo, spec(strategy="Random", parameter_ranges={
        "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]},
        resource_limits={"max_number_of_training_jobs": 3, "max_parallel_training_jobs": 1}))
    run_trials(tuning_repo, parent.name, 3)
    child, _ = engine.create_job(tuning_repo, spec(strategy="Bayesian", warm_start={"parent_jobs": [parent.name]},
                                            resource_limits={"max_number_of_training_jobs": 2,
                                                             "max_parallel_training_jobs": 1}))
    with caplog.at_level(logging.WARNING, logger="skytune.tuning.engine"):
        run_trials(tuning_repo, child.name, 1)
    view = describe_job(tuning_repo.get_job(child.name), tuning_repo.list_trials(child.name), datetime.now(timezone.utc))
    ignored = view["IgnoredHistory"]
    assert ignored["Count"] == 3
    assert {o["Source"] for o in ignored["Observations"]} == {f"parent job {parent.name} trial {n}" for n in (1, 2, 3)}
    assert all("y is missing" in o["Reason"] for o in ignored["Observations"])
    assert "ignores 3 history observation(s)" in caplog.text
    # a job whose whole history is usable says nothing
    plain = describe_job(tuning_repo.get_job(parent.name), tuning_repo.list_trials(parent.name), datetime.now(timezone.utc))
    assert "IgnoredHistory" not in plain


def test_a_point_is_reserved_for_the_first_trial_and_a_retry_keeps_it(tuning_repo):
    job, _ = engine.create_job(tuning_repo, spec())
    now = datetime.now(timezone.utc)
    assert tuning_repo.reserve_point(job.name, "abc", 3, now) == 3
    assert tuning_repo.reserve_point(job.name, "abc", 3, now) == 3  # retried step
    assert tuning_repo.reserve_point(job.name, "abc", 4, now) == 3  # another trial: it is taken
    assert tuning_repo.list_trials(job.name) == []  # reservations are not trials


class RacingRepository(TuningRepository):
    """Fault injection: every worker has chosen its point before any records it (the widest race)."""

    def __init__(self, barrier) -> None:
        super().__init__()
        self.barrier = barrier

    def set_hyperparameters(self, *args, **kwargs):
        self.barrier.wait()
        return super().set_hyperparameters(*args, **kwargs)


def test_parallel_bayesian_workers_with_the_same_history_never_run_the_same_point(tuning_repo):
    # the demo's digits job ran one configuration on trials 6, 7 and 8: workers suggesting at the
    # same moment from the same history get the same point, and the old check-then-write let them
    # all through. Here 4 of 8 categories are taken and 4 workers suggest at once: every worker's
    # model prefers the same untaken category, so only the reservation keeps them apart.
    import threading
    from concurrent.futures import ThreadPoolExecutor

    values = [f"v{i}" for i in range(8)]
    job, _ = engine.create_job(tuning_repo, spec(strategy="Bayesian", parameter_ranges={
        "CategoricalParameterRanges": [{"Name": "c", "Values": values}]},
        resource_limits={"max_number_of_training_jobs": 8, "max_parallel_training_jobs": 4}))
    run_trials(tuning_repo, job.name, 4, value=lambda hp: values.index(hp["c"]) / 10)
    numbers = [engine.claim_slot(tuning_repo, job.name, "exec", 1 + w, 0, 0)["trial_number"] for w in range(4)]
    barrier = threading.Barrier(4)
    racing = RacingRepository(threading.Barrier(4, timeout=120))

    def suggest(worker_and_number):
        worker, number = worker_and_number
        barrier.wait()
        return engine.suggest_for_trial(racing, job.name, number, worker)["hyperparameters"]

    with ThreadPoolExecutor(4) as pool:
        configs = list(pool.map(suggest, enumerate(numbers)))
    all_points = [t.hyperparameters["c"] for t in tuning_repo.list_trials(job.name)]
    assert sorted(all_points) == values  # 8 trials, 8 different categories
    assert [tuning_repo.get_trial(job.name, n).hyperparameters for n in numbers] == configs


def test_a_non_numeric_objective_returned_by_a_lambda_trial_is_named_in_the_failure_reason(tuning_repo):
    job, _ = engine.create_job(tuning_repo, spec(strategy="Random"))
    claim = engine.claim_slot(tuning_repo, job.name, "exec", 0, 0, 0)
    engine.suggest_for_trial(tuning_repo, job.name, claim["trial_number"], 0)
    engine.record_trial(tuning_repo, job.name, claim["trial_number"], "lambda", {"Payload": {"metrics": {"acc": "high"}}})
    trial = tuning_repo.get_trial(job.name, claim["trial_number"])
    assert trial.objective_value is None
    assert trial.failure_reason == "the objective metric 'acc' is not a number: metrics.acc = 'high'"
