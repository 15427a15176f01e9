"""Beyond AMT in the spec, the views and the CLI: several objectives, outcome constraints and
conditional ranges in both request shapes, the rules on what combines, 400s naming fields."""
from __future__ import annotations

import copy
import json

import pytest

from skytune.errors import InvalidInput
from skytune.tuning import cli
from skytune.tuning.records import TrialStatus
from skytune.tuning.spec import TuningJobSpec, parse_request, to_sagemaker_config
from skytune.tuning.views import describe_job, list_trials
from tests.unit.tuning.helpers import NATIVE, SAGEMAKER, T0, body, job, trial

TWO = [{"metric_name": "validation:accuracy", "type": "Maximize"}, {"metric_name": "latency", "type": "Minimize"}]
DEFINITIONS = [{"Name": "validation:accuracy", "Regex": "acc=([0-9.]+)"}, {"Name": "latency", "Regex": "lat=([0-9.]+)"}]


def mo_body(**changes):
    return body(**{"objective": ..., "objectives": TWO, "trial.metric_definitions": DEFINITIONS, **changes})


def test_objectives_alone_make_the_first_one_the_objective():
    spec = parse_request(mo_body())
    assert spec.objective.metric_name == "validation:accuracy" and spec.is_multi_objective
    assert spec.reported_metrics == ["latency"] and spec.uses_extended_optimizer
    assert parse_request(mo_body(objective=TWO[0])).fingerprint() == spec.fingerprint()


