"""What a tuning job is asked to do: the request models, and their validation.

Two request shapes are accepted and normalised to one :class:`TuningJobSpec`:

* skytune's own body (snake_case, the trial definition says which runner runs the trials);
* SageMaker's ``CreateHyperParameterTuningJob`` request as-is (``HyperParameterTuningJobConfig`` +
  ``TrainingJobDefinition``), which runs every trial as a SageMaker training job, so a SageMaker user
  switches by changing the endpoint.

Every rejection is an :class:`~skytune.errors.InvalidInput` whose ``field`` is the path as the caller
wrote it (``resource_limits.max_parallel_training_jobs`` in the native body,
``HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs`` in a SageMaker body).
"""
from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from skytune.errors import InvalidInput
from skytune.ingestion.errors import MetricDefinitionError
from skytune.ingestion.metric_definitions import validate_definitions
from skytune.optimize import SearchSpace, SearchSpaceError, grid_size, parse_space
from skytune.optimize.space import NumericParameter
from skytune.tracking.records import validate_name, validate_tags
from skytune.tuning import limits, policy

Strategy = Literal["Bayesian", "Random", "Sobol", "Grid", "Hyperband"]
RunnerType = Literal["local", "lambda", "external", "sagemaker"]
HyperparameterValue = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ObjectiveSpec(_Strict):
    metric_name: str = Field(min_length=1, max_length=255)
    type: Literal["Maximize", "Minimize"]
    # Beyond AMT, several objectives only: the worst value worth improving on, the hypervolume
    # reference point in this objective (Ax's objective threshold); default 10% past the worst seen
    reference: float | None = Field(default=None, allow_inf_nan=False)


class OutcomeConstraintSpec(_Strict):
    """Beyond AMT: a bound on a metric the trial reports (``latency_ms <= 50``)."""

    metric_name: str = Field(min_length=1, max_length=255)
    operator: Literal["<=", ">="]
    value: float = Field(allow_inf_nan=False)


class ResourceLimits(_Strict):
    # Optional only for Grid, where the grid's size is the budget (as in AMT).
    max_number_of_training_jobs: int | None = Field(default=None, ge=1)
    max_parallel_training_jobs: int = Field(default=1, ge=1)
    max_runtime_in_seconds: int | None = Field(default=None, ge=limits.MIN_JOB_RUNTIME_SECONDS,
                                               le=limits.MAX_JOB_RUNTIME_SECONDS)


class CompletionCriteria(_Strict):
    target_objective_metric_value: float | None = None
    max_number_of_training_jobs_not_improving: int | None = Field(default=None, ge=3)
    complete_on_convergence: bool = False


class WarmStart(_Strict):
    parent_jobs: list[str] = Field(min_length=1, max_length=limits.MAX_PARENT_JOBS)
    type: Literal["IdenticalDataAndAlgorithm", "TransferLearning"] = "IdenticalDataAndAlgorithm"


class HyperbandConfig(_Strict):
    min_resource: int = Field(ge=1)
    max_resource: int = Field(ge=2)


class TrialDefinition(_Strict):
    """How one trial runs. Per runner, what is needed:

    * ``local``: ``command`` (argv; the hyperparameters are appended as ``--name value``, also in the
      environment as ``SM_HP_<NAME>`` and in ``hyperparameters.json``), optional ``working_dir`` and
      ``environment``;
    * ``lambda``: ``function_name`` (invoked with the hyperparameters; it returns or logs its metrics);
    * ``external``: nothing: the trial is published on the trials queue for any worker;
    * ``sagemaker``: ``training_job_definition`` (AMT's ``TrainingJobDefinition``).
    """

    runner: RunnerType
    command: list[str] = Field(default_factory=list)
    working_dir: str | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    function_name: str | None = None
    training_job_definition: dict[str, Any] | None = None
    static_hyperparameters: dict[str, HyperparameterValue] = Field(default_factory=dict)
    metric_definitions: list[dict[str, str]] = Field(default_factory=list)
    max_runtime_in_seconds: int = Field(default=limits.DEFAULT_TRIAL_RUNTIME_SECONDS, ge=1,
                                        le=limits.MAX_TRIAL_RUNTIME_SECONDS)
    heartbeat_seconds: int = Field(default=limits.DEFAULT_HEARTBEAT_SECONDS, ge=1, le=3600)


