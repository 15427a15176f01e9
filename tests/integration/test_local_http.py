"""The local HTTP layer over real sockets: waitress in front of the payload-2.0 translation, and local
mode's front door (token, Host, Origin, media type) before any handler runs."""
from __future__ import annotations

import collections
import socket
import threading
import time
import uuid

import pytest
import requests

from skytune.local.http_api import serve

TOKEN = "t" * 43


@pytest.fixture(scope="module")
def server(local_stack):
    server = serve(local_stack.http_api(), "127.0.0.1", 0, token=TOKEN)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}", server.port
    server.shutdown()
    thread.join(timeout=10)
    assert not thread.is_alive()


def authed() -> requests.Session:
    session = requests.Session()
    session.headers["X-Skytune-Token"] = TOKEN
    return session


def _raw(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send bytes on one connection; everything the server answers until it closes (or goes quiet)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except TimeoutError:
            pass
    return answer


# -- the token -------------------------------------------------------------------------------------
def test_every_request_needs_the_token(server):
    url, _ = server
    for path in ("/v1/health", "/v1/experiments", "/", "/_local/cloudwatch-logs"):
        answer = requests.get(url + path)
        assert answer.status_code == 401, path
        assert answer.json()["error"]["code"] == "Unauthorized" and answer.json()["error"]["field"] == "token"
    assert requests.get(url + "/v1/health", headers={"X-Skytune-Token": "wrong"}).status_code == 401
    assert requests.post(url + "/v1/experiments", json={"name": f"no-token-{uuid.uuid4().hex[:6]}"}).status_code == 401


def test_the_token_is_accepted_as_header_bearer_or_cookie(server):
    url, _ = server
    assert authed().get(url + "/v1/experiments?limit=1").status_code == 200
    # Authorization: Bearer is what MLflow's client sends for MLFLOW_TRACKING_TOKEN
    assert requests.get(url + "/v1/experiments?limit=1", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert requests.get(url + "/v1/experiments?limit=1", cookies={"skytune_token": TOKEN}).status_code == 200


def test_the_printed_url_sets_a_strict_cookie_and_drops_the_token_from_the_url(server):
    url, _ = server
    browser = requests.Session()
    answer = browser.get(f"{url}/v1/experiments?token={TOKEN}&limit=1", allow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/v1/experiments?limit=1"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"skytune_token={TOKEN};") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert browser.get(f"{url}/v1/experiments?limit=1").status_code == 200  # the cookie now carries it
    assert requests.get(f"{url}/?token=wrong", allow_redirects=False).status_code == 401


# -- Host and Origin ---------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "attacker.localhost.evil:{port}", ""])
def test_a_foreign_host_is_refused_before_any_handler(server, host):
    url, port = server
    name = f"rebind-{uuid.uuid4().hex[:8]}"
    answer = authed().post(url + "/v1/experiments", json={"name": name}, headers={"Host": host.format(port=port)})
    assert answer.status_code == 403 and answer.json()["error"]["field"] == "host"
    assert authed().get(f"{url}/v1/experiments/{name}").status_code == 404  # no handler ran


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1", "https://127.0.0.1:{port}"])
def test_a_foreign_origin_is_refused_before_any_handler(server, origin):
    url, port = server
    name = f"cors-{uuid.uuid4().hex[:8]}"
    answer = authed().post(url + "/v1/experiments", json={"name": name}, headers={"Origin": origin.format(port=port)})
    assert answer.status_code == 403 and answer.json()["error"]["field"] == "origin"
    assert authed().get(f"{url}/v1/experiments/{name}").status_code == 404


def test_loopback_names_and_the_own_origin_are_served(server):
    url, port = server
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "localhost"):
        assert authed().get(url + "/v1/experiments?limit=1", headers={"Host": host}).status_code == 200, host
    assert authed().get(url + "/v1/experiments?limit=1", headers={"Origin": f"http://localhost:{port}"}).status_code == 200


# -- media type --------------------------------------------------------------------------------------
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_state_changing_bodies_must_be_json(server, content_type):
    url, _ = server
    name = f"simple-{uuid.uuid4().hex[:8]}"
    headers = {"X-Skytune-Token": TOKEN}
    if content_type:
        headers["Content-Type"] = content_type
    answer = requests.post(url + "/v1/experiments", data=f'{{"name": "{name}"}}'.encode(), headers=headers)
    assert answer.status_code == 415 and answer.json()["error"]["field"] == "content-type"
    assert authed().get(f"{url}/v1/experiments/{name}").status_code == 404
    assert authed().post(url + "/v1/experiments", json={"name": name}).status_code == 201


# -- HTTP robustness (what the hand-written http.server layer got wrong) -----------------------------
def test_concurrent_clients_get_no_5xx_and_no_reset(server):
    url, _ = server
    clients, per_client = 32, 15
    counts: collections.Counter = collections.Counter()
    failures: list[str] = []
    prefix = f"conc-{uuid.uuid4().hex[:6]}"
    barrier = threading.Barrier(clients)

    def client(index: int) -> None:
        session = authed()
        barrier.wait()
        for request in range(per_client):
            try:
                if request % 3 == 0:
                    answer = session.post(url + "/v1/experiments", json={"name": f"{prefix}-{index}-{request}"})
                elif request % 3 == 1:
                    answer = session.get(f"{url}/v1/experiments/{prefix}-{index}-{request - 1}")
                else:
                    answer = session.get(url + "/v1/experiments?limit=5")
                counts[answer.status_code] += 1
            except requests.RequestException as error:
                failures.append(repr(error))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sum(counts.values()) == clients * per_client
    assert set(counts) <= {200, 201}, counts
    assert counts[201] == clients * len(range(0, per_client, 3))


def test_a_refused_oversized_body_is_not_run_as_a_request(server):
    url, port = server
    name = f"smuggled-{uuid.uuid4().hex[:8]}"
    inner = f'{{"name": "{name}"}}'
    smuggled = (f"POST /v1/experiments HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Skytune-Token: {TOKEN}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(inner)}\r\n\r\n{inner}")
    oversized = (f"POST /v1/experiments HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Skytune-Token: {TOKEN}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {11 * 1024 * 1024}\r\n\r\n")
    answer = _raw(port, (oversized + smuggled).encode())
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert answer.count(b"HTTP/1.1 ") == 1  # one answer, then the connection is closed
    assert authed().get(f"{url}/v1/experiments/{name}").status_code == 404


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "+5"])
def test_an_invalid_content_length_is_a_prompt_400(server, length):
    _, port = server
    request = (f"POST /v1/experiments HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Skytune-Token: {TOKEN}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n{{}}")
    answer = _raw(port, request.encode(), timeout=5)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]


