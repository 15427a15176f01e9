"""The deployed dashboard: private bucket behind CloudFront (OAC), Cognito login, IAM-signed API calls."""
from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from tests.infra.conftest import synth_stack


def _ref_names(value) -> str:
    return json.dumps(value)


def test_files_in_a_private_bucket_served_by_cloudfront_with_origin_access_control(template):
    buckets = template.find_resources("AWS::S3::Bucket", {"Properties": {"PublicAccessBlockConfiguration": {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}}})
    assert any("DashboardFiles" in name for name in buckets)
    template.resource_count_is("AWS::CloudFront::OriginAccessControl", 1)
    template.has_resource_properties("AWS::CloudFront::OriginAccessControl", {"OriginAccessControlConfig": {
        "OriginAccessControlOriginType": "s3", "SigningBehavior": "always", "SigningProtocol": "sigv4"}})
    template.has_resource_properties("AWS::CloudFront::Distribution", {"DistributionConfig": Match.object_like({
        "DefaultRootObject": "index.html",
        "DefaultCacheBehavior": Match.object_like({"ViewerProtocolPolicy": "redirect-to-https"}),
        "CustomErrorResponses": [{"ErrorCode": 403, "ResponseCode": 200, "ResponsePagePath": "/index.html", "ErrorCachingMinTTL": 10},
                                 {"ErrorCode": 404, "ResponseCode": 200, "ResponsePagePath": "/index.html", "ErrorCachingMinTTL": 10}],
    })})
    # only CloudFront (this distribution) may read the bucket
    policies = template.find_resources("AWS::S3::BucketPolicy")
    text = _ref_names(policies)
    assert "cloudfront.amazonaws.com" in text and "AWS:SourceArn" in text


def test_the_deployment_ships_the_static_folder_and_a_config_naming_the_api_and_pools(template):
    deployments = template.find_resources("Custom::CDKBucketDeployment")
    assert len(deployments) == 1
    props = next(iter(deployments.values()))["Properties"]
    assert len(props["SourceObjectKeys"]) == 2  # the static folder (without config.json) + config.json
    # config.json's deploy-time values: the API endpoint, the pools and the app client
    markers = _ref_names(props.get("SourceMarkers", []))
    for ref in ('"ApiHttpApi4C294DC0", "ApiEndpoint"', '"DashboardIdentities', '"DashboardUsers', '"DashboardUsersBrowser'):
        assert ref in markers, ref
    assert props["DistributionPaths"] == ["/*"]


def test_signed_in_users_may_only_invoke_this_api(template):
    template.has_resource_properties("AWS::Cognito::UserPool", {"AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True}})
    template.has_resource_properties("AWS::Cognito::IdentityPool", {"AllowUnauthenticatedIdentities": False})
    roles = template.find_resources("AWS::IAM::Role", {"Properties": {"AssumeRolePolicyDocument": {"Statement": [
        Match.object_like({"Action": "sts:AssumeRoleWithWebIdentity"})]}}})
    assert len(roles) == 1
    role_id = next(iter(roles))
    policies = [p for p in template.find_resources("AWS::IAM::Policy").values() if _ref_names(p["Properties"]["Roles"]).count(role_id)]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert [s["Action"] for s in statements] == ["execute-api:Invoke"]
    assert "ApiHttpApi" in _ref_names(statements[0]["Resource"])
    template.has_resource_properties("AWS::Cognito::IdentityPoolRoleAttachment", {"Roles": {"authenticated": Match.any_value()}})


def test_the_api_allows_the_dashboard_origin_only(template):
    apis = template.find_resources("AWS::ApiGatewayV2::Api")
    cors = next(iter(apis.values()))["Properties"]["CorsConfiguration"]
    assert "DashboardDistribution" in _ref_names(cors["AllowOrigins"])
    assert "x-amz-security-token" in cors["AllowHeaders"] and cors["ExposeHeaders"] == ["x-next-cursor"]


def test_outputs_name_the_url_and_the_pools(template):
    outputs = template.to_json()["Outputs"]
    assert {"DashboardUrl", "DashboardUserPoolId", "DashboardUserPoolClientId", "DashboardIdentityPoolId", "DashboardLoginUrl"} <= set(outputs)


def test_nothing_idle_costs_money(template):
    text = json.dumps(template.to_json())
    assert "AWS::WAFv2::WebACL" not in text
    for pool in template.find_resources("AWS::Cognito::UserPool").values():
        assert "UserPoolAddOns" not in pool["Properties"]  # no advanced security
        assert pool["Properties"].get("UserPoolTier", "ESSENTIALS") != "PLUS"


def test_the_context_flag_turns_the_dashboard_off(tmp_path):
    template = Template.from_stack(synth_stack(tmp_path, dashboard=False))
    template.resource_count_is("AWS::CloudFront::Distribution", 0)
    template.resource_count_is("AWS::Cognito::UserPool", 0)
    assert "DashboardUrl" not in template.to_json().get("Outputs", {})
    assert "CorsConfiguration" not in next(iter(template.find_resources("AWS::ApiGatewayV2::Api").values()))["Properties"]


def test_with_jwt_auth_the_browser_uses_the_pool_tokens_and_no_identity_pool(tmp_path):
    template = Template.from_stack(synth_stack(tmp_path, auth="jwt", jwtIssuer="https://issuer.example.com", jwtAudience=["skytune"]))
    template.resource_count_is("AWS::Cognito::IdentityPool", 0)
    template.resource_count_is("AWS::Cognito::UserPool", 1)
    props = next(iter(template.find_resources("Custom::CDKBucketDeployment").values()))["Properties"]
    markers = _ref_names(props["SourceMarkers"])
    assert "DashboardUsersBrowser" in markers and "DashboardIdentities" not in markers
