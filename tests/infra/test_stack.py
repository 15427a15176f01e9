"""The synthesised template: storage, API, authorisation, packaging, cdk-nag, cfn-lint."""
from __future__ import annotations

import json
import re

import pytest
from aws_cdk.assertions import Annotations, Match, Template

from tests.infra.conftest import synth_stack


def tables(template: Template) -> dict[str, dict]:
    return template.find_resources("AWS::DynamoDB::GlobalTable")


def table_with_key(template, attribute: str) -> dict:
    for resource in tables(template).values():
        if resource["Properties"]["KeySchema"][0]["AttributeName"] == attribute:
            return resource
    raise AssertionError(f"no table keyed by {attribute}")


def test_stack_is_named_after_the_stage(stack, tmp_path):
    assert stack.stack_name == "skytune-dev"
    assert synth_stack(tmp_path, stage="prod").stack_name == "skytune-prod"


def test_four_tables_on_demand_encrypted_with_pitr_and_retained(template):
    found = tables(template)
    assert len(found) == 4  # tracking, metrics, idempotency, and the experiment index
    for resource in found.values():
        assert resource["DeletionPolicy"] == "Retain"
        assert resource["UpdateReplacePolicy"] == "Retain"
        props = resource["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["SSESpecification"]["SSEEnabled"] is True
        replica = props["Replicas"][0]
        assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert replica["DeletionProtectionEnabled"] is True


def test_tracking_table_keys_and_overloaded_gsis(template):
    tracking = [r for r in tables(template).values() if len(r["Properties"].get("GlobalSecondaryIndexes", [])) == 2]
    assert len(tracking) == 1
    props = tracking[0]["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert [g["IndexName"] for g in props["GlobalSecondaryIndexes"]] == ["gsi1", "gsi2"]
    assert props["GlobalSecondaryIndexes"][0]["KeySchema"] == [
        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
    ]


def test_idempotency_table_expires_records(template):
    idempotency = table_with_key(template, "id")
    assert idempotency["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_every_route_requires_iam_by_default(template):
    routes = template.find_resources("AWS::ApiGatewayV2::Route")
    assert routes, "the API has routes"
    for route in routes.values():
        assert route["Properties"]["AuthorizationType"] == "AWS_IAM"


def test_jwt_authoriser_is_selectable_by_context(tmp_path):
    stack = synth_stack(tmp_path, auth="jwt", jwtIssuer="https://issuer.example.com", jwtAudience=["skytune"])
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::ApiGatewayV2::Authorizer", {
        "AuthorizerType": "JWT",
        "JwtConfiguration": {"Issuer": "https://issuer.example.com", "Audience": ["skytune"]},
    })
    for route in template.find_resources("AWS::ApiGatewayV2::Route").values():
        assert route["Properties"]["AuthorizationType"] == "JWT"


def test_jwt_without_issuer_is_refused(tmp_path):
    with pytest.raises(Exception, match="jwtIssuer"):
        synth_stack(tmp_path, auth="jwt")


def test_api_function_is_observable_and_packaged_in_layers(template):
    functions = template.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": "skytune_api.handler.lambda_handler"}})
    assert len(functions) == 1
    props = next(iter(functions.values()))["Properties"]
    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    assert len(props["Layers"]) == 2
    assert set(props["Environment"]["Variables"]) >= {"TRACKING_TABLE", "METRICS_TABLE", "IDEMPOTENCY_TABLE", "STAGE", "POWERTOOLS_SERVICE_NAME"}


def test_api_access_logs_are_written(template):
    template.has_resource_properties("AWS::ApiGatewayV2::Stage", {
        "AccessLogSettings": {"DestinationArn": Match.any_value(), "Format": Match.string_like_regexp("requestId")},
    })


def test_bundle_sizes_are_recorded_and_within_lambda_limits(stack):
    from infra.constants import BUILD_DIR

    report = json.loads((BUILD_DIR / "bundle-sizes.json").read_text())
    assert report, "one entry per function"
    for entry in report.values():
        assert 0 < entry["total_mb"] < 250  # Lambda's unzipped limit, code + layers
        assert any("deps" in part for part in entry["parts_mb"])


def test_cdk_nag_has_no_unacknowledged_findings(stack):
    errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [e.entry.data for e in errors] == []
    assert [w.entry.data for w in warnings] == []


def test_every_acknowledged_finding_has_a_written_reason(template):
    acknowledged = 0
    for resource in template.to_json()["Resources"].values():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            acknowledged += 1
            assert len(rule["reason"]) >= 40, rule
            if rule["id"] in ("AwsSolutions-IAM4", "AwsSolutions-IAM5"):  # rules with per-finding granularity
                assert rule.get("applies_to"), f"{rule['id']} must be scoped to the exact finding"
    assert acknowledged >= 1


# W3005: CDK itself adds DependsOn on a function's role next to the GetAtt; harmless and not ours to change.
CFN_LINT_IGNORED = {"W3005"}


def _dashboard_outside_its_partitions(match) -> bool:
    """The dashboard's CloudFront and Cognito resources do not exist in the China and GovCloud
    regions (E3006 for those only); there the stack deploys with `-c dashboard=false`."""
    message = str(match)
    return (match.rule.id == "E3006" and re.search(r"AWS::(CloudFront|Cognito)::", message) is not None
            and re.search(r"in '(cn-|us-gov-)", message) is not None)


def test_template_is_cfn_lint_clean(stack):
    from cfnlint.api import lint_all

    template = json.dumps(Template.from_stack(stack).to_json())
    problems = [
        str(match) for match in lint_all(template)
        if match.rule.id[0] in "EW" and match.rule.id not in CFN_LINT_IGNORED  # errors and warnings, as the cfn-lint CLI reports
        and not _dashboard_outside_its_partitions(match)
    ]
    assert problems == []