def test_static_files_hook_serves_non_api_gets_behind_the_token(server, monkeypatch):
    from skytune.local import static_files

    url, _ = server
    monkeypatch.setattr(static_files, "static_response",
                        lambda path: (200, {"content-type": "text/html"}, b"<h1>dashboard</h1>") if path == "/" else None)
    assert requests.get(url + "/").status_code == 401
    page = authed().get(url + "/")
    assert page.status_code == 200 and page.text == "<h1>dashboard</h1>"
    assert authed().get(url + "/nothing-here").status_code == 404
    assert authed().get(url + "/v1/health").json()["status"] == "ok"  # API paths never reach it


def test_no_token_mode_still_checks_host_origin_and_media_type(local_stack):
    server = serve(local_stack.http_api(), "127.0.0.1", 0, token=None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.port}"
        assert requests.get(url + "/v1/experiments?limit=1").status_code == 200
        assert requests.get(url + "/v1/experiments?limit=1", headers={"Host": "evil.example"}).status_code == 403
        assert requests.post(url + "/v1/experiments", data=b'{"name": "x"}', headers={"Content-Type": "text/plain"}).status_code == 415
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_an_api_function_handles_one_event_at_a_time(local_stack):
    """powertools' resolver keeps the current event on its module-level app: two requests inside one
    handler at once read each other's route (the KeyError '_route' 500). Like one Lambda execution
    environment, the local API function takes one event at a time."""
    routed = {route.function for route in local_stack.template.routes()
              if local_stack.functions.specs[route.function].handler.startswith("skytune_api.")}
    assert len(routed) == 1  # the /v1 API's function (the MLflow facade is another)
    logical_id = routed.pop()
    real = local_stack.functions.handler(logical_id)
    inside, peak, lock = [0], [0], threading.Lock()

    def counting(event, context):
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        try:
            time.sleep(0.01)
            return real(event, context)
        finally:
            with lock:
                inside[0] -= 1

    emulator = local_stack.http_api()
    local_stack.functions._handlers[logical_id] = counting
    try:
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(emulator.handle("GET", "/v1/experiments?limit=1", {}, b"")[0]))
                   for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        local_stack.functions._handlers[logical_id] = real
    assert answers == [200] * 16
    assert peak[0] == 1


@pytest.mark.parametrize("path", ["/v1/experiments/a%2Fb", "/v1/experiments/sp%20ace", "/v1/experiments/%2E%2E",
                                  "/v1/runs/x/metrics/a%2Fb"])
def test_percent_encoded_paths_reach_the_handler_as_sent(server, api, path):
    """rawPath is the path as sent: the server answers exactly what the in-process emulator does."""
    url, _ = server
    over_http = authed().get(url + path)
    in_process = api.get(path)
    assert (over_http.status_code, over_http.json()) == (in_process.status, in_process.json())
