"""Artifacts through presigned URLs on the local stack: the API issues URLs, the local server
answers them (HMAC-signed, time-limited), completion checks size and SHA-256 and records the run's
output; tampered URLs and bodies, wrong digests and path traversal are refused."""
from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

MiB = 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def run_id(api) -> str:
    experiment = f"art-{uuid.uuid4().hex[:8]}"
    assert api.post("/v1/experiments", {"name": experiment}).status == 201
    return api.post("/v1/runs", {"experiment": experiment}).json()["run_id"]


def local_path(url: str) -> str:
    """The presigned URL as the emulator takes it (path and query; it answers for any host)."""
    parts = urlsplit(url)
    assert parts.path.startswith("/_artifacts/")
    return f"{parts.path}?{parts.query}"


def put(api, url: str, data: bytes, headers=None):
    return api.request("PUT", local_path(url), data, headers={"content-type": "application/octet-stream", **(headers or {})})


def upload(api, run_id: str, path: str, data: bytes) -> dict:
    body = {"path": path, "size": len(data), "sha256": sha(data), "media_type": "application/octet-stream"}
    ticket = api.post(f"/v1/runs/{run_id}/artifacts/upload", body)
    assert ticket.status == 200, ticket.body
    assert put(api, ticket.json()["url"], data, ticket.json()["headers"]).status == 200
    done = api.post(f"/v1/runs/{run_id}/artifacts/complete", body)
    assert done.status == 200, done.body
    return done.json()


def download(api, run_id: str, path: str) -> tuple[dict, bytes]:
    ticket = api.get(f"/v1/runs/{run_id}/artifacts/download?path={path}")
    assert ticket.status == 200, ticket.body
    answer = api.request("GET", local_path(ticket.json()["url"]))
    assert answer.status == 200
    return ticket.json(), answer.body


def test_a_small_file_is_uploaded_recorded_with_size_and_digest_and_downloaded(api, run_id):
    data = os.urandom(1000)
    run = upload(api, run_id, "reports/summary.bin", data)
    [output] = run["outputs"]
    assert output == {"name": "reports/summary.bin", "size": 1000, "digest": f"sha256:{sha(data)}",
                      "media_type": "application/octet-stream",
                      "uri": f"mlflow-artifacts:/{run['experiment']}/{run_id}/artifacts/reports/summary.bin"}
    lineage = api.get(f"/v1/lineage?uri={output['uri']}").json()
    assert lineage["artifact"]["size"] == 1000 and lineage["artifact"]["digest"] == output["digest"]
    assert [r["run_id"] for r in lineage["upstream"]["runs"]] == [run_id]
    ticket, body = download(api, run_id, "reports/summary.bin")
    assert body == data and ticket["size"] == 1000 and ticket["digest"] == output["digest"]
    # the same file again replaces the record instead of adding one
    assert len(upload(api, run_id, "reports/summary.bin", data)["outputs"]) == 1


def test_concurrent_completions_all_land_in_the_run_record(api, run_id):
    from concurrent.futures import ThreadPoolExecutor

    files = {f"f{i}.txt": f"file {i}".encode() for i in range(6)}
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda item: upload(api, run_id, *item), files.items()))
    outputs = api.get(f"/v1/runs/{run_id}").json()["outputs"]
    assert sorted(o["name"] for o in outputs) == sorted(files)


def test_a_body_other_than_the_signed_one_is_refused_and_nothing_is_stored(api, run_id):
    data = b"the real model"
    body = {"path": "model.bin", "size": len(data), "sha256": sha(data)}
    url = api.post(f"/v1/runs/{run_id}/artifacts/upload", body).json()["url"]
    refused = put(api, url, b"the evil model")
    assert refused.status == 400 and refused.json()["error"]["code"] == "BadDigest"
    missing = api.post(f"/v1/runs/{run_id}/artifacts/complete", body)
    assert missing.status == 404 and missing.json()["error"]["field"] == "path"


@pytest.mark.parametrize("change", [
    {"op": "get"}, {"sha256": "AAAA"}, {"size": "1"}, {"expires": "99999999999"}, {"signature": "0" * 64}, {"part": "2"}])
def test_a_changed_url_is_refused(api, run_id, change):
    data = b"payload"
    url = api.post(f"/v1/runs/{run_id}/artifacts/upload",
                   {"path": "a.txt", "size": len(data), "sha256": sha(data)}).json()["url"]
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    tampered = f"{parts.path}?{urlencode({**query, **change})}"
    answer = api.request("PUT", tampered, data, headers={"content-type": "application/octet-stream"})
    assert answer.status == 403 and answer.json()["error"]["code"] == "SignatureDoesNotMatch"


