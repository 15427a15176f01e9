"""The dashboard deployed: the static files of `skytune/dashboard/static/` in a private S3 bucket
behind CloudFront (origin access control), a Cognito user pool for the login, and, for the default
IAM auth, a Cognito identity pool whose signed-in users get a role that may only invoke this HTTP
API (the browser signs each request with SigV4). With `auth=jwt` the browser sends the user pool's
ID token instead (the API's JWT authorizer must then name this pool: see docs/dashboard.md).

Nothing here costs money while idle: S3 bytes (about 1.3 MB), CloudFront and Cognito are billed per
request / active user; no WAF, no Cognito advanced security (each of those has a monthly charge).
Turned off with `-c dashboard=false`.
"""
from __future__ import annotations

from aws_cdk import Aws, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra import constants
from infra.config import StageConfig

STATIC_DIR = constants.CORE_LAYER_DIR / "python" / "skytune" / "dashboard" / "static"


class Dashboard(Construct):
    def __init__(self, scope: Construct, id: str, *, config: StageConfig, http_api: apigw.HttpApi) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self._http_api = http_api
        self.bucket = s3.Bucket(
            self, "Files",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=False,
            removal_policy=RemovalPolicy.DESTROY,  # only copies of files shipped with the project
        )
        self.distribution = cloudfront.Distribution(
            self, "Distribution",
            comment=f"skytune dashboard ({config.stage})",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,  # managed: no resource
            ),
            # the app's own routes (/experiments/x, /tuning-jobs/y) are index.html, as `skytune local` serves them
            error_responses=[cloudfront.ErrorResponse(http_status=status, response_http_status=200, response_page_path="/index.html",
                                                      ttl=Duration.seconds(10)) for status in (403, 404)],
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
        )
        self.url = f"https://{self.distribution.distribution_domain_name}"

        # -- login ----------------------------------------------------------------------------
        self.user_pool = cognito.UserPool(
            self, "Users",
            user_pool_name=f"{constants.stack_name(config.stage)}-dashboard",
            self_sign_up_enabled=False,  # an administrator invites users (docs/dashboard.md)
            sign_in_aliases=cognito.SignInAliases(email=True),
            password_policy=cognito.PasswordPolicy(min_length=12, require_digits=True, require_lowercase=True,
                                                   require_uppercase=True, require_symbols=True),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=RemovalPolicy.RETAIN,  # the users outlive a stack deletion, like the data tables
        )
        self.client = self.user_pool.add_client(
            "Browser",
            generate_secret=False,
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(implicit_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                callback_urls=[self.url + "/"], logout_urls=[self.url + "/"],
            ),
            id_token_validity=Duration.hours(1),
            prevent_user_existence_errors=True,
        )
        self.domain = self.user_pool.add_domain("Login", cognito_domain=cognito.CognitoDomainOptions(
            domain_prefix=f"skytune-{config.stage}-{Aws.ACCOUNT_ID}"))
        self.login_url = f"https://skytune-{config.stage}-{Aws.ACCOUNT_ID}.auth.{Aws.REGION}.amazoncognito.com"

        site_config = {"apiUrl": http_api.api_endpoint, "auth": config.auth, "region": Aws.REGION,
                       "userPoolId": self.user_pool.user_pool_id, "userPoolClientId": self.client.user_pool_client_id,
                       "loginUrl": self.login_url}
        self.identity_pool = None
        if config.auth == "iam":
            self.identity_pool = cognito.CfnIdentityPool(
                self, "Identities", allow_unauthenticated_identities=False,
                cognito_identity_providers=[cognito.CfnIdentityPool.CognitoIdentityProviderProperty(
                    client_id=self.client.user_pool_client_id, provider_name=self.user_pool.user_pool_provider_name)])
            self.user_role = iam.Role(
                self, "UserRole",
                description="Signed-in dashboard users: invoke this stack's HTTP API, nothing else",
                assumed_by=iam.FederatedPrincipal(
                    "cognito-identity.amazonaws.com",
                    conditions={"StringEquals": {"cognito-identity.amazonaws.com:aud": self.identity_pool.ref},
                                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}},
                    assume_role_action="sts:AssumeRoleWithWebIdentity"),
                max_session_duration=Duration.hours(1),
            )
            self.user_role.add_to_policy(iam.PolicyStatement(
                actions=["execute-api:Invoke"],
                resources=[stack.format_arn(service="execute-api", resource=http_api.api_id, resource_name="*")]))
            cognito.CfnIdentityPoolRoleAttachment(self, "Roles", identity_pool_id=self.identity_pool.ref,
                                                  roles={"authenticated": self.user_role.role_arn})
            site_config["identityPoolId"] = self.identity_pool.ref

        # The browser calls the API on its own origin: allow this one (preflights are answered by
        # API Gateway without authorisation, as CORS requires).
        cfn_api = http_api.node.default_child
        cfn_api.cors_configuration = apigw.CfnApi.CorsProperty(
            allow_origins=[self.url], allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"],
            expose_headers=["x-next-cursor"], max_age=600)

        self.deployment = s3deploy.BucketDeployment(
            self, "Deploy",
            sources=[s3deploy.Source.asset(str(STATIC_DIR), exclude=["config.json"]),
                     s3deploy.Source.json_data("config.json", site_config)],
            destination_bucket=self.bucket,
            distribution=self.distribution, distribution_paths=["/*"],
            memory_limit=256,
        )

        CfnOutput(stack, "DashboardUrl", value=self.url, description="The dashboard (sign in with a user of DashboardUserPoolId)")
        CfnOutput(stack, "DashboardUserPoolId", value=self.user_pool.user_pool_id,
                  description="Cognito user pool of the dashboard's users (invite with admin-create-user)")
        CfnOutput(stack, "DashboardUserPoolClientId", value=self.client.user_pool_client_id,
                  description="the dashboard's app client (jwtAudience for auth=jwt)")
        CfnOutput(stack, "DashboardLoginUrl", value=self.login_url, description="the user pool's hosted sign-in")
        if self.identity_pool is not None:
            CfnOutput(stack, "DashboardIdentityPoolId", value=self.identity_pool.ref,
                      description="identity pool whose signed-in users may invoke this API (SigV4)")
        self._acknowledge(stack)

    def _acknowledge(self, stack: Stack) -> None:
        NagSuppressions.add_resource_suppressions(self.bucket, [NagPackSuppression(
            id="AwsSolutions-S1",
            reason="Holds only the dashboard's public-source static files, written by the deployment; reads go through "
                   "CloudFront. Access logs would need a second bucket for no audit value.")], apply_to_children=True)
        NagSuppressions.add_resource_suppressions(self.distribution, [
            NagPackSuppression(id="AwsSolutions-CFR1", reason="No geo restriction: users' locations are the operator's choice."),
            NagPackSuppression(id="AwsSolutions-CFR2", reason="WAF has a monthly charge (nothing may cost money idle); the "
                               "files are static and public-source, and every API call is authorised by API Gateway."),
            NagPackSuppression(id="AwsSolutions-CFR3", reason="Access logs need a logging bucket with ACLs; the files are "
                               "static and public-source, the API keeps its own access logs."),
            NagPackSuppression(id="AwsSolutions-CFR4", reason="The default *.cloudfront.net certificate allows TLS 1.0 at the "
                               "edge whatever the policy says; a custom domain with an ACM certificate lifts this."),
        ], apply_to_children=True)
        NagSuppressions.add_resource_suppressions(self.user_pool, [
            NagPackSuppression(id="AwsSolutions-COG2", reason="MFA is optional (TOTP) so that an administrator can invite "
                               "users without a phone; enforce it in the console where policy requires."),
            NagPackSuppression(id="AwsSolutions-COG8", reason="The Plus feature plan (threat protection) has a charge per "
                               "user; nothing in the stack may cost money while idle."),
        ], apply_to_children=True)
        if self.identity_pool is not None:
            api = Stack.of(self).get_logical_id(self._http_api.node.default_child)
            NagSuppressions.add_resource_suppressions(self.user_role, [NagPackSuppression(
                id="AwsSolutions-IAM5", reason="Signed-in users may call every route of this one HTTP API (API-ID/*: any "
                   "stage, method and path); the API itself decides what each route does.",
                applies_to=[f"Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<{api}>/*"])],
                apply_to_children=True)
        # The BucketDeployment's CDK-provided custom-resource function and its role
        provider = [c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment")]
        NagSuppressions.add_resource_suppressions([self.deployment.handler_role, *provider], [
            NagPackSuppression(id="AwsSolutions-IAM4", reason="CDK's BucketDeployment function uses the AWS-managed basic "
                               "execution role for its logs.", applies_to=["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]),
            NagPackSuppression(id="AwsSolutions-IAM5", reason="CDK's BucketDeployment reads the staged asset from the CDK "
                               "assets bucket and replaces the objects of this one bucket (grants written by CDK).",
                               applies_to=["Action::s3:GetObject*", "Action::s3:GetBucket*", "Action::s3:List*",
                                           "Action::s3:DeleteObject*", "Action::s3:Abort*",
                                           "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
                                           f"Resource::<{stack.get_logical_id(self.bucket.node.default_child)}.Arn>/*"]),
            NagPackSuppression(id="AwsSolutions-IAM5", reason="CloudFront's CreateInvalidation/GetInvalidation take no "
                               "resource-level condition that CDK sets; the function only invalidates this distribution.",
                               applies_to=["Resource::*"]),
            NagPackSuppression(id="AwsSolutions-L1", reason="The runtime of CDK's own BucketDeployment function is chosen by aws-cdk-lib."),
        ], apply_to_children=True)
