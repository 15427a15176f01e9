"""Least privilege in the template (issue 10): no unlisted wildcard, PassRole on the allowed training roles
only, SageMaker actions on skytune-tagged jobs only, route classes and JWT scopes, quiet logs."""
from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Annotations, Match, Template

from tests.infra.conftest import synth_stack

# AWS APIs that have no resource-level permissions: AWS documents `Resource: "*"` for them. Anything
# else with `Resource: "*"` or a wildcard in an action fails the test below.
RESOURCE_STAR_ALLOWED = {
    # X-Ray (Tracer in every function, tracing of the state machine)
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
    # CloudWatch Logs "vended log" delivery, which Step Functions logging uses
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    # The SageMaker training role: ECR login, and metrics (limited by a cloudwatch:namespace condition)
    "ecr:GetAuthorizationToken", "cloudwatch:PutMetricData",
}


# The dashboard's file copy (infra/constructs/dashboard.py) is aws-cdk-lib's BucketDeployment: its
# provider's grants (s3:GetObject* on the CDK assets bucket and the dashboard bucket, CloudFront
# invalidations, which take no resource) are written by CDK; cdk-nag acknowledges each one there.
CDK_BUCKET_DEPLOYMENT = "CustomCDKBucketDeployment"


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def iam_statements(template: Template) -> list[tuple[str, dict]]:
    """Every statement of every identity policy in the template: (logical id, statement)."""
    found = []
    for logical_id, resource in template.to_json()["Resources"].items():
        documents = []
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append(resource["Properties"]["PolicyDocument"])
        if resource["Type"] == "AWS::IAM::Role":
            documents += [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]
        for document in documents:
            found += [(logical_id, statement) for statement in document["Statement"]]
    return found


def statements_of(template: Template, fragment: str) -> list[dict]:
    return [s for lid, s in iam_statements(template) if fragment in lid]


def test_no_wildcard_outside_the_allow_list(template):
    statements = iam_statements(template)
    assert len(statements) > 40  # the listing sees the whole template
    offending = []
    for logical_id, statement in statements:
        if logical_id.startswith(CDK_BUCKET_DEPLOYMENT):
            continue
        actions = _as_list(statement.get("Action", []))
        if any("*" in action for action in actions):
            offending.append((logical_id, actions, "wildcard action"))
        if "*" in _as_list(statement.get("Resource", [])) and not set(actions) <= RESOURCE_STAR_ALLOWED:
            offending.append((logical_id, sorted(set(actions) - RESOURCE_STAR_ALLOWED), 'Resource "*"'))
    assert offending == []


def test_put_metric_data_is_limited_to_the_training_namespace(template):
    for statement in statements_of(template, ""):
        if "cloudwatch:PutMetricData" in _as_list(statement["Action"]):
            assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}}


def test_no_function_can_read_table_streams(template):
    # No table has a stream today; a stream consumer would get these from grant_stream_read, on the stream ARN.
    for logical_id, statement in iam_statements(template):
        actions = set(_as_list(statement.get("Action", [])))
        if actions & {"dynamodb:GetRecords", "dynamodb:GetShardIterator"}:
            assert all("StreamArn" in json.dumps(r) for r in _as_list(statement["Resource"])), logical_id


def _sagemaker_statements(template) -> list[tuple[str, dict]]:
    return [(lid, s) for lid, s in iam_statements(template)
            if any(a.startswith("sagemaker:") for a in _as_list(s["Action"]))]


def test_sagemaker_actions_only_on_skytune_tagged_training_jobs(template):
    statements = _sagemaker_statements(template)
    holders = {lid.split("Role")[0] for lid, _ in statements}
    assert holders == {"ApiHandler", "IngestionLogs", "TuningStateMachine"}
    for logical_id, statement in statements:
        condition = statement.get("Condition", {})
        actions = set(_as_list(statement["Action"]))
        if actions == {"sagemaker:CreateTrainingJob"} or actions == {"sagemaker:AddTags"}:
            assert condition["Null"] == {"aws:RequestTag/skytune:tuning-job": "false",
                                         "aws:RequestTag/skytune:trial": "false"}, logical_id
        else:
            assert actions <= {"sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"}, logical_id
            assert condition == {"Null": {"aws:ResourceTag/skytune:tuning-job": "false"}}, logical_id
    add_tags = next(s for _, s in statements if _as_list(s["Action"]) == ["sagemaker:AddTags"])
    assert add_tags["Condition"]["StringEquals"] == {"sagemaker:TaggingAction": "CreateTrainingJob"}


