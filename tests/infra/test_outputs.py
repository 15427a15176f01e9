"""What `cdk deploy` prints (issue 13 §3): the values the README's deploy path tells a newcomer to use."""
from __future__ import annotations

from aws_cdk.assertions import Template

from tests.infra.conftest import synth_stack


def outputs(template: Template) -> dict[str, dict]:
    return template.to_json()["Outputs"]


def test_outputs_name_the_api_region_tables_topic_roles_and_dashboard(template):
    found = outputs(template)
    assert {"ApiUrl", "Region", "TrackingTableName", "MetricsTableName", "IdempotencyTableName", "AlarmTopicArn",
            "TrainingRoleArns", "OperationsDashboardUrl", "MetricStreamBucketName"} <= set(found)
    api = next(iter(template.find_resources("AWS::ApiGatewayV2::Api")))
    assert found["ApiUrl"]["Value"] == {"Fn::GetAtt": [api, "ApiEndpoint"]}
    assert found["Region"]["Value"] == {"Ref": "AWS::Region"}
    topic = next(iter(template.find_resources("AWS::SNS::Topic")))
    assert found["AlarmTopicArn"]["Value"] == {"Ref": topic}
    tables = set(template.find_resources("AWS::DynamoDB::GlobalTable"))
    assert {found[name]["Value"]["Ref"] for name in ("TrackingTableName", "MetricsTableName", "IdempotencyTableName")} <= tables
    role = next(iter(template.find_resources("AWS::IAM::Role", {"Properties": {"Description": "skytune: execution role "
                                                                              "of SageMaker trials (docs/security.md)"}})))
    assert found["TrainingRoleArns"]["Value"] == {"Fn::GetAtt": [role, "Arn"]}
    dashboard = next(iter(template.find_resources("AWS::CloudWatch::Dashboard")))
    assert {"Ref": dashboard} in found["OperationsDashboardUrl"]["Value"]["Fn::Join"][1]
    for output in found.values():
        assert output.get("Description"), output


def test_without_a_dashboard_there_is_no_dashboard_url(tmp_path):
    found = outputs(Template.from_stack(synth_stack(tmp_path, operationsDashboard="false",
                                                    trainingRoleArns="arn:aws:iam::123456789012:role/a")))
    assert "OperationsDashboardUrl" not in found
    assert found["TrainingRoleArns"]["Value"] == "arn:aws:iam::123456789012:role/a"
