"""The artifact routes' logic: presigned uploads (one PUT, or an S3 multipart upload), checks on
completion, the run's output record, presigned downloads.

What is verified where:
- a single PUT: the URL binds the SHA-256 (S3: the signed `x-amz-checksum-sha256` header; locally
  the signed query), so storage refuses another body; `complete` then reads the stored object's
  size and SHA-256 back and refuses a mismatch.
- multipart: each part URL binds that part's SHA-256; `complete` compares the client's part list
  (ETag and SHA-256 per part) with what storage holds, checks the part sizes and the total, and
  storage checks the parts' checksums again when it assembles them. The whole file's SHA-256 is
  verified locally (the directory store hashes what it assembled); S3 keeps only the composite
  (checksum of the part checksums), so there the whole-file digest is the client's, checked by
  `download_artifact` on every download.
"""
from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from skytune.artifacts import records
from skytune.artifacts.keys import checked_path, object_key, uri_of
from skytune.errors import Conflict, InvalidInput, NotFound
from skytune.tracking import limits as tracking_limits
from skytune.tracking import runs
from skytune.tracking.records import Artifact, Run


@dataclass(frozen=True)
class Presigned:
    method: str
    url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class StoredObject:
    size: int
    sha256_b64: str | None  # None when storage does not know the whole object's SHA-256


@dataclass(frozen=True)
class StoredPart:
    part_number: int
    size: int
    etag: str
    sha256_b64: str | None


class ArtifactStore(Protocol):
    """Where the bytes live. Keys are `object_key(...)`; checksums are base64 SHA-256 (S3's form)."""

    def presign_put(self, key: str, size: int, sha256_b64: str, expires: int) -> Presigned: ...
    def head(self, key: str) -> StoredObject | None: ...
    def create_multipart(self, key: str, media_type: str | None) -> str: ...
    def presign_part(self, key: str, upload_id: str, part_number: int, sha256_b64: str, expires: int) -> Presigned: ...
    def list_parts(self, key: str, upload_id: str) -> list[StoredPart]: ...  # NotFound: no such upload
    def complete_multipart(self, key: str, upload_id: str, parts: list[StoredPart], sha256_b64: str) -> bool: ...
    def abort_multipart(self, key: str, upload_id: str) -> None: ...
    def presign_get(self, key: str, expires: int) -> Presigned: ...