class TuningJobSpec(_Strict):
    name: str
    strategy: Strategy = "Bayesian"
    # Beyond AMT (see docs/tuning.md): several objectives (the first is ``objective``), outcome
    # constraints; conditional parameters live in parameter_ranges ("Conditions"). Declared
    # before ``objective`` so that a bad list is the error named, not the objective it implies.
    objectives: list[ObjectiveSpec] | None = Field(default=None, min_length=1, max_length=limits.MAX_OBJECTIVES)
    objective: ObjectiveSpec
    outcome_constraints: list[OutcomeConstraintSpec] = Field(default_factory=list,
                                                             max_length=limits.MAX_OUTCOME_CONSTRAINTS)
    parameter_ranges: dict[str, Any]
    resource_limits: ResourceLimits
    early_stopping: Literal["Off", "Auto"] = "Off"
    completion_criteria: CompletionCriteria = Field(default_factory=CompletionCriteria)
    warm_start: WarmStart | None = None
    hyperband: HyperbandConfig | None = None
    random_seed: int = Field(default=0, ge=0, le=2**31 - 1)
    trial: TrialDefinition
    tags: dict[str, str] = Field(default_factory=dict)
    description: str = Field(default="", max_length=3072)

    _name = field_validator("name")(validate_name)
    _tags = field_validator("tags")(validate_tags)

    @model_validator(mode="before")
    @classmethod
    def _objective_from_objectives(cls, data: Any) -> Any:
        """A body giving only ``objectives`` has the first of them as its ``objective``."""
        if isinstance(data, Mapping) and data.get("objective") is None and isinstance(data.get("objectives"), list) \
                and data["objectives"]:
            data = {**data, "objective": data["objectives"][0]}
        return data

    # -- beyond AMT -----------------------------------------------------------------------------
    @property
    def all_objectives(self) -> list[ObjectiveSpec]:
        return list(self.objectives) if self.objectives else [self.objective]

    @property
    def is_multi_objective(self) -> bool:
        return len(self.all_objectives) > 1

    @property
    def reported_metrics(self) -> list[str]:
        """Metrics besides the objective that the job keeps per trial (further objectives and
        constrained metrics), in spec order, each once."""
        names = [o.metric_name for o in self.all_objectives[1:]] + [c.metric_name for c in self.outcome_constraints]
        return [m for i, m in enumerate(names) if m != self.objective.metric_name and m not in names[:i]]

    @property
    def uses_extended_optimizer(self) -> bool:
        """Several objectives, constraints or a conditional space: the Bayesian strategy runs
        skytune.optimize.extended instead of the single-objective one."""
        return self.is_multi_objective or bool(self.outcome_constraints) or \
            any("Conditions" in r for rs in self.parameter_ranges.values() if isinstance(rs, list)
                for r in rs if isinstance(r, Mapping))

    # -- derived ------------------------------------------------------------------------------
    def search_space(self) -> SearchSpace:
        return parse_space(self.parameter_ranges, self.trial.static_hyperparameters)

    @property
    def max_trials(self) -> int:
        assert self.resource_limits.max_number_of_training_jobs is not None  # set by validation
        return self.resource_limits.max_number_of_training_jobs

    @property
    def workers(self) -> int:
        """Parallel trial slots: never more than the trials the job may start."""
        return min(self.resource_limits.max_parallel_training_jobs, self.max_trials)

    def fingerprint(self) -> str:
        """Identity of the request, to tell a retried create (same body) from a conflicting one."""
        body = self.model_dump(mode="json")
        for key in ("objectives", "outcome_constraints"):  # absent as before they existed: same identity
            if not body.get(key):
                body.pop(key, None)
        for objective in [body.get("objective") or {}] + list(body.get("objectives") or []):
            if objective.get("reference") is None:  # likewise the objective's reference (round 4)
                objective.pop("reference", None)
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Parsing: native or SageMaker body -> TuningJobSpec, with every rule checked.
# ---------------------------------------------------------------------------------------------
# Native field path prefix -> the same field in a CreateHyperParameterTuningJob body.
_SAGEMAKER_FIELDS = {
    "name": "HyperParameterTuningJobName",
    "strategy": "HyperParameterTuningJobConfig.Strategy",
    "objective.metric_name": "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.MetricName",
    "objective.type": "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.Type",
    "objective": "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective",
    "objectives": "HyperParameterTuningJobConfig.HyperParameterTuningJobObjectives",
    "outcome_constraints": "HyperParameterTuningJobConfig.OutcomeConstraints",
    "parameter_ranges": "HyperParameterTuningJobConfig.ParameterRanges",
    "resource_limits.max_number_of_training_jobs": "HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs",
    "resource_limits.max_parallel_training_jobs": "HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs",
    "resource_limits.max_runtime_in_seconds": "HyperParameterTuningJobConfig.ResourceLimits.MaxRuntimeInSeconds",
    "resource_limits": "HyperParameterTuningJobConfig.ResourceLimits",
    "early_stopping": "HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType",
    "completion_criteria.target_objective_metric_value": "HyperParameterTuningJobConfig.TuningJobCompletionCriteria.TargetObjectiveMetricValue",
    "completion_criteria.max_number_of_training_jobs_not_improving": "HyperParameterTuningJobConfig.TuningJobCompletionCriteria.BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving",
    "completion_criteria": "HyperParameterTuningJobConfig.TuningJobCompletionCriteria",
    "hyperband.min_resource": "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.MinResource",
    "hyperband.max_resource": "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.MaxResource",
    "hyperband": "HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig",
    "random_seed": "HyperParameterTuningJobConfig.RandomSeed",
    "warm_start.parent_jobs": "WarmStartConfig.ParentHyperParameterTuningJobs",
    "warm_start.type": "WarmStartConfig.WarmStartType",
    "warm_start": "WarmStartConfig",
    "trial.static_hyperparameters": "TrainingJobDefinition.StaticHyperParameters",
    "trial.metric_definitions": "TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions",
    "trial.max_runtime_in_seconds": "TrainingJobDefinition.StoppingCondition.MaxRuntimeInSeconds",
    "trial.training_job_definition": "TrainingJobDefinition",
    "trial": "TrainingJobDefinition",
    "tags": "Tags",
}