def test_a_url_for_one_object_does_not_reach_another_or_escape_the_directory(api, run_id, local_stack):
    data = b"payload"
    url = api.post(f"/v1/runs/{run_id}/artifacts/upload",
                   {"path": "a.txt", "size": len(data), "sha256": sha(data)}).json()["url"]
    parts = urlsplit(url)
    for other in (parts.path.replace("a.txt", "b.txt"), parts.path.replace("a.txt", "..%2F..%2F..%2Fescape.txt"),
                  parts.path.replace("a.txt", "%2e%2e/x")):
        answer = api.request("PUT", f"{other}?{parts.query}", data, headers={"content-type": "application/octet-stream"})
        assert answer.status == 403
    root = Path(os.environ["SKYTUNE_LOCAL_ARTIFACTS_DIR"])
    assert not list(root.parent.rglob("escape.txt")) and not list(root.rglob("b.txt"))


@pytest.mark.parametrize("path", ["../escape", "a/../../b", "/etc/passwd", "a//b", "a\\b", "./a", "a/./b", "bad\x00"])
def test_a_traversing_artifact_path_is_a_400_naming_path(api, run_id, path):
    answer = api.post(f"/v1/runs/{run_id}/artifacts/upload", {"path": path, "size": 1, "sha256": sha(b"x")})
    assert answer.status == 400 and answer.json()["error"]["field"] == "path", answer.body
    assert api.get(f"/v1/runs/{run_id}/artifacts/download?path=..%2Fescape").status == 400


def test_completing_with_a_wrong_digest_or_size_is_refused(api, run_id):
    data = b"model weights"
    body = {"path": "w.bin", "size": len(data), "sha256": sha(data)}
    ticket = api.post(f"/v1/runs/{run_id}/artifacts/upload", body).json()
    assert put(api, ticket["url"], data).status == 200
    wrong = api.post(f"/v1/runs/{run_id}/artifacts/complete", {**body, "sha256": sha(b"other")})
    assert wrong.status == 400 and wrong.json()["error"]["field"] == "sha256"
    assert wrong.json()["error"]["details"]["code"] == "BadDigest"
    short = api.post(f"/v1/runs/{run_id}/artifacts/complete", {**body, "size": 3})
    assert short.status == 400 and short.json()["error"]["field"] == "size"
    assert api.get(f"/v1/runs/{run_id}").json()["outputs"] == []


def test_unknown_run_is_a_404(api):
    answer = api.post("/v1/runs/01JUNKJUNKJUNKJUNKJUNKJUNK/artifacts/upload", {"path": "a", "size": 1, "sha256": sha(b"a")})
    assert answer.status == 404


def multipart_parts(data: bytes, part_size: int) -> list[bytes]:
    return [data[i:i + part_size] for i in range(0, len(data), part_size)]


def test_a_multipart_upload_lists_its_parts_completes_and_is_recorded(api, run_id):
    part_size = 5 * MiB
    data = os.urandom(2 * part_size + 12345)
    start = {"path": "big/model.bin", "size": len(data), "sha256": sha(data), "part_size": part_size}
    ticket = api.post(f"/v1/runs/{run_id}/artifacts/multipart", start)
    assert ticket.status == 200, ticket.body
    upload_id, count = ticket.json()["upload_id"], ticket.json()["part_count"]
    chunks = multipart_parts(data, part_size)
    assert count == len(chunks) == 3
    urls = api.post(f"/v1/runs/{run_id}/artifacts/multipart/part-urls", {
        "path": "big/model.bin", "upload_id": upload_id,
        "parts": [{"part_number": n + 1, "sha256": sha(c)} for n, c in enumerate(chunks)]}).json()["parts"]
    etags = {}
    for url, chunk in zip(urls[:2], chunks[:2]):  # two parts now, the third "after a crash"
        answer = put(api, url["url"], chunk)
        assert answer.status == 200
        etags[url["part_number"]] = answer.headers["etag"]
    listed = api.get(f"/v1/runs/{run_id}/artifacts/multipart/parts?path=big/model.bin&upload_id={upload_id}").json()
    assert [(p["part_number"], p["size"], p["sha256"]) for p in listed["parts"]] == [
        (1, part_size, sha(chunks[0])), (2, part_size, sha(chunks[1]))]
    assert put(api, urls[2]["url"], chunks[1]).json()["error"]["code"] == "BadDigest"  # part 3's URL, part 2's body
    etags[3] = put(api, urls[2]["url"], chunks[2]).headers["etag"]
    parts = [{"part_number": n, "etag": etags[n], "sha256": sha(chunks[n - 1])} for n in (1, 2, 3)]
    done = api.post(f"/v1/runs/{run_id}/artifacts/multipart/complete",
                    {**{k: v for k, v in start.items() if k != "part_size"}, "upload_id": upload_id, "parts": parts})
    assert done.status == 200, done.body
    [output] = done.json()["outputs"]
    assert output["size"] == len(data) and output["digest"] == f"sha256:{sha(data)}"
    assert download(api, run_id, "big/model.bin")[1] == data
    gone = api.get(f"/v1/runs/{run_id}/artifacts/multipart/parts?path=big/model.bin&upload_id={upload_id}")
    assert gone.status == 404


