"""Limits of artifact uploads (S3's multipart rules, which the local store enforces too)."""
from __future__ import annotations

MiB = 1024 * 1024
GiB = 1024 * MiB

# every part of a multipart upload but the last (S3: 5 MiB to 5 GiB); the SDK uses 8 MiB parts (SKYTUNE_PART_SIZE)
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000  # parts of one upload (S3's limit); the SDK raises its part size to stay within it
MAX_SINGLE_PUT = 5 * GiB  # one presigned PUT (S3's limit); the SDK switches to multipart above 8 MiB (SKYTUNE_MULTIPART_THRESHOLD)
MAX_OBJECT_SIZE = 5 * 1024 * GiB  # S3's largest object
PART_URLS_PER_REQUEST = 100  # part URLs one part-urls request may ask for
URL_SECONDS = 900  # presigned URLs expire after this many seconds (S3: also when the signing role's session ends)
LOCAL_BODY_MAX_BYTES = 10 * MiB  # under skytune local: one request's body, so one PUT or part
