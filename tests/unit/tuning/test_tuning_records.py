"""Pure rules: run outcomes per runner, final objective, end status, names, views."""
from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings, strategies as st

from skytune.errors import InvalidInput
from skytune.tuning.names import execution_name
from skytune.tuning.records import (
    Counters,
    JobStatus,
    TrialStatus,
    end_status,
    final_objective,
    format_hyperparameters,
    outcome_of_run,
    trial_name,
)
from skytune.tuning.views import describe_job, list_trials
from tests.unit.tuning.helpers import T0, job, trial


@pytest.mark.parametrize(("runner", "output", "status", "reason_part"), [
    ("local", {"status": "Completed"}, TrialStatus.COMPLETED, None),
    ("local", {"status": "Failed", "failure_reason": "exit code 3: boom"}, TrialStatus.FAILED, "exit code 3"),
    ("external", {"Error": "States.HeartbeatTimeout", "Cause": ""}, TrialStatus.FAILED, "heartbeats"),
    ("external", {"Error": "States.Timeout", "Cause": ""}, TrialStatus.STOPPED, "stopping condition"),
    ("lambda", {"Payload": {"metrics": {"acc": 0.9}}}, TrialStatus.COMPLETED, None),
    ("lambda", {"Error": "ValueError", "Cause": '{"errorMessage": "bad"}'}, TrialStatus.FAILED, "ValueError"),
    ("sagemaker", {"TrainingJobStatus": "Completed", "FinalMetricDataList": [{"MetricName": "acc", "Value": 0.8}]},
     TrialStatus.COMPLETED, None),
    ("sagemaker", {"TrainingJobStatus": "Failed", "FailureReason": "OOM"}, TrialStatus.FAILED, "OOM"),
    ("sagemaker", {"TrainingJobStatus": "Stopped"}, TrialStatus.STOPPED, None),
    ("local", {}, TrialStatus.FAILED, "never ran"),
])
def test_outcome_of_each_runner(runner, output, status, reason_part):
    outcome = outcome_of_run(runner, output)
    assert outcome.status == status
    if reason_part is None:
        assert outcome.failure_reason is None
    else:
        assert reason_part in outcome.failure_reason


def test_final_metrics_are_taken_from_lambda_and_sagemaker_results():
    assert outcome_of_run("lambda", {"Payload": {"metrics": [{"name": "acc", "value": 0.5}, {"name": "x", "value": "nan"}]}}).final_metrics == {"acc": 0.5}
    assert outcome_of_run("sagemaker", {"TrainingJobStatus": "Completed", "FinalMetricDataList": [
        {"MetricName": "acc", "Value": 0.8}]}).final_metrics == {"acc": 0.8}


def test_final_objective_is_the_value_at_the_last_step():
    assert final_objective([(3, 0.5), (1, 0.9), (2, 0.7)]) == 0.5
    assert final_objective([(1, float("nan")), (0, 0.2)]) == 0.2
    assert final_objective([]) is None


def test_end_status():
    assert end_status(job().model_copy(update={"status": JobStatus.STOPPING}))[0] == JobStatus.STOPPED
    done = job().model_copy(update={"counters": Counters(started=3, completed=3, objective_succeeded=1, objective_failed=2)})
    assert end_status(done) == (JobStatus.COMPLETED, None)
    failed = job().model_copy(update={"counters": Counters(started=2, failed=2, objective_failed=2)})
    status, reason = end_status(failed)
    assert status == JobStatus.FAILED and "validation:accuracy" in reason and "2 failed" in reason


@given(st.text(alphabet=string.ascii_letters + string.digits + "-._", min_size=1, max_size=120), st.integers(0, 10_000))
def test_execution_names_are_valid_deterministic_and_distinct_per_generation(job_name, generation):
    name = execution_name(job_name, generation)
    assert len(name) <= 80 and re.fullmatch(r"[A-Za-z0-9_-]+", name)
    assert name == execution_name(job_name, generation)
    assert name != execution_name(job_name, generation + 1)


@given(st.integers(1, 750), st.integers(1, 750))
def test_trial_names_are_deterministic_and_unique(a, b):
    assert trial_name("j", a) == trial_name("j", a)
    assert (trial_name("j", a) == trial_name("j", b)) == (a == b)


def test_hyperparameters_are_formatted_as_sagemaker_strings():
    assert format_hyperparameters({"a": True, "b": 0.1, "c": 3, "d": "x"}) == {"a": "true", "b": "0.1", "c": "3", "d": "x"}


def test_describe_counts_and_best_trial():
    the_job = job().model_copy(update={"counters": Counters(started=3, in_progress=1, completed=1, failed=1,
                                                            objective_succeeded=1, objective_failed=1),
                                       "best_trial": "digits-001-abcdef12", "best_value": 0.9})
    view = describe_job(the_job, [trial(1, value=0.9), trial(2, TrialStatus.FAILED), trial(3, TrialStatus.IN_PROGRESS)], T0)
    assert view["TrainingJobStatusCounters"] == {"Completed": 1, "InProgress": 1, "RetryableError": 0,
                                                 "NonRetryableError": 1, "Stopped": 0}
    assert view["ObjectiveStatusCounters"] == {"Succeeded": 1, "Pending": 1, "Failed": 1}
    best = view["BestTrainingJob"]
    assert best["TrainingJobName"] == "digits-001-abcdef12"
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 0.9
    assert "epochs" not in best["TunedHyperParameters"]  # static ones are not tuned


TRIALS = [trial(1, value=0.5), trial(2, TrialStatus.FAILED), trial(3, value=0.9), trial(4, TrialStatus.IN_PROGRESS),
          trial(5, value=0.7)]


def test_list_sorted_by_objective_puts_trials_without_one_last():
    page = list_trials(job(), TRIALS, sort_by="FinalObjectiveMetricValue", sort_order="Descending")
    assert [s["TrainingJobNumber"] for s in page["TrainingJobSummaries"]] == [3, 5, 1, 2, 4]


def test_list_filters_by_status():
    page = list_trials(job(), TRIALS, status="Completed")
    assert [s["TrainingJobNumber"] for s in page["TrainingJobSummaries"]] == [1, 3, 5]


@settings(max_examples=50)
@given(st.integers(1, 6), st.sampled_from(["Name", "CreationTime", "Status", "FinalObjectiveMetricValue"]),
       st.sampled_from(["Ascending", "Descending"]))
def test_pages_concatenate_to_the_full_listing(limit, sort_by, order):
    full = list_trials(job(), TRIALS, sort_by=sort_by, sort_order=order, limit=100)["TrainingJobSummaries"]
    pages, cursor = [], None
    while True:
        page = list_trials(job(), TRIALS, sort_by=sort_by, sort_order=order, limit=limit, cursor=cursor)
        pages += page["TrainingJobSummaries"]
        cursor = page["NextToken"]
        if cursor is None:
            break
    assert pages == full and len(full) == len(TRIALS)


@pytest.mark.parametrize(("kwargs", "field"), [({"status": "Running"}, "status"), ({"sort_by": "Loss"}, "sort_by"),
                                               ({"sort_order": "Up"}, "sort_order"), ({"cursor": "!!"}, "cursor")])
def test_bad_listing_parameters_name_the_field(kwargs, field):
    with pytest.raises(InvalidInput) as caught:
        list_trials(job(), TRIALS, **kwargs)
    assert caught.value.field == field