def test_multipart_completion_refuses_wrong_etags_small_parts_wrong_totals_and_digests(api, run_id):
    small = 5 * MiB
    data = os.urandom(small + 10)
    chunks = [data[:small], data[small:]]
    start = {"path": "m.bin", "size": len(data), "sha256": sha(data), "part_size": small}
    upload_id = api.post(f"/v1/runs/{run_id}/artifacts/multipart", start).json()["upload_id"]
    urls = api.post(f"/v1/runs/{run_id}/artifacts/multipart/part-urls", {
        "path": "m.bin", "upload_id": upload_id,
        "parts": [{"part_number": n + 1, "sha256": sha(c)} for n, c in enumerate(chunks)]}).json()["parts"]
    etags = [put(api, u["url"], c).headers["etag"] for u, c in zip(urls, chunks)]
    parts = [{"part_number": n + 1, "etag": etags[n], "sha256": sha(chunks[n])} for n in range(2)]
    complete = {"path": "m.bin", "size": len(data), "sha256": sha(data), "upload_id": upload_id}
    path = f"/v1/runs/{run_id}/artifacts/multipart/complete"
    bad_etag = api.post(path, {**complete, "parts": [{**parts[0], "etag": '"0"'}, parts[1]]}).json()["error"]
    assert bad_etag["field"] == "parts[0].etag"
    assert api.post(path, {**complete, "parts": [parts[1] | {"part_number": 2}]}).json()["error"]["field"] == "parts"
    assert api.post(path, {**complete, "size": len(data) + 1, "parts": parts}).json()["error"]["field"] == "size"
    wrong = api.post(path, {**complete, "sha256": sha(b"x"), "parts": parts})
    assert wrong.status == 400 and wrong.json()["error"]["details"]["code"] == "BadDigest"
    # the upload survives a refused completion, and another artifact's path cannot use it
    other = api.get(f"/v1/runs/{run_id}/artifacts/multipart/parts?path=other.bin&upload_id={upload_id}")
    assert other.status == 404
    assert api.post(f"/v1/runs/{run_id}/artifacts/multipart/abort", {"path": "m.bin", "upload_id": upload_id}).status == 200
    assert api.post(path, {**complete, "parts": parts}).status == 404


def test_parts_smaller_than_s3_allows_are_refused_before_completion(api, run_id):
    data = os.urandom(6 * MiB)
    start = {"path": "s.bin", "size": len(data), "sha256": sha(data), "part_size": 5 * MiB}
    upload_id = api.post(f"/v1/runs/{run_id}/artifacts/multipart", start).json()["upload_id"]
    chunks = [data[:MiB], data[MiB:]]  # a first part of 1 MiB
    urls = api.post(f"/v1/runs/{run_id}/artifacts/multipart/part-urls", {
        "path": "s.bin", "upload_id": upload_id,
        "parts": [{"part_number": n + 1, "sha256": sha(c)} for n, c in enumerate(chunks)]}).json()["parts"]
    etags = [put(api, u["url"], c).headers["etag"] for u, c in zip(urls, chunks)]
    answer = api.post(f"/v1/runs/{run_id}/artifacts/multipart/complete", {
        "path": "s.bin", "size": len(data), "sha256": sha(data), "upload_id": upload_id,
        "parts": [{"part_number": n + 1, "etag": etags[n], "sha256": sha(chunks[n])} for n in range(2)]})
    assert answer.status == 400 and answer.json()["error"]["details"]["code"] == "EntityTooSmall"
    too_small = api.post(f"/v1/runs/{run_id}/artifacts/multipart", {**start, "part_size": MiB})
    assert too_small.status == 400 and too_small.json()["error"]["field"] == "part_size"


def test_the_sdk_survives_a_lost_answer_to_its_completion(api, run_id):
    """The first completion lands but its answer is lost; the SDK's retry finds no upload (404) and
    accepts the run's record of this very file instead of failing."""
    import skytune
    from skytune.client.artifacts import Source, Uploader

    lost = []

    def transport(method, url, headers, body, timeout):
        path = "/" + url.split("://", 1)[1].split("/", 1)[1]
        answer = api.emulator.handle(method, path, headers, body or b"")
        if path.endswith("/multipart/complete") and not lost:
            lost.append(answer[0])
            raise ConnectionResetError("connection reset by peer")
        return answer

    client = skytune.Client("http://127.0.0.1:8080", transport=transport, auth="none", sleep=lambda _s: None,
                            connect_retry_seconds=0)  # a lost answer is not retried by the client: the uploader must
    data = os.urandom(5 * MiB + 10)
    record = Uploader(client, run_id, threshold=0, part_size=5 * MiB, parallel=2,
                      states=Path(os.environ.get("TMPDIR", "/tmp")) / f"state-{uuid.uuid4().hex}").upload(
        Source.of_bytes(data), "lost/answer.bin", None)
    assert lost == [200] and record["size"] == len(data) and record["digest"] == f"sha256:{sha(data)}"
