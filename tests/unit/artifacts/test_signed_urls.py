"""The local store's signed URLs and the S3 adapter's presigning, without a server or AWS."""
from __future__ import annotations

import base64
import hashlib
import hmac
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skytune.artifacts.keys import checked_path
from skytune.artifacts.local import PREFIX, DirectoryStore, _canonical
from skytune.errors import InvalidInput

KEY = "exp/01RUN/artifacts/model.bin"


def b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path):
    return DirectoryStore(tmp_path / "artifacts", "http://127.0.0.1:8080", key=b"k" * 32, clock=Clock())


def serve(store, url: str, method: str = "PUT", body: bytes = b""):
    parts = urlsplit(url)
    return store.serve(method, parts.path, parts.query, body)


def test_a_url_works_until_it_expires(store):
    url = store.presign_put(KEY, 4, b64(b"data"), 60).url
    store.clock.now += 61
    status, _, answer = serve(store, url, body=b"data")
    assert status == 403 and b"expired" in answer
    store.clock.now -= 2
    assert serve(store, url, body=b"data")[0] == 200
    assert (store.root / KEY).read_bytes() == b"data"


def test_a_url_signed_with_another_key_is_refused(store, tmp_path):
    other = DirectoryStore(store.root, "http://127.0.0.1:8080", key=b"x" * 32, clock=store.clock)
    url = other.presign_put(KEY, 4, b64(b"data"), 60).url
    assert serve(store, url, body=b"data")[0] == 403


@pytest.mark.parametrize("key", ["exp/01RUN/artifacts/../../../../etc/passwd", "../x/artifacts/a", "exp/01RUN/other/a",
                                 "exp/01RUN/artifacts/a/../../b", "exp/01RUN/artifacts//a", "/abs/01RUN/artifacts/a"])
def test_even_a_correctly_signed_key_cannot_leave_the_artifacts(store, tmp_path, key):
    """Defence in depth: were the signing key known, a traversing key is still refused."""
    query = {"op": "put", "upload": "", "part": "", "expires": "9999999999", "sha256": b64(b"x"), "size": "1"}
    query["signature"] = hmac.new(store.key, _canonical(key=key, **query), hashlib.sha256).hexdigest()
    from urllib.parse import quote, urlencode

    status, _, _ = store.serve("PUT", PREFIX + quote(key, safe="/"), urlencode(query), b"x")
    assert status == 403
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_part_url_names_one_upload_and_one_part(store):
    upload = store.create_multipart(KEY, None)
    other = store.create_multipart("exp/01RUN/artifacts/other.bin", None)
    url = store.presign_part(KEY, upload, 1, b64(b"p1"), 60).url
    parts = urlsplit(url)
    forged = parts.query.replace(upload, other)
    assert store.serve("PUT", parts.path, forged, b"p1")[0] == 403
    assert serve(store, url, body=b"p1")[0] == 200
    [stored] = store.list_parts(KEY, upload)
    assert (stored.part_number, stored.size, stored.sha256_b64) == (1, 2, b64(b"p1"))
    with pytest.raises(Exception):
        store.list_parts("exp/01RUN/artifacts/other.bin", upload)  # an upload belongs to its key


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_checked_path_accepts_only_relative_clean_paths(path):
    try:
        checked = checked_path(path)
    except InvalidInput:
        return
    segments = checked.split("/")
    assert checked == path and not path.startswith("/")
    assert all(s not in ("", ".", "..") and "\\" not in s for s in segments)
    assert Path("/root", *segments).resolve().is_relative_to("/root")


def test_s3_presigned_puts_sign_the_sha256_header():
    """The checksum is a signed header of the URL, so S3 refuses another body (offline presigning)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "lambdas" / "api"))
    import boto3
    from botocore.config import Config

    from skytune_api.artifact_store import S3Store

    client = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x",
                          config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))
    store = S3Store("bucket", client=client)
    digest = b64(b"data")
    put = store.presign_put("e/r/artifacts/a", 4, digest, 900)
    query = parse_qs(urlsplit(put.url).query)
    assert "x-amz-checksum-sha256" in query["X-Amz-SignedHeaders"][0]
    assert put.headers == {"x-amz-checksum-sha256": digest} and query["X-Amz-Expires"] == ["900"]
    part = store.presign_part("e/r/artifacts/a", "UP", 3, digest, 900)
    query = parse_qs(urlsplit(part.url).query)
    assert query["partNumber"] == ["3"] and query["uploadId"] == ["UP"]
    assert "x-amz-checksum-sha256" in query["X-Amz-SignedHeaders"][0]
    assert urlsplit(part.url).netloc == "bucket.s3.eu-west-1.amazonaws.com"


def test_signed_urls_need_no_token_but_still_the_host_check():
    from skytune.local.http_api import LocalAccess

    access = LocalAccess(port=8080, token="t" * 43)
    own = {"host": "127.0.0.1:8080", "content-type": "application/octet-stream"}
    assert access.check("PUT", "/_artifacts/e/r/artifacts/a", "op=put", own, {}, True) is None
    assert access.check("PUT", "/v1/runs", "", own, {}, True)[0] == 401
    assert access.check("PUT", "/_artifacts/e/r/artifacts/a", "", {**own, "host": "evil:8080"}, {}, True)[0] == 403
