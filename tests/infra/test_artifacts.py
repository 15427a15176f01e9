"""Presigned artifact uploads in the template: the API role may presign only a run's artifact keys,
and the bucket policy denies it every other key."""
from __future__ import annotations

import json

from tests.infra.test_security import iam_statements


def _api_statements(template, sid):
    return [s for lid, s in iam_statements(template) if lid.startswith("ApiHandler") and s.get("Sid") == sid]


def test_the_api_role_presigns_only_objects_under_the_artifact_prefix(template):
    [objects] = _api_statements(template, "PresignArtifacts")
    assert sorted(objects["Action"]) == ["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts",
                                         "s3:PutObject"]
    resource = json.dumps(objects["Resource"])
    assert "MlflowArtifacts" in resource and resource.endswith('"/*/*/artifacts/*"]]}')
    [listing] = _api_statements(template, "ArtifactsNotFound")
    assert listing["Action"] == "s3:ListBucket" and "MlflowArtifacts" in json.dumps(listing["Resource"])
    # no other statement of the API role reaches the bucket
    others = [s for lid, s in iam_statements(template) if lid.startswith("ApiHandler")
              and "MlflowArtifacts" in json.dumps(s.get("Resource")) and s.get("Sid") not in ("PresignArtifacts", "ArtifactsNotFound")]
    assert others == []


def test_the_bucket_policy_denies_the_api_role_outside_the_prefix(template):
    policies = template.find_resources("AWS::S3::BucketPolicy")
    [policy] = [p for lid, p in policies.items() if "MlflowArtifacts" in lid]
    [deny] = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "PresignOnlyArtifacts"]
    assert deny["Effect"] == "Deny" and "s3:PutObject" in deny["Action"] and "s3:GetObject" in deny["Action"]
    assert "ApiHandler" in json.dumps(deny["Principal"])
    assert json.dumps(deny["NotResource"]).endswith('"/*/*/artifacts/*"]]}')


def test_the_api_function_is_told_the_bucket(template):
    functions = template.find_resources("AWS::Lambda::Function")
    [api] = [f for lid, f in functions.items() if lid.startswith("ApiHandler")]
    assert "MlflowArtifacts" in json.dumps(api["Properties"]["Environment"]["Variables"]["ARTIFACTS_BUCKET"])