def parse_request(body: Any) -> TuningJobSpec:
    """A validated spec from either request shape (see module docstring)."""
    if not isinstance(body, Mapping):
        raise InvalidInput("the request body must be a JSON object", field="body")
    if "HyperParameterTuningJobConfig" in body or "HyperParameterTuningJobName" in body:
        try:
            return _validated(_from_sagemaker(body))
        except InvalidInput as error:
            raise _renamed(error) from None
    return _validated(body)


def _validated(raw: Mapping[str, Any]) -> TuningJobSpec:
    try:
        spec = TuningJobSpec.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]).lstrip(".") \
            or "body"
        raise InvalidInput(f"{field}: {first['msg']}", field=field) from None
    _check_rules(spec)
    return spec


def _check_rules(spec: TuningJobSpec) -> None:
    trial = spec.trial
    try:
        space = spec.search_space()
    except SearchSpaceError as error:
        field = error.field.replace("ParameterRanges", "parameter_ranges", 1)
        if field.startswith("StaticHyperParameters"):
            field = field.replace("StaticHyperParameters", "trial.static_hyperparameters", 1)
        raise InvalidInput(f"{field}: {error.message}", field=field) from None

    try:
        definitions = validate_definitions(trial.metric_definitions, field_prefix="trial.metric_definitions")
    except MetricDefinitionError as error:
        raise InvalidInput(str(error), field=error.field) from None
    names = {d.name for d in definitions}
    if trial.runner == "local" and not definitions:
        raise InvalidInput("a local trial reports metrics through its logs: give metric_definitions",
                           field="trial.metric_definitions")
    if definitions and spec.objective.metric_name not in names:
        raise InvalidInput(
            f"objective metric {spec.objective.metric_name!r} is not among the metric definitions "
            f"({', '.join(sorted(names))})", field="objective.metric_name")
    _check_beyond_amt(spec, space, names)

    _check_runner(trial)
    policy.check_trial(trial)  # the deployment's allow-lists and caps (skytune.tuning.policy)
    _check_size_limits(spec, space)
    _check_budget(spec, space)

    if spec.strategy == "Hyperband":
        if spec.hyperband is None:
            raise InvalidInput("the Hyperband strategy needs hyperband.min_resource and max_resource", field="hyperband")
        if spec.hyperband.min_resource >= spec.hyperband.max_resource:
            raise InvalidInput("must be greater than min_resource", field="hyperband.max_resource")
        if spec.early_stopping != "Off":
            raise InvalidInput("Hyperband stops trials itself: early_stopping must be Off", field="early_stopping")
    elif spec.hyperband is not None:
        raise InvalidInput("only the Hyperband strategy takes a hyperband configuration", field="hyperband")
    if spec.strategy == "Grid" and spec.warm_start is not None:
        raise InvalidInput("a Grid search visits every point; warm start does not apply", field="warm_start")
    for index, parent in enumerate(spec.warm_start.parent_jobs if spec.warm_start else []):
        if parent == spec.name:
            raise InvalidInput("a job cannot warm start from itself", field=f"warm_start.parent_jobs[{index}]")


