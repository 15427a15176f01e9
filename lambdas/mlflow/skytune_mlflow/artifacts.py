"""Where MLflow's proxied artifacts live: the stack's artifacts bucket (`ARTIFACTS_BUCKET`), or a
directory on this machine when `skytune local` names one (`SKYTUNE_LOCAL_ARTIFACTS_DIR`). Keys
are MLflow's artifact paths, `<experiment>/<run id>/artifacts/<file>`."""
from __future__ import annotations

import os
from functools import cache
from pathlib import Path, PurePosixPath


class BadPath(ValueError):
    pass


def checked_key(path: str) -> str:
    parts = PurePosixPath(path.strip("/")).parts
    if not parts or any(p in ("..", ".", "") for p in parts) or "\\" in path or any(ord(c) < 32 for c in path):
        raise BadPath(f"artifact path {path[:200]!r} must be relative, without '..' or control characters")
    return "/".join(parts)


class DirectoryArtifacts:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, data: bytes) -> None:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(data)
        partial.replace(target)  # readers never see half a file

    def get(self, key: str) -> bytes | None:
        target = self.root / key
        return target.read_bytes() if target.is_file() else None

    def list(self, prefix: str) -> list[dict]:
        base = self.root / prefix if prefix else self.root
        if not base.is_dir():
            return []
        return [{"path": p.name, "is_dir": p.is_dir(), **({} if p.is_dir() else {"file_size": p.stat().st_size})}
                for p in sorted(base.iterdir()) if not p.name.endswith(".partial")]


class S3Artifacts:
    def __init__(self, bucket: str) -> None:
        import boto3

        self.bucket = bucket
        self.s3 = boto3.client("s3")

    def put(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get(self, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None

    def list(self, prefix: str) -> list[dict]:
        prefix = f"{prefix}/" if prefix else ""
        files: list[dict] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            files += [{"path": d["Prefix"][len(prefix):].rstrip("/"), "is_dir": True} for d in page.get("CommonPrefixes", [])]
            files += [{"path": o["Key"][len(prefix):], "is_dir": False, "file_size": o["Size"]} for o in page.get("Contents", [])]
        return files


@cache
def artifact_store():
    local = os.environ.get("SKYTUNE_LOCAL_ARTIFACTS_DIR")
    if local:
        return DirectoryArtifacts(Path(local))
    return S3Artifacts(os.environ["ARTIFACTS_BUCKET"])
