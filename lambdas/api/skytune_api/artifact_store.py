"""The artifact store behind `/v1/runs/{run_id}/artifacts/...`: the stack's artifacts bucket
(`ARTIFACTS_BUCKET`), presigned with this function's role; or, under `skytune local`
(`SKYTUNE_LOCAL_ARTIFACTS_DIR`), a directory whose URLs the local server answers
(skytune.artifacts.local). The S3 adapter lives here because the core imports no AWS SDK."""
from __future__ import annotations

import os
from functools import cache

from skytune.artifacts.service import ArtifactStore, Presigned, StoredObject, StoredPart
from skytune.errors import NotFound


class S3Store:
    """Presigned S3 requests (SigV4, query-string auth). Each PUT URL is presigned with
    `ChecksumSHA256`, so `x-amz-checksum-sha256` is a signed header: the uploader must send it,
    and S3 refuses a body whose SHA-256 differs (400 BadDigest). Multipart uploads are created
    with `ChecksumAlgorithm=SHA256`, so S3 keeps each part's checksum and checks them at completion."""

    def __init__(self, bucket: str, client=None) -> None:
        if client is None:
            import boto3
            from botocore.config import Config

            # s3v4 everywhere (SigV2 presigning is gone); regional virtual-hosted URLs
            client = boto3.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))
        self.bucket = bucket
        self.s3 = client

    def _presign(self, operation: str, params: dict, expires: int, method: str, headers: dict[str, str]) -> Presigned:
        url = self.s3.generate_presigned_url(operation, Params={"Bucket": self.bucket, **params}, ExpiresIn=expires,
                                             HttpMethod=method)
        return Presigned(method=method, url=url, headers=headers)

    def presign_put(self, key: str, size: int, sha256_b64: str, expires: int) -> Presigned:
        return self._presign("put_object", {"Key": key, "ChecksumSHA256": sha256_b64}, expires, "PUT",
                             {"x-amz-checksum-sha256": sha256_b64})

    def head(self, key: str) -> StoredObject | None:
        from botocore.exceptions import ClientError

        try:
            found = self.s3.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return StoredObject(size=int(found["ContentLength"]), sha256_b64=found.get("ChecksumSHA256"))

    def create_multipart(self, key: str, media_type: str | None) -> str:
        extra = {"ContentType": media_type} if media_type else {}
        return self.s3.create_multipart_upload(Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256", **extra)["UploadId"]

    def presign_part(self, key: str, upload_id: str, part_number: int, sha256_b64: str, expires: int) -> Presigned:
        return self._presign("upload_part", {"Key": key, "UploadId": upload_id, "PartNumber": part_number,
                                             "ChecksumSHA256": sha256_b64}, expires, "PUT",
                             {"x-amz-checksum-sha256": sha256_b64})

    def list_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        from botocore.exceptions import ClientError

        parts: list[StoredPart] = []
        try:
            for page in self.s3.get_paginator("list_parts").paginate(Bucket=self.bucket, Key=key, UploadId=upload_id):
                parts += [StoredPart(part_number=p["PartNumber"], size=int(p["Size"]), etag=p["ETag"],
                                     sha256_b64=p.get("ChecksumSHA256")) for p in page.get("Parts", [])]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchUpload", "404"):
                raise NotFound(f"no upload {upload_id[:80]!r} (completed, aborted or never created)",
                               field="upload_id") from None
            raise
        return parts

    def complete_multipart(self, key: str, upload_id: str, parts: list[StoredPart], sha256_b64: str) -> bool:
        self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": p.part_number, "ETag": p.etag, "ChecksumSHA256": p.sha256_b64}
                                       for p in parts]})
        return False  # S3 verified the parts' checksums, not the whole file's SHA-256 (see the service)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchUpload", "404"):
                raise NotFound(f"no upload {upload_id[:80]!r}", field="upload_id") from None
            raise

    def presign_get(self, key: str, expires: int) -> Presigned:
        return self._presign("get_object", {"Key": key}, expires, "GET", {})


@cache
def _s3_store(bucket: str) -> S3Store:
    return S3Store(bucket)


def artifact_store(base_url: str) -> ArtifactStore:
    """`base_url`: where the local server answers (the request's own host); unused with S3."""
    if os.environ.get("SKYTUNE_LOCAL_ARTIFACTS_DIR"):
        from skytune.artifacts.local import DirectoryStore

        return DirectoryStore.from_environment(base_url)
    bucket = os.environ.get("ARTIFACTS_BUCKET")
    if not bucket:
        raise NotFound("this stack has no artifacts bucket (ARTIFACTS_BUCKET is not set)")
    return _s3_store(bucket)
