"""Artifacts under `skytune local`: files under the data directory, and "presigned" URLs that the
local server answers itself (under `/_artifacts/`), so the same API works without AWS.

A URL is a capability, like S3's: it names one operation (`put` an object, `part` n of one upload,
`get` an object), one object key, the upload and part, the SHA-256 the body must have, the size,
and an expiry, all signed with HMAC-SHA256 under a key only this process knows
(random per start, never in the environment). Anything changed in it (another key, part,
digest, expiry) fails the signature; an expired one is refused; a body whose SHA-256 is not the
signed one is refused and nothing is written. Keys are checked again when served and every file
path is resolved and must stay under the artifacts root, so no URL reaches outside it. Requests
to signed URLs need no local token (the signature is the credential, as with S3); Host and
Origin checks still apply.

Multipart uploads live in `<root>/.uploads/<upload id>/` (a random id; `meta.json` names the key
it belongs to) until completed (parts concatenated in order, hashed, compared with the declared
SHA-256, renamed into place) or aborted.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qsl, quote, unquote, urlencode

from skytune.artifacts.keys import checked_path
from skytune.artifacts.service import DigestMismatch, Presigned, StoredObject, StoredPart
from skytune.errors import InvalidInput, NotFound

PREFIX = "/_artifacts/"
ROOT_ENV = "SKYTUNE_LOCAL_ARTIFACTS_DIR"
UPLOADS = ".uploads"
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_CHUNK = 1024 * 1024
Response = tuple[int, dict[str, str], bytes]


_process_key: list[bytes] = []


def signing_key() -> bytes:
    """The process's signing key, made on first use. The local server and the functions it runs
    share one process, so they share it; it stays out of the environment, so trial processes the
    local runner starts do not inherit it."""
    if not _process_key:
        _process_key.append(secrets.token_bytes(32))
    return _process_key[0]


def _canonical(op: str, key: str, upload: str, part: str, expires: str, sha256: str, size: str) -> bytes:
    return "\n".join(("skytune-artifact-v1", op, key, upload, part, expires, sha256, size)).encode()


def _check_key(key: str) -> str:
    """An object key as the service builds them: `<experiment>/<run id>/artifacts/<path>`."""
    parts = key.split("/")
    if len(parts) < 4 or parts[2] != "artifacts" or any(p in ("", ".", "..") for p in parts[:2]):
        raise InvalidInput("not an artifact key", field="key")
    checked_path("/".join(parts[3:]), field="key")
    if not all(re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", p) for p in parts[:2]):
        raise InvalidInput("not an artifact key", field="key")
    return key


class DirectoryStore:
    def __init__(self, root: Path, base_url: str, key: bytes | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.base_url = base_url.rstrip("/")
        self.key = key if key is not None else signing_key()
        self.clock = clock

    @classmethod
    def from_environment(cls, base_url: str) -> "DirectoryStore":
        return cls(Path(os.environ[ROOT_ENV]), base_url)

    # -- paths, never outside the root ---------------------------------------------------------
    def _inside(self, *parts: str) -> Path:
        root = self.root.resolve()
        target = root.joinpath(*parts).resolve()
        if target != root and root not in target.parents:
            raise InvalidInput("path outside the artifacts directory", field="key")
        return target

    def _object(self, key: str) -> Path:
        return self._inside(*_check_key(key).split("/"))

    def _upload_dir(self, key: str, upload_id: str) -> Path:
        if not _UPLOAD_ID.match(upload_id or ""):
            raise NotFound(f"no upload {upload_id[:80]!r}", field="upload_id")
        folder = self._inside(UPLOADS, upload_id)
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (OSError, ValueError):
            raise NotFound(f"no upload {upload_id!r} (completed, aborted or never created)", field="upload_id") from None
        if meta.get("key") != key:
            raise NotFound(f"upload {upload_id!r} is not an upload of this artifact", field="upload_id")
        return folder

    # -- signing -------------------------------------------------------------------------------
    def _sign(self, method: str, op: str, key: str, expires_in: int, upload: str = "", part: str = "",
              sha256: str = "", size: str = "") -> Presigned:
        expires = str(int(self.clock()) + expires_in)
        signature = hmac.new(self.key, _canonical(op, key, upload, part, expires, sha256, size), hashlib.sha256).hexdigest()
        query = urlencode([("op", op), ("upload", upload), ("part", part), ("expires", expires), ("sha256", sha256),
                           ("size", size), ("signature", signature)])
        return Presigned(method=method, url=f"{self.base_url}{PREFIX}{quote(key, safe='/')}?{query}", headers={})

    # -- ArtifactStore ---------------------------------------------------------------------------
    def presign_put(self, key: str, size: int, sha256_b64: str, expires: int) -> Presigned:
        return self._sign("PUT", "put", _check_key(key), expires, sha256=sha256_b64, size=str(size))

    def head(self, key: str) -> StoredObject | None:
        target = self._object(key)
        if not target.is_file():
            return None
        digest = hashlib.sha256()
        with target.open("rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
        return StoredObject(size=target.stat().st_size, sha256_b64=base64.b64encode(digest.digest()).decode())

    def create_multipart(self, key: str, media_type: str | None) -> str:
        _check_key(key)
        upload_id = secrets.token_hex(16)
        folder = self._inside(UPLOADS, upload_id)
        folder.mkdir(parents=True)
        (folder / "meta.json").write_text(json.dumps({"key": key, "media_type": media_type, "created": self.clock()}))
        return upload_id

    def presign_part(self, key: str, upload_id: str, part_number: int, sha256_b64: str, expires: int) -> Presigned:
        self._upload_dir(_check_key(key), upload_id)
        return self._sign("PUT", "part", key, expires, upload=upload_id, part=str(part_number), sha256=sha256_b64)

    def list_parts(self, key: str, upload_id: str) -> list[StoredPart]:
        folder = self._upload_dir(_check_key(key), upload_id)
        parts = []
        for sidecar in sorted(folder.glob("part-*.json")):
            info = json.loads(sidecar.read_text())
            parts.append(StoredPart(part_number=info["part_number"], size=info["size"], etag=info["etag"],
                                    sha256_b64=info["sha256"]))
        return parts

    def complete_multipart(self, key: str, upload_id: str, parts: list[StoredPart], sha256_b64: str) -> bool:
        folder = self._upload_dir(_check_key(key), upload_id)
        target = self._object(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        digest = hashlib.sha256()
        with partial.open("wb") as out:
            for part in parts:
                with (folder / f"part-{part.part_number:05d}").open("rb") as file:
                    while chunk := file.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        actual = base64.b64encode(digest.digest()).decode()
        if not hmac.compare_digest(actual, sha256_b64):
            partial.unlink()
            raise DigestMismatch(digest.hexdigest())  # the upload stays: its parts may be replaced
        partial.replace(target)
        shutil.rmtree(folder, ignore_errors=True)
        return True

    def abort_multipart(self, key: str, upload_id: str) -> None:
        shutil.rmtree(self._upload_dir(_check_key(key), upload_id), ignore_errors=True)

    def presign_get(self, key: str, expires: int) -> Presigned:
        return self._sign("GET", "get", _check_key(key), expires)

    # -- the local server's side of the URLs -------------------------------------------------------
    def serve(self, method: str, path: str, query: str, body: bytes) -> Response:
        """Answers a request to a URL this store signed (`path` still percent-encoded)."""
        try:
            return self._serve(method, path, query, body)
        except (InvalidInput, NotFound) as error:
            return _answer(403 if isinstance(error, InvalidInput) else 404, "AccessDenied" if isinstance(
                error, InvalidInput) else "NoSuchUpload", error.message)

    def _serve(self, method: str, path: str, query: str, body: bytes) -> Response:
        key = unquote(path[len(PREFIX):])
        fields = dict(parse_qsl(query, keep_blank_values=True))
        values = [fields.get(name, "") for name in ("op", "upload", "part", "expires", "sha256", "size")]
        op, upload, part, expires, sha256, size = values
        expected = hmac.new(self.key, _canonical(op, key, upload, part, expires, sha256, size), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, fields.get("signature", "")):
            return _answer(403, "SignatureDoesNotMatch", "the URL's signature does not match (changed or not issued here)")
        if not expires.isdigit() or int(expires) < self.clock():
            return _answer(403, "AccessDenied", "the URL has expired; ask the API for a new one")
        allowed = {"put": ("PUT",), "part": ("PUT",), "get": ("GET", "HEAD")}.get(op, ())
        if method not in allowed:
            return _answer(405, "MethodNotAllowed", f"this URL allows {', '.join(allowed) or 'nothing'}")
        if op == "get":
            target = self._object(key)
            if not target.is_file():
                return _answer(404, "NoSuchKey", "no such artifact")
            return 200, {"content-type": "application/octet-stream"}, target.read_bytes()
        actual = base64.b64encode(hashlib.sha256(body).digest()).decode()
        if not hmac.compare_digest(actual, sha256):
            return _answer(400, "BadDigest", "the body's SHA-256 is not the one the URL was issued for")
        etag = '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'
        if op == "put":
            if size != str(len(body)):
                return _answer(400, "BadDigest", f"the body has {len(body)} bytes, not {size}")
            target = self._object(key)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + f".{secrets.token_hex(4)}.partial")
            partial.write_bytes(body)
            partial.replace(target)  # readers never see half a file
            return 200, {"etag": etag, "x-amz-checksum-sha256": actual}, b""
        folder = self._upload_dir(_check_key(key), upload)
        number = int(part)
        data_file = folder / f"part-{number:05d}"
        scratch = folder / f"part-{number:05d}.{secrets.token_hex(4)}.tmp"
        scratch.write_bytes(body)
        scratch.replace(data_file)
        sidecar = folder / f"part-{number:05d}.json"
        scratch = sidecar.with_name(sidecar.name + f".{secrets.token_hex(4)}.tmp")
        scratch.write_text(json.dumps({"part_number": number, "size": len(body), "etag": etag, "sha256": actual}))
        scratch.replace(sidecar)  # the part counts as uploaded only once its data and record are both in place
        return 200, {"etag": etag, "x-amz-checksum-sha256": actual}, b""


def _answer(status: int, code: str, message: str) -> Response:
    return status, {"content-type": "application/json"}, json.dumps({"error": {"code": code, "message": message}}).encode()


def serve_signed(method: str, path: str, query: str, body: bytes) -> Response:
    """The local server's handler for `/_artifacts/...` (see `skytune.local.http_api`)."""
    if ROOT_ENV not in os.environ:
        return _answer(404, "NotFound", "this server stores no artifacts")
    return DirectoryStore(Path(os.environ[ROOT_ENV]), "").serve(method, path, query, body)