def _check_beyond_amt(spec: TuningJobSpec, space: SearchSpace, defined: set[str]) -> None:
    """Several objectives, outcome constraints and conditional ranges: what combines with what."""
    if spec.objectives:
        if spec.objectives[0] != spec.objective:
            raise InvalidInput("objective must be the first of objectives (or leave objective out)",
                               field="objectives[0]")
        seen: set[str] = set()
        for index, objective in enumerate(spec.objectives):
            if objective.metric_name in seen:
                raise InvalidInput(f"metric {objective.metric_name!r} is already an objective",
                                   field=f"objectives[{index}].metric_name")
            seen.add(objective.metric_name)
            if defined and objective.metric_name not in defined:
                raise InvalidInput(f"objective metric {objective.metric_name!r} is not among the metric "
                                   f"definitions ({', '.join(sorted(defined))})",
                                   field=f"objectives[{index}].metric_name")
    for index, constraint in enumerate(spec.outcome_constraints):
        if defined and constraint.metric_name not in defined:
            raise InvalidInput(f"constrained metric {constraint.metric_name!r} is not among the metric "
                               f"definitions ({', '.join(sorted(defined))})",
                               field=f"outcome_constraints[{index}].metric_name")
    criteria = spec.completion_criteria
    uses_criteria = criteria.target_objective_metric_value is not None or \
        criteria.max_number_of_training_jobs_not_improving is not None or criteria.complete_on_convergence
    if not spec.is_multi_objective and spec.objective.reference is not None:
        raise InvalidInput("a reference (hypervolume reference point) needs several objectives",
                           field="objectives[0].reference" if spec.objectives else "objective.reference")
    if spec.is_multi_objective:
        if spec.strategy == "Hyperband":
            raise InvalidInput("Hyperband stops trials on one objective: not with several objectives",
                               field="strategy")
        if spec.early_stopping != "Off":
            raise InvalidInput("early stopping compares one objective: must be Off with several objectives",
                               field="early_stopping")
    if uses_criteria and (spec.is_multi_objective or spec.outcome_constraints):
        raise InvalidInput("completion criteria judge one unconstrained objective: not with several "
                           "objectives or outcome constraints", field="completion_criteria")
    if spec.warm_start is not None and (spec.is_multi_objective or spec.outcome_constraints or space.conditions):
        raise InvalidInput("warm start is not supported with several objectives, outcome constraints or "
                           "conditional ranges", field="warm_start")
    if space.conditions and spec.strategy == "Grid":
        name = next(iter(space.conditions))
        raise InvalidInput("the Grid strategy does not take conditional ranges (use Random, Sobol or Bayesian)",
                           field=f"{_range_field(spec, name)}.Conditions")