def test_the_tags_iam_requires_are_the_tags_skytune_puts_on_its_jobs(monkeypatch):
    from infra.constructs.tuning import SKYTUNE_TRAINING_JOB_TAGS
    from skytune.settings import ENV_TRAINING_ROLE_ARNS

    monkeypatch.delenv(ENV_TRAINING_ROLE_ARNS, raising=False)  # a local stack in this session may have set it
    from skytune.tuning.engine import sagemaker_training_job
    from tests.unit.tuning.helpers import SAGEMAKER, trial
    from skytune.tuning.spec import parse_request

    request = sagemaker_training_job(parse_request(SAGEMAKER), trial(1), {"eta": 0.2})
    assert set(SKYTUNE_TRAINING_JOB_TAGS) <= {t["Key"] for t in request["Tags"]}


def test_create_training_job_is_capped_by_iam_too(tmp_path):
    template = Template.from_stack(synth_stack(tmp_path, trialInstanceTypes="ml.m5.xlarge,ml.g5.xlarge",
                                               trialMaxRuntimeSeconds=7200))
    create = next(s for _, s in _sagemaker_statements(template) if s["Action"] == "sagemaker:CreateTrainingJob")
    assert create["Condition"]["ForAllValues:StringEquals"] == {"sagemaker:InstanceTypes": ["ml.m5.xlarge", "ml.g5.xlarge"]}
    assert create["Condition"]["NumericLessThanEquals"] == {"sagemaker:MaxRuntimeInSeconds": 7200}
    api = next(iter(template.find_resources("AWS::Lambda::Function", {
        "Properties": {"Handler": "skytune_api.handler.lambda_handler"}}).values()))
    variables = api["Properties"]["Environment"]["Variables"]
    assert variables["SKYTUNE_TRIAL_INSTANCE_TYPES"] == "ml.m5.xlarge,ml.g5.xlarge"
    assert variables["SKYTUNE_TRIAL_MAX_RUNTIME_SECONDS"] == "7200"


def _pass_role(template) -> dict:
    statements = [s for _, s in iam_statements(template) if "iam:PassRole" in _as_list(s["Action"])]
    assert len(statements) == 1, "only the state machine passes a role"
    return statements[0]


def test_pass_role_only_on_the_stack_training_role_by_default(template):
    statement = _pass_role(template)
    role = next(iter(template.find_resources("AWS::IAM::Role", {"Properties": {
        "AssumeRolePolicyDocument": {"Statement": [{"Principal": {"Service": "sagemaker.amazonaws.com"},
                                                    "Action": "sts:AssumeRole", "Effect": "Allow"}]}}})))
    assert statement["Resource"] == {"Fn::GetAtt": [role, "Arn"]}
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    api = next(iter(template.find_resources("AWS::Lambda::Function", {
        "Properties": {"Handler": "skytune_api.handler.lambda_handler"}}).values()))
    allowed = api["Properties"]["Environment"]["Variables"]["SKYTUNE_TRAINING_ROLE_ARNS"]
    assert json.dumps({"Fn::GetAtt": [role, "Arn"]}) in json.dumps(allowed)


def test_the_training_role_reads_only_the_configured_prefix(tmp_path):
    stack = synth_stack(tmp_path, trainingDataS3Uri="s3://my-data/train/", trainingOutputS3Uri="s3://my-models/out")
    template = Template.from_stack(stack)
    findings = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [f.entry.data for f in findings] == []  # the prefixes' wildcards are acknowledged, scoped to them
    statements = {s.get("Sid"): s for s in statements_of(template, "TuningTrainingRole")}
    assert statements["TrainingDataRead"]["Resource"] == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
                                                                              ":s3:::my-data/train/*"]]}
    assert statements["TrainingDataList"]["Condition"] == {"StringLike": {"s3:prefix": ["train/*"]}}
    assert statements["TrainingOutputWrite"]["Action"] == ["s3:PutObject", "s3:AbortMultipartUpload"]
    assert not any(a.startswith(("iam:", "sagemaker:", "dynamodb:")) for s in statements.values()
                   for a in _as_list(s["Action"]))


