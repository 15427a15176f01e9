"""A run's artifacts, uploaded and downloaded through the API's presigned URLs (skytune.artifacts).

The bytes go straight to storage (S3 when deployed, the local server under `skytune local`); the
API only issues URLs and records the result. What the SDK does:

- one pass over the file computes its SHA-256 (and every part's); each URL is bound to the
  digest of what it carries, so storage refuses anything else;
- files up to `SKYTUNE_MULTIPART_THRESHOLD` bytes (default 8 MiB) go as one PUT; larger ones as
  a multipart upload in parts of `SKYTUNE_PART_SIZE` (default 8 MiB, raised so no file needs more
  than 10,000 parts), at most `SKYTUNE_UPLOAD_PARALLELISM` (default 4) parts at a time, each part
  retried up to 5 times with backoff (a fresh URL each time);
- resumable: a multipart upload's id is kept in a small state file
  (`SKYTUNE_UPLOAD_STATE_DIR`, default `~/.cache/skytune/uploads`) keyed by API, run, path, size
  and SHA-256. Uploading the same file again after a crash lists the parts already stored, sends
  only the missing ones and completes; the state file goes when the upload completes;
- on completion the API checks size and digest and records the file as an output of the run
  (name, URI, size, `sha256:` digest); `download` checks both again.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from skytune.client.http import ApiError, Client, ServerUnreachable

MiB = 1024 * 1024
MAX_PARTS = 10_000
PART_ATTEMPTS = 5
_CHUNK = MiB
_sleep = time.sleep  # the backoff's clock (tests replace it)


def multipart_threshold() -> int:
    return int(os.environ.get("SKYTUNE_MULTIPART_THRESHOLD", 8 * MiB))


def default_part_size() -> int:
    return int(os.environ.get("SKYTUNE_PART_SIZE", 8 * MiB))


def parallelism() -> int:
    return max(1, int(os.environ.get("SKYTUNE_UPLOAD_PARALLELISM", 4)))


def state_dir() -> Path:
    configured = os.environ.get("SKYTUNE_UPLOAD_STATE_DIR")
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "skytune" / "uploads"


class UploadFailed(RuntimeError):
    """A presigned request kept failing (or was refused); the message says which and why."""


@dataclass
class Source:
    """A file (read by offset, never whole) or bytes in memory."""

    path: Path | None
    data: bytes | None
    size: int

    @classmethod
    def of_file(cls, path: Path) -> "Source":
        return cls(path, None, path.stat().st_size)

    @classmethod
    def of_bytes(cls, data: bytes) -> "Source":
        return cls(None, bytes(data), len(data))

    def read(self, offset: int, length: int) -> bytes:
        if self.data is not None:
            return self.data[offset:offset + length]
        with self.path.open("rb") as file:
            file.seek(offset)
            return file.read(length)

    def digests(self, part_size: int) -> tuple[str, list[str]]:
        """SHA-256 of the whole and of each `part_size` slice, in one pass."""
        whole = hashlib.sha256()
        parts: list[str] = []
        offset = 0
        while offset < self.size or (self.size == 0 and not parts):
            part = hashlib.sha256()
            end = min(self.size, offset + part_size)
            while offset < end:
                chunk = self.read(offset, min(_CHUNK, end - offset))
                if not chunk:
                    raise UploadFailed(f"{self.path} shrank while it was read")
                whole.update(chunk)
                part.update(chunk)
                offset += len(chunk)
            parts.append(part.hexdigest())
            if self.size == 0:
                break
        return whole.hexdigest(), parts


def part_size_for(size: int) -> int:
    """The configured part size, raised (in whole MiB) so the file fits in 10,000 parts."""
    wanted = default_part_size()
    needed = math.ceil(size / MAX_PARTS)
    return max(wanted, math.ceil(needed / MiB) * MiB)


class Uploader:
    def __init__(self, client: Client, run_id: str, *, threshold: int | None = None, part_size: int | None = None,
                 parallel: int | None = None, states: Path | None = None) -> None:
        self.client = client
        self.run_id = run_id
        self.threshold = multipart_threshold() if threshold is None else threshold
        self.part_size = part_size
        self.parallel = parallelism() if parallel is None else parallel
        self.states = state_dir() if states is None else states
        self._random = random.Random()

    @property
    def _base(self) -> str:
        return f"/v1/runs/{quote(self.run_id, safe='')}/artifacts"

    def upload(self, source: Source, name: str, media_type: str | None) -> dict:
        """Uploads `source` as the artifact `name`; answers the run's output record for it."""
        if source.size <= self.threshold:
            digest, _ = source.digests(max(1, source.size))
            run = self._single(source, name, media_type, digest)
        else:
            run = self._multipart(source, name, media_type)
        return next(o for o in run["outputs"] if o["name"] == name)

    # -- one PUT ---------------------------------------------------------------------------------
    def _single(self, source: Source, name: str, media_type: str | None, digest: str) -> dict:
        body = {"path": name, "size": source.size, "sha256": digest, **({"media_type": media_type} if media_type else {})}
        data = source.read(0, source.size)
        self._with_retries(f"artifact {name!r}", lambda: self.client.request("POST", f"{self._base}/upload", body), data)
        return self.client.request("POST", f"{self._base}/complete", body)

    # -- multipart -------------------------------------------------------------------------------
    def _multipart(self, source: Source, name: str, media_type: str | None) -> dict:
        part_size = self.part_size or part_size_for(source.size)
        digest, part_digests = source.digests(part_size)
        state_file = self._state_file(name, source.size, digest, part_size)
        upload_id, stored = self._resume(state_file, name)
        if upload_id is None:
            ticket = self.client.request("POST", f"{self._base}/multipart", {
                "path": name, "size": source.size, "sha256": digest, "part_size": part_size,
                **({"media_type": media_type} if media_type else {})})
            upload_id = ticket["upload_id"]
            self._save_state(state_file, {"upload_id": upload_id, "path": name, "part_size": part_size})
        etags = {n: p["etag"] for n, p in stored.items() if p.get("sha256") == part_digests[n - 1]}
        missing = [n for n in range(1, len(part_digests) + 1) if n not in etags]

        def send(number: int) -> tuple[int, str]:
            offset = (number - 1) * part_size
            data = source.read(offset, min(part_size, source.size - offset))
            ask = {"path": name, "upload_id": upload_id, "parts": [{"part_number": number, "sha256": part_digests[number - 1]}]}
            etag = self._with_retries(
                f"part {number} of artifact {name!r}",
                lambda: self.client.request("POST", f"{self._base}/multipart/part-urls", ask)["parts"][0], data)
            return number, etag

        if missing:
            with ThreadPoolExecutor(max_workers=min(self.parallel, len(missing)),
                                    thread_name_prefix="skytune-upload") as pool:
                etags.update(dict(pool.map(send, missing)))
        body = {"path": name, "size": source.size, "sha256": digest, "upload_id": upload_id,
                **({"media_type": media_type} if media_type else {}),
                "parts": [{"part_number": n, "etag": etags[n], "sha256": part_digests[n - 1]}
                          for n in range(1, len(part_digests) + 1)]}
        run = self._complete(body, name, digest)
        state_file.unlink(missing_ok=True)
        return run

    def _complete(self, body: dict, name: str, digest: str) -> dict:
        """Completes the upload, retrying when the answer does not arrive. A retry whose first
        attempt succeeded finds no upload (404): the run's record then says whether this very
        file landed."""
        for attempt in range(PART_ATTEMPTS):
            try:
                return self.client.request("POST", f"{self._base}/multipart/complete", body)
            except ServerUnreachable:
                if attempt == PART_ATTEMPTS - 1:
                    raise
                _sleep(self._random.uniform(0, min(10.0, 0.2 * 2**attempt)))
            except ApiError as error:
                run = self.client.get_run(self.run_id) if error.status == 404 and attempt else None
                if run is None or not any(o["name"] == name and o.get("digest") == f"sha256:{digest}"
                                          for o in run.get("outputs", [])):
                    raise
                return run
        raise AssertionError("unreachable")

    def _state_file(self, name: str, size: int, digest: str, part_size: int) -> Path:
        identity = "\n".join((self.client.url, self.run_id, name, str(size), digest, str(part_size)))
        return self.states / (hashlib.sha256(identity.encode()).hexdigest()[:40] + ".json")

    def _resume(self, state_file: Path, name: str) -> tuple[str | None, dict[int, dict]]:
        """The unfinished upload of this very file, with the parts it already holds, if any."""
        try:
            upload_id = json.loads(state_file.read_text())["upload_id"]
        except (OSError, ValueError, KeyError):
            return None, {}
        try:
            listed = self.client.request("GET", f"{self._base}/multipart/parts",
                                         query={"path": name, "upload_id": upload_id})
        except ApiError as error:
            if error.status != 404:
                raise
            state_file.unlink(missing_ok=True)  # completed, aborted or expired: start again
            return None, {}
        return upload_id, {p["part_number"]: p for p in listed["parts"]}

    def _save_state(self, state_file: Path, state: dict) -> None:
        self.states.mkdir(parents=True, exist_ok=True)
        scratch = state_file.with_suffix(".tmp")
        scratch.write_text(json.dumps(state))
        scratch.replace(state_file)

    # -- presigned requests ----------------------------------------------------------------------
    def _with_retries(self, what: str, ticket, data: bytes) -> str:
        """PUTs `data` to a fresh presigned URL from `ticket()`, retrying network errors, 5xx, 429
        and expired URLs with jittered backoff; answers the ETag. A 4xx other than those (a body
        storage refuses) raises at once."""
        last = ""
        for attempt in range(PART_ATTEMPTS):
            presigned = ticket()
            try:
                status, headers, answer = self._send(presigned, data)
            except (OSError, urllib.error.URLError) as error:
                status, headers, answer = 0, {}, str(error).encode()
            if 200 <= status < 300:
                return headers.get("etag", "")
            last = f"{status or 'no answer'}: {answer[:300].decode(errors='replace')}"
            if status and status < 500 and status not in (403, 408, 429):
                break
            _sleep(self._random.uniform(0, min(10.0, 0.2 * 2**attempt)))
        raise UploadFailed(f"uploading {what} failed ({last})")

    def _send(self, presigned: dict, data: bytes) -> tuple[int, dict[str, str], bytes]:
        """One presigned request: only the signed headers, never the API's token or signature."""
        return self.client.transport(presigned["method"], presigned["url"], dict(presigned.get("headers") or {}),
                                     data, self.client.timeout)


def download(client: Client, run_id: str, name: str, target: Path) -> Path:
    """Streams the artifact to `target` (written beside it, then renamed), checking the recorded
    size and SHA-256; a mismatch raises and leaves nothing at `target`."""
    ticket = client.request("GET", f"/v1/runs/{quote(run_id, safe='')}/artifacts/download", query={"path": name})
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    handle, scratch = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        request = urllib.request.Request(ticket["url"], method="GET", headers=ticket.get("headers") or {})
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(request, timeout=client.timeout) as response:  # noqa: S310
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if ticket.get("size") is not None and size != ticket["size"]:
            raise ValueError(f"artifact {name!r}: downloaded {size} bytes, the run records {ticket['size']}")
        if (ticket.get("digest") or "").startswith("sha256:") and "sha256:" + digest.hexdigest() != ticket["digest"]:
            raise ValueError(f"artifact {name!r}: content does not match its recorded digest {ticket['digest']}")
        os.replace(scratch, target)
    finally:
        if os.path.exists(scratch):
            os.unlink(scratch)
    return target




def media_type_of(name: str) -> str | None:
    import mimetypes

    return mimetypes.guess_type(name)[0]


__all__ = ["Uploader", "UploadFailed", "download", "multipart_threshold", "part_size_for"]