def _check_runner(trial: TrialDefinition) -> None:
    required = {"local": "command", "lambda": "function_name", "sagemaker": "training_job_definition"}
    needed = required.get(trial.runner)
    if needed and not getattr(trial, needed):
        raise InvalidInput(f"the {trial.runner} runner needs trial.{needed}", field=f"trial.{needed}")
    for other, attribute in required.items():
        if other != trial.runner and getattr(trial, attribute):
            raise InvalidInput(f"trial.{attribute} is for the {other} runner, not {trial.runner}",
                               field=f"trial.{attribute}")


# -- size limits (issue 9): bounds that keep a spec from costing unbounded time or memory ---------
def _check_size_limits(spec: TuningJobSpec, space: SearchSpace) -> None:
    """Integer ranges within INTEGER_RANGE_MAX_ABS, and a Grid of at most GRID_MAX_POINTS points,
    counted from the range definitions without listing them (a 20 x 1,000,001 grid is refused at
    once rather than built)."""
    for parameter in space.parameters:
        if isinstance(parameter, NumericParameter) and parameter.is_integer:
            for key, value in (("MinValue", parameter.low), ("MaxValue", parameter.high)):
                if abs(value) > limits.INTEGER_RANGE_MAX_ABS:
                    field = f"{_range_field(spec, parameter.name)}.{key}"
                    raise InvalidInput(f"{field}: integer ranges lie within +-{limits.INTEGER_RANGE_MAX_ABS}", field=field)
    if spec.strategy != "Grid":
        return
    size = 1
    for parameter in space.parameters:
        size *= _grid_axis_length(parameter)
        if size > limits.GRID_MAX_POINTS:
            raise InvalidInput(f"the grid has more than {limits.GRID_MAX_POINTS} points; use fewer values per range "
                               "(NumberOfValues or a larger Step) or the Random or Bayesian strategy",
                               field="parameter_ranges", details={"limit": "GRID_MAX_POINTS"})


def _grid_axis_length(parameter) -> int:
    """How many values a Grid visits for one range: NumericParameter.grid_values() without the list."""
    if not isinstance(parameter, NumericParameter):
        return len(parameter.choices)
    if parameter.grid_count is not None:
        return parameter.grid_count
    if parameter.grid_step is not None:
        return int(math.floor((parameter.high - parameter.low) / parameter.grid_step + 1e-9)) + 1
    if parameter.is_integer:
        return int(parameter.high) - int(parameter.low) + 1
    return 1  # a continuous range without a step: grid_size() names it


def _check_budget(spec: TuningJobSpec, space: SearchSpace) -> None:
    budget = spec.resource_limits
    if spec.strategy == "Grid":
        try:
            size = grid_size(space)
        except SearchSpaceError as error:
            field = _range_field(spec, error.field)
            raise InvalidInput(f"{field}: {error.message}", field=field) from None
        # As in AMT, a grid's budget is its size; a smaller explicit budget visits a prefix of it.
        budget.max_number_of_training_jobs = min(budget.max_number_of_training_jobs or size, size)
    if budget.max_number_of_training_jobs is None:
        raise InvalidInput("is required (except for Grid)", field="resource_limits.max_number_of_training_jobs")
    if budget.max_number_of_training_jobs > limits.MAX_TRAINING_JOBS:
        raise InvalidInput(f"at most {limits.MAX_TRAINING_JOBS} training jobs per tuning job",
                           field="resource_limits.max_number_of_training_jobs")
    if budget.max_parallel_training_jobs > limits.MAX_PARALLEL_TRAINING_JOBS:
        raise InvalidInput(f"at most {limits.MAX_PARALLEL_TRAINING_JOBS} trials run in parallel",
                           field="resource_limits.max_parallel_training_jobs")


def _range_field(spec: TuningJobSpec, parameter_name: str) -> str:
    """The parameter_ranges path of a parameter named in an optimiser error."""
    for kind, ranges in spec.parameter_ranges.items():
        for index, item in enumerate(ranges or []):
            if isinstance(item, Mapping) and item.get("Name") == parameter_name:
                return f"parameter_ranges.{kind}[{index}]"
    return "parameter_ranges"