def test_a_plain_spec_keeps_its_identity():
    # fingerprints of jobs created before these fields existed do not change
    spec = parse_request(body())
    assert not spec.uses_extended_optimizer and spec.reported_metrics == []
    dumped = spec.model_dump(mode="json")
    dumped.pop("objectives"), dumped.pop("outcome_constraints"), dumped["objective"].pop("reference")
    import hashlib
    assert spec.fingerprint() == hashlib.sha256(json.dumps(dumped, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@pytest.mark.parametrize("changes, field", [
    ({"objective": TWO[1]}, "objectives[0]"),
    ({"objectives": [TWO[0], {**TWO[1], "metric_name": "validation:accuracy"}]}, "objectives[1].metric_name"),
    ({"objectives": [TWO[0], {"metric_name": "size", "type": "Minimize"}]}, "objectives[1].metric_name"),
    ({"objectives": TWO * 3}, "objectives"),
    ({"objectives": []}, "objectives"),
    ({"strategy": "Hyperband", "hyperband": {"min_resource": 1, "max_resource": 9}}, "strategy"),
    ({"early_stopping": "Auto"}, "early_stopping"),
    ({"completion_criteria": {"target_objective_metric_value": 0.9}}, "completion_criteria"),
    ({"warm_start": {"parent_jobs": ["other"]}}, "warm_start"),
    ({"outcome_constraints": [{"metric_name": "memory", "operator": "<=", "value": 1}]}, "outcome_constraints[0].metric_name"),
    ({"outcome_constraints": [{"metric_name": "latency", "operator": "<=", "value": "fast"}]}, "outcome_constraints[0].value"),
    ({"outcome_constraints": [{"metric_name": "latency", "operator": "==", "value": 1}]}, "outcome_constraints[0].operator"),
])
def test_beyond_amt_rules_name_the_field(changes, field):
    with pytest.raises(InvalidInput) as error:
        parse_request(mo_body(**changes))
    assert error.value.field == field, error.value.message


def test_constraints_refuse_completion_criteria_and_conditions_refuse_grid_and_warm_start():
    constrained = {"outcome_constraints": [{"metric_name": "latency", "operator": "<=", "value": 5}],
                   "trial.metric_definitions": DEFINITIONS}
    with pytest.raises(InvalidInput) as error:
        parse_request(body(**constrained, completion_criteria={"complete_on_convergence": True}))
    assert error.value.field == "completion_criteria"
    conditional = copy.deepcopy(NATIVE["parameter_ranges"])
    conditional["IntegerParameterRanges"][0]["Conditions"] = [{"Parameter": "act", "Values": ["relu"]}]
    with pytest.raises(InvalidInput) as error:
        parse_request(body(parameter_ranges=conditional, strategy="Grid"))
    assert error.value.field == "parameter_ranges.IntegerParameterRanges[0].Conditions"
    with pytest.raises(InvalidInput) as error:
        parse_request(body(parameter_ranges=conditional, warm_start={"parent_jobs": ["p"]}))
    assert error.value.field == "warm_start"
    assert parse_request(body(parameter_ranges=conditional)).search_space().conditions


def test_an_objective_reference_parses_maps_and_keeps_old_identities():
    with_reference = [{**TWO[0], "reference": 0.8}, TWO[1]]
    spec = parse_request(mo_body(objectives=with_reference))
    assert [o.reference for o in spec.all_objectives] == [0.8, None]
    assert spec.fingerprint() != parse_request(mo_body()).fingerprint()
    assert to_sagemaker_config(spec)["HyperParameterTuningJobObjectives"][0] == {
        "Type": "Maximize", "MetricName": "validation:accuracy", "Reference": 0.8}
    # a spec without references has the identity it had before the field existed
    plain = parse_request(mo_body())
    dumped = plain.model_dump(mode="json")
    for objective in [dumped["objective"], *dumped["objectives"]]:
        assert objective.pop("reference") is None
    assert dumped.pop("outcome_constraints") == []
    import hashlib
    assert plain.fingerprint() == hashlib.sha256(
        json.dumps(dumped, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@pytest.mark.parametrize("changes, field", [
    ({"objectives": [{**TWO[0], "reference": "high"}, TWO[1]]}, "objectives[0].reference"),
    ({"objectives": [TWO[0], {**TWO[1], "reference": float("inf")}]}, "objectives[1].reference"),
    ({"objectives": [{**TWO[0], "reference": 0.5}]}, "objectives[0].reference"),
])
def test_bad_objective_references_name_the_field(changes, field):
    with pytest.raises(InvalidInput) as error:
        parse_request(mo_body(**changes))
    assert error.value.field == field, error.value.message


def test_sagemaker_body_maps_objectives_and_constraints_and_describes_them_back():
    raw = copy.deepcopy(SAGEMAKER)
    config = raw["HyperParameterTuningJobConfig"]
    for key in ("HyperParameterTuningJobObjective", "TuningJobCompletionCriteria", "TrainingJobEarlyStoppingType"):
        config.pop(key)
    config["HyperParameterTuningJobObjectives"] = [{"Type": "Minimize", "MetricName": "validation:rmse"},
                                                   {"Type": "Minimize", "MetricName": "model_size"}]
    config["OutcomeConstraints"] = [{"MetricName": "latency", "Operator": "<=", "Value": 20}]
    raw["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"] += [
        {"Name": "model_size", "Regex": "size=([0-9.]+)"}, {"Name": "latency", "Regex": "lat=([0-9.]+)"}]
    spec = parse_request(raw)
    assert [o.metric_name for o in spec.all_objectives] == ["validation:rmse", "model_size"]
    assert spec.outcome_constraints[0].value == 20.0
    shown = to_sagemaker_config(spec)
    assert shown["HyperParameterTuningJobObjectives"] == config["HyperParameterTuningJobObjectives"]
    assert shown["OutcomeConstraints"] == [{"MetricName": "latency", "Operator": "<=", "Value": 20.0}]
    bad = copy.deepcopy(raw)
    bad["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjectives"][1]["Type"] = "Smallest"
    with pytest.raises(InvalidInput) as error:
        parse_request(bad)
    assert error.value.field == "HyperParameterTuningJobConfig.HyperParameterTuningJobObjectives[1].Type"
    bad = copy.deepcopy(raw)
    bad["HyperParameterTuningJobConfig"]["OutcomeConstraints"][0]["MetricName"] = "memory"
    with pytest.raises(InvalidInput) as error:
        parse_request(bad)
    assert error.value.field == "HyperParameterTuningJobConfig.OutcomeConstraints[0].MetricName"


def _mo_trials():
    values = [(0.9, 30.0), (0.8, 10.0), (0.7, 20.0), (0.95, 50.0)]  # (0.7, 20) is dominated by (0.8, 10)
    trials = [trial(i + 1, value=a, final_metrics={"validation:accuracy": a, "latency": b})
              for i, (a, b) in enumerate(values)]
    return trials + [trial(5, status=TrialStatus.FAILED)]


def test_describe_and_list_show_the_pareto_set_and_every_objective():
    mo = job(**{"objective": ..., "objectives": TWO, "trial.metric_definitions": DEFINITIONS})
    view = describe_job(mo, _mo_trials(), T0)
    assert [t["TrainingJobNumber"] for t in view["ParetoFrontTrainingJobs"]] == [1, 2, 4]
    assert "BestTrainingJob" not in view
    first = view["ParetoFrontTrainingJobs"][0]
    assert first["FinalObjectiveMetrics"] == [
        {"Type": "Maximize", "MetricName": "validation:accuracy", "Value": 0.9},
        {"Type": "Minimize", "MetricName": "latency", "Value": 30.0}]
    table = cli.trial_table(list_trials(mo, _mo_trials())["TrainingJobSummaries"])
    assert "validation:accuracy=0.9,latency=30" in table
    summary = cli.summary(view)
    assert "pareto=3" in summary and "best=" not in summary


def test_constrained_views_and_cli_show_feasibility():
    constrained = job(**{"outcome_constraints": [{"metric_name": "latency", "operator": "<=", "value": 25}],
                         "trial.metric_definitions": DEFINITIONS})
    trials = [trial(1, value=0.9, final_metrics={"validation:accuracy": 0.9, "latency": 30.0}, feasible=False),
              trial(2, value=0.8, final_metrics={"validation:accuracy": 0.8, "latency": 10.0}, feasible=True)]
    constrained.best_trial, constrained.best_value = trials[1].name, 0.8
    view = describe_job(constrained, trials, T0)
    assert view["BestTrainingJob"]["TrainingJobNumber"] == 2
    assert view["OutcomeConstraintCounters"] == {"Feasible": 1, "Infeasible": 1}
    assert view["BestTrainingJob"]["OutcomeConstraintValues"] == [
        {"MetricName": "latency", "Operator": "<=", "Value": 25.0, "Observed": 10.0, "Satisfied": True}]
    lines = cli.trial_table(list_trials(constrained, trials)["TrainingJobSummaries"]).splitlines()
    assert "feasible" in lines[0] and " no " in lines[1] and " yes " in lines[2]
    assert cli.summary(view).endswith("feasible=1 infeasible=1")


def test_cli_pareto_command(monkeypatch, capsys):
    mo = job(**{"objective": ..., "objectives": TWO, "trial.metric_definitions": DEFINITIONS})
    described = describe_job(mo, _mo_trials(), T0)
    monkeypatch.setattr(cli._Calls, "call", lambda self, method, path, body=None, query=None: described)
    parser = __import__("argparse").ArgumentParser()
    cli.add_parser(parser.add_subparsers(dest="command"))
    assert cli.run(parser.parse_args(["tuning", "pareto", "digits"])) == 0
    out = capsys.readouterr().out
    assert out.startswith("Pareto set (3 trials):") and out.count("digits-00") == 3