def test_configured_training_roles_replace_the_default_one(tmp_path):
    roles = ["arn:aws:iam::123456789012:role/train-a", "arn:aws:iam::123456789012:role/train-b"]
    template = Template.from_stack(synth_stack(tmp_path, trainingRoleArns=roles))
    assert _pass_role(template)["Resource"] == roles
    assert not statements_of(template, "TuningTrainingRole")


def test_lambda_runner_invokes_only_prefixed_functions(template):
    from skytune.tuning.names import TRIAL_FUNCTION_PREFIX

    invoke = [s for s in statements_of(template, "TuningStateMachineRole") if s["Action"] == "lambda:InvokeFunction"]
    external = [s for s in invoke if "skytune-trial" in json.dumps(s["Resource"])]
    assert len(external) == 1
    assert external[0]["Resource"]["Fn::Join"][1][-1] == f":function:{TRIAL_FUNCTION_PREFIX}*"


# -- route classes and scopes ---------------------------------------------------------------------
def _routes(template) -> dict[str, dict]:
    return {r["Properties"]["RouteKey"]: r["Properties"] for r in template.find_resources("AWS::ApiGatewayV2::Route").values()}


def test_routes_are_split_by_class_so_iam_can_grant_them_separately(template):
    routes = _routes(template)
    assert {"GET /v1/{proxy+}", "POST /v1/runs/search", "POST /v1/analytics/{proxy+}", "POST /v1/{proxy+}",
            "DELETE /v1/{proxy+}", "POST /v1/tuning-jobs", "POST /v1/tuning-jobs/{proxy+}"} <= set(routes)
    assert not any(key.startswith("ANY ") for key in routes)
    assert {r["AuthorizationType"] for r in routes.values()} == {"AWS_IAM"}


def test_jwt_scopes_by_route_class(tmp_path):
    template = Template.from_stack(synth_stack(tmp_path, auth="jwt", jwtIssuer="https://issuer.example.com",
                                               jwtAudience=["skytune"]))
    routes = _routes(template)
    for key, route in routes.items():
        assert route["AuthorizationType"] == "JWT", key
        mlflow = not key.split(" ")[1].startswith("/v1/")  # the MLflow facade's /api/, /ajax-api/
        if key.startswith(("GET ", "HEAD ")) and not mlflow or key in ("POST /v1/runs/search", "POST /v1/analytics/{proxy+}"):
            assert route["AuthorizationScopes"] == ["skytune/read", "skytune/write", "skytune/tune"], key
        elif mlflow:  # the MLflow facade: one class, reads and writes (infra/constructs/mlflow.py)
            assert route["AuthorizationScopes"] == ["skytune/write"], key
        elif "/tuning-jobs" in key:
            assert route["AuthorizationScopes"] == ["skytune/tune"], key
        else:
            assert route["AuthorizationScopes"] == ["skytune/write"], key


# -- what must not reach logs -----------------------------------------------------------------------
def _logging(template) -> dict:
    machine = next(iter(template.find_resources("AWS::StepFunctions::StateMachine").values()))
    return machine["Properties"]["LoggingConfiguration"]


def test_state_machine_logs_errors_without_execution_data_by_default(template):
    logging = _logging(template)
    assert logging["Level"] == "ERROR" and logging["IncludeExecutionData"] is False


def test_state_machine_logging_is_configurable(tmp_path):
    logging = _logging(Template.from_stack(synth_stack(tmp_path, stateMachineLogLevel="ALL",
                                                       stateMachineLogExecutionData="true")))
    assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is True


@pytest.mark.parametrize("variable", ["POWERTOOLS_LOGGER_LOG_EVENT", "POWERTOOLS_TRACER_CAPTURE_RESPONSE"])
def test_no_function_logs_events_or_traces_responses(template, variable):
    functions = template.find_resources("AWS::Lambda::Function")
    skytune = [f for f in functions.values() if "POWERTOOLS_SERVICE_NAME" in json.dumps(f)]
    assert skytune
    for function in skytune:
        assert function["Properties"]["Environment"]["Variables"][variable] == "false"