def _camel_path(rest: str) -> str:
    """``.1.metric_name`` or ``[1].metric_name`` -> ``[1].MetricName``."""
    parts = [p for p in rest.replace("[", ".").replace("]", "").split(".") if p]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else "." + "".join(w.capitalize() for w in part.split("_"))
    return out


def _renamed(error: InvalidInput) -> InvalidInput:
    """The same error with the field as a SageMaker body names it."""
    field = error.field or "body"
    for prefix in sorted(_SAGEMAKER_FIELDS, key=len, reverse=True):
        if field == prefix or field.startswith(prefix + ".") or field.startswith(prefix + "["):
            renamed = _SAGEMAKER_FIELDS[prefix] + field[len(prefix):]
            if prefix in ("objectives", "outcome_constraints"):  # objectives.1.type -> ...Objectives[1].Type
                head, _, rest = renamed.partition(_SAGEMAKER_FIELDS[prefix])
                renamed = _SAGEMAKER_FIELDS[prefix] + _camel_path(rest)
            return InvalidInput(error.message.replace(field, renamed, 1), field=renamed, details=error.details)
    return error


# ---------------------------------------------------------------------------------------------
# SageMaker's CreateHyperParameterTuningJob body
# ---------------------------------------------------------------------------------------------
_UNSUPPORTED_SAGEMAKER = {
    "TrainingJobDefinitions": "several training job definitions per tuning job",
    "Autotune": "Autotune",
}