def b64(sha256_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


def hex_of(sha256_b64: str | None) -> str | None:
    if not sha256_b64 or "-" in sha256_b64:  # "<composite>-<parts>": not the object's own SHA-256
        return None
    try:
        return base64.b64decode(sha256_b64, validate=True).hex()
    except ValueError:
        return None


def _expires(now: datetime | None) -> datetime:
    return (now or datetime.now(timezone.utc)) + timedelta(seconds=records.URL_SECONDS)


def _key(repo, run_id: str, path: str) -> tuple[Run, str]:
    run = runs.get_run(repo, run_id)
    return run, object_key(run.experiment, run.run_id, path)


# -- one PUT ---------------------------------------------------------------------------------------
def start_upload(repo, store: ArtifactStore, run_id: str, request: records.UploadRequest,
                 now: datetime | None = None) -> records.UploadTicket:
    if request.size > records.MAX_SINGLE_PUT:
        raise InvalidInput(f"one PUT carries at most {records.MAX_SINGLE_PUT} bytes; use a multipart upload",
                           field="size")
    _, key = _key(repo, run_id, request.path)
    signed = store.presign_put(key, request.size, b64(request.sha256), records.URL_SECONDS)
    return records.UploadTicket(method=signed.method, url=signed.url, headers=signed.headers,
                                expires_at=_expires(now), uri=uri_of(key))


def complete_upload(repo, store: ArtifactStore, run_id: str, request: records.UploadRequest) -> Run:
    """Checks the object a presigned PUT stored against the declared size and SHA-256, then records it."""
    _, key = _key(repo, run_id, request.path)
    stored = store.head(key)
    if stored is None:
        raise NotFound(f"nothing was uploaded at {request.path!r} (PUT to the presigned URL first)", field="path")
    if stored.size != request.size:
        raise InvalidInput(f"the stored object has {stored.size} bytes, not {request.size}", field="size",
                           details={"code": "SizeMismatch", "stored": stored.size})
    if hex_of(stored.sha256_b64) != request.sha256:
        raise InvalidInput("the stored object's SHA-256 is not the declared one", field="sha256",
                           details={"code": "BadDigest", "stored": hex_of(stored.sha256_b64)})
    return record_output(repo, run_id, _artifact(request, key))


# -- multipart ---------------------------------------------------------------------------------------
def start_multipart(repo, store: ArtifactStore, run_id: str, request: records.MultipartRequest) -> records.MultipartTicket:
    part_count = max(1, math.ceil(request.size / request.part_size))
    if part_count > records.MAX_PARTS:
        raise InvalidInput(f"{request.size} bytes in parts of {request.part_size} make {part_count} parts; at most "
                           f"{records.MAX_PARTS}: use larger parts", field="part_size")
    _, key = _key(repo, run_id, request.path)
    upload_id = store.create_multipart(key, request.media_type)
    return records.MultipartTicket(upload_id=upload_id, uri=uri_of(key), part_size=request.part_size,
                                   part_count=part_count)


def part_urls(repo, store: ArtifactStore, run_id: str, request: records.PartUrlsRequest,
              now: datetime | None = None) -> records.PartUrls:
    _, key = _key(repo, run_id, request.path)
    numbers = [p.part_number for p in request.parts]
    if len(set(numbers)) != len(numbers):
        raise InvalidInput("part numbers repeat", field="parts")
    expires_at = _expires(now)
    urls = []
    for part in request.parts:
        signed = store.presign_part(key, request.upload_id, part.part_number, b64(part.sha256), records.URL_SECONDS)
        urls.append(records.PartUrl(part_number=part.part_number, method=signed.method, url=signed.url,
                                    headers=signed.headers, expires_at=expires_at))
    return records.PartUrls(parts=urls)


def list_parts(repo, store: ArtifactStore, run_id: str, request: records.UploadRef) -> records.UploadedParts:
    _, key = _key(repo, run_id, request.path)
    parts = store.list_parts(key, request.upload_id)
    return records.UploadedParts(upload_id=request.upload_id, parts=[
        records.UploadedPart(part_number=p.part_number, size=p.size, etag=p.etag, sha256=hex_of(p.sha256_b64))
        for p in parts])


def complete_multipart(repo, store: ArtifactStore, run_id: str, request: records.CompleteMultipart) -> Run:
    _, key = _key(repo, run_id, request.path)
    given = sorted(request.parts, key=lambda p: p.part_number)
    if [p.part_number for p in given] != list(range(1, len(given) + 1)):
        raise InvalidInput("parts must be numbered 1..N without gaps or repeats", field="parts")
    stored = {p.part_number: p for p in store.list_parts(key, request.upload_id)}
    chosen: list[StoredPart] = []
    for index, part in enumerate(given):
        have = stored.get(part.part_number)
        if have is None:
            raise InvalidInput(f"part {part.part_number} was not uploaded", field=f"parts[{index}]")
        if have.etag.strip('"') != part.etag.strip('"'):
            raise InvalidInput(f"part {part.part_number}: the ETag is not the uploaded part's",
                               field=f"parts[{index}].etag", details={"code": "InvalidPart"})
        if hex_of(have.sha256_b64) != part.sha256:
            raise InvalidInput(f"part {part.part_number}: the SHA-256 is not the uploaded part's",
                               field=f"parts[{index}].sha256", details={"code": "BadDigest"})
        if index < len(given) - 1 and have.size < records.MIN_PART_SIZE:
            raise InvalidInput(f"part {part.part_number} has {have.size} bytes; every part but the last needs "
                               f"at least {records.MIN_PART_SIZE}", field=f"parts[{index}]",
                               details={"code": "EntityTooSmall"})
        chosen.append(have)
    total = sum(p.size for p in chosen)
    if total != request.size:
        raise InvalidInput(f"the parts hold {total} bytes, not {request.size}", field="size",
                           details={"code": "SizeMismatch", "stored": total})
    try:
        store.complete_multipart(key, request.upload_id, chosen, b64(request.sha256))
    except DigestMismatch as error:
        raise InvalidInput("the assembled file's SHA-256 is not the declared one", field="sha256",
                           details={"code": "BadDigest", "stored": error.actual}) from None
    return record_output(repo, run_id, _artifact(request, key))


def abort_multipart(repo, store: ArtifactStore, run_id: str, request: records.UploadRef) -> None:
    _, key = _key(repo, run_id, request.path)
    store.abort_multipart(key, request.upload_id)


class DigestMismatch(Exception):
    def __init__(self, actual: str | None) -> None:
        super().__init__("digest mismatch")
        self.actual = actual


# -- downloads ---------------------------------------------------------------------------------------
def download(repo, store: ArtifactStore, run_id: str, path: str, now: datetime | None = None) -> records.DownloadTicket:
    """A presigned GET for a recorded output (with its size and digest), or for a file stored under
    the run's artifacts without a record (e.g. logged by an MLflow client)."""
    path = checked_path(path)
    run, key = _key(repo, run_id, path)
    recorded = next((o for o in run.outputs if o.name == path and o.uri == uri_of(key)), None)
    size, digest = (recorded.size, recorded.digest) if recorded else (None, None)
    if recorded is None:
        stored = store.head(key)
        if stored is None:
            raise NotFound(f"run {run_id!r} has no artifact {path!r}", field="path")
        size = stored.size
        digest = f"sha256:{hex_of(stored.sha256_b64)}" if hex_of(stored.sha256_b64) else None
    signed = store.presign_get(key, records.URL_SECONDS)
    return records.DownloadTicket(method=signed.method, url=signed.url, headers=signed.headers,
                                  expires_at=_expires(now), path=path, uri=uri_of(key), size=size, digest=digest)


# -- the run's record --------------------------------------------------------------------------------
def _artifact(request: records.UploadRequest, key: str) -> Artifact:
    return Artifact(name=request.path, uri=uri_of(key), media_type=request.media_type,
                    digest=f"sha256:{request.sha256}", size=request.size)


def record_output(repo, run_id: str, artifact: Artifact, attempts: int = 8) -> Run:
    """Adds (or replaces, by name) `artifact` among the run's outputs. A read-modify-write guarded
    by the run's version, retried when another writer got there first, so concurrent uploads to
    one run all land."""
    for _ in range(attempts):
        run = repo.get_run(run_id, consistent=True)
        if run is None:
            raise NotFound(f"run {run_id!r} does not exist", field="run_id")
        outputs = [o for o in run.outputs if o.name != artifact.name] + [artifact]
        if len(run.inputs) + len(outputs) > tracking_limits.ARTIFACTS_PER_RUN:
            raise InvalidInput(f"a run has at most {tracking_limits.ARTIFACTS_PER_RUN} inputs and outputs together",
                               field="path", details={"limit": "ARTIFACTS_PER_RUN"})
        try:
            return repo.update_run(run_id, {"outputs": outputs}, {}, datetime.now(timezone.utc),
                                   lambda tags: tags, expected_updated_at=run.updated_at)
        except Conflict:
            continue
    raise Conflict(f"run {run_id!r} kept changing while its output {artifact.name!r} was recorded; retry")