def _from_sagemaker(body: Mapping[str, Any]) -> dict[str, Any]:
    for key, what in _UNSUPPORTED_SAGEMAKER.items():
        if key in body:
            raise InvalidInput(f"{what} is not supported; give one TrainingJobDefinition", field=key)
    config = _object(body, "HyperParameterTuningJobConfig")
    definition = _object(body, "TrainingJobDefinition")
    several = config.get("HyperParameterTuningJobObjectives")
    objective = config.get("HyperParameterTuningJobObjective") if several is not None else \
        _object(config, "HyperParameterTuningJobObjective", "HyperParameterTuningJobConfig.")
    limits_ = _object(config, "ResourceLimits", "HyperParameterTuningJobConfig.")
    criteria = config.get("TuningJobCompletionCriteria") or {}
    algorithm = definition.get("AlgorithmSpecification") or {}
    stopping = definition.get("StoppingCondition") or {}
    hyperband = ((config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig"))
    warm = body.get("WarmStartConfig")

    # TrainingJobDefinition travels to CreateTrainingJob as given, minus what we lift out of it
    # (each trial gets its own hyperparameters; metric definitions stay as SageMaker wants them).
    training = {k: v for k, v in definition.items() if k not in ("StaticHyperParameters",)}
    spec: dict[str, Any] = {
        "name": body.get("HyperParameterTuningJobName"),
        "strategy": config.get("Strategy", "Bayesian"),
        "objective": {"metric_name": objective.get("MetricName"), "type": objective.get("Type")}
        if isinstance(objective, Mapping) else None,
        "parameter_ranges": config.get("ParameterRanges") or {},
        "resource_limits": _drop_none({
            "max_number_of_training_jobs": limits_.get("MaxNumberOfTrainingJobs"),
            "max_parallel_training_jobs": limits_.get("MaxParallelTrainingJobs", 1),
            "max_runtime_in_seconds": limits_.get("MaxRuntimeInSeconds"),
        }),
        "early_stopping": config.get("TrainingJobEarlyStoppingType", "Off"),
        "completion_criteria": _drop_none({
            "target_objective_metric_value": criteria.get("TargetObjectiveMetricValue"),
            "max_number_of_training_jobs_not_improving":
                (criteria.get("BestObjectiveNotImproving") or {}).get("MaxNumberOfTrainingJobsNotImproving"),
            "complete_on_convergence":
                (criteria.get("ConvergenceDetected") or {}).get("CompleteOnConvergence") == "Enabled",
        }),
        "random_seed": config.get("RandomSeed", 0),
        "trial": _drop_none({
            "runner": "sagemaker",
            "training_job_definition": training,
            "static_hyperparameters": definition.get("StaticHyperParameters") or {},
            "metric_definitions": algorithm.get("MetricDefinitions") or [],
            "max_runtime_in_seconds": stopping.get("MaxRuntimeInSeconds"),
        }),
        "tags": {t.get("Key"): t.get("Value") for t in body.get("Tags") or [] if isinstance(t, Mapping)},
    }
    if several is not None:
        spec["objectives"] = [{"metric_name": o.get("MetricName"), "type": o.get("Type"),
                               **({"reference": o["Reference"]} if "Reference" in o else {})}
                              if isinstance(o, Mapping) else o
                              for o in several] if isinstance(several, list) else several
    constraints = config.get("OutcomeConstraints")
    if constraints is not None:
        spec["outcome_constraints"] = [
            {"metric_name": c.get("MetricName"), "operator": c.get("Operator"), "value": c.get("Value")}
            if isinstance(c, Mapping) else c for c in constraints] if isinstance(constraints, list) else constraints
    if hyperband:
        spec["hyperband"] = {"min_resource": hyperband.get("MinResource"), "max_resource": hyperband.get("MaxResource")}
    if warm:
        spec["warm_start"] = {
            "parent_jobs": [p.get("HyperParameterTuningJobName") for p in warm.get("ParentHyperParameterTuningJobs") or []],
            "type": warm.get("WarmStartType", "IdenticalDataAndAlgorithm"),
        }
    return spec


def _object(body: Mapping[str, Any], key: str, prefix: str = "") -> Mapping[str, Any]:
    value = body.get(key)
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{prefix}{key} is required (an object)", field=f"{prefix}{key}")
    return value


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def to_sagemaker_config(spec: TuningJobSpec) -> dict[str, Any]:
    """The job's ``HyperParameterTuningJobConfig`` as DescribeHyperParameterTuningJob shows it."""
    config: dict[str, Any] = {
        "Strategy": spec.strategy,
        "HyperParameterTuningJobObjective": {"Type": spec.objective.type, "MetricName": spec.objective.metric_name},
        "ResourceLimits": _drop_none({
            "MaxNumberOfTrainingJobs": spec.resource_limits.max_number_of_training_jobs,
            "MaxParallelTrainingJobs": spec.resource_limits.max_parallel_training_jobs,
            "MaxRuntimeInSeconds": spec.resource_limits.max_runtime_in_seconds,
        }),
        "ParameterRanges": spec.parameter_ranges,
        "TrainingJobEarlyStoppingType": spec.early_stopping,
        "RandomSeed": spec.random_seed,
    }
    if spec.objectives:
        config["HyperParameterTuningJobObjectives"] = [
            {"Type": o.type, "MetricName": o.metric_name, **({"Reference": o.reference} if o.reference is not None else {})}
            for o in spec.objectives]
    if spec.outcome_constraints:
        config["OutcomeConstraints"] = [{"MetricName": c.metric_name, "Operator": c.operator, "Value": c.value}
                                        for c in spec.outcome_constraints]
    criteria = spec.completion_criteria
    completion: dict[str, Any] = {}
    if criteria.target_objective_metric_value is not None:
        completion["TargetObjectiveMetricValue"] = criteria.target_objective_metric_value
    if criteria.max_number_of_training_jobs_not_improving is not None:
        completion["BestObjectiveNotImproving"] = {
            "MaxNumberOfTrainingJobsNotImproving": criteria.max_number_of_training_jobs_not_improving}
    if criteria.complete_on_convergence:
        completion["ConvergenceDetected"] = {"CompleteOnConvergence": "Enabled"}
    if completion:
        config["TuningJobCompletionCriteria"] = completion
    if spec.hyperband:
        config["StrategyConfig"] = {"HyperbandStrategyConfig": {
            "MinResource": spec.hyperband.min_resource, "MaxResource": spec.hyperband.max_resource}}
    return config
