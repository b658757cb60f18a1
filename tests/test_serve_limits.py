"""`harness serve` cannot be monopolised and answers every malformed request with a JSON 4xx (issue 12
item 7): caps on n, body size and prompt length, a socket read timeout, --api-key on the CLI. Real server,
real HTTP (raw sockets where a client library would refuse to send the malformed request)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from harness.serve import ServeLimits, start_server

MSGS = [{"role": "user", "content": "1 + 1 = ?"}]
LIMITS = ServeLimits(max_n=4, max_body_bytes=1_000_000, read_timeout=0.5)


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    with start_server(str(tiny_model_dir), served_model_name="tiny", limits=LIMITS, default_max_tokens=4,
                      batch_size=4) as running:
        yield running


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def raw(server, data: bytes, wait: float = 10.0) -> tuple[int, dict, bytes]:
    """Send bytes as they are; return (status, JSON body, all bytes received) once the server closes or answers."""
    host, port = server.server.server_address[:2]
    with socket.create_connection((host, port), timeout=wait) as s:
        s.sendall(data)
        got = b""
        while b"\r\n\r\n" not in got or len(got.split(b"\r\n\r\n", 1)[1]) < _length(got):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    if not got.startswith(b"HTTP/"):  # the stdlib answers a request line it cannot parse as HTTP/0.9: body only
        body = json.loads(got)
        return body["error"]["code"], body, got
    head, _, body = got.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body[: _length(got)] or b"null"), got


def _length(got: bytes) -> int:
    for line in got.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def test_n_is_capped_and_a_capped_request_is_refused_at_once(http) -> None:
    ok = http.post("/chat/completions", json={"messages": MSGS, "n": 4, "max_tokens": 2, "seed": 0})
    assert ok.status_code == 200 and len(ok.json()["choices"]) == 4
    start = time.monotonic()
    r = http.post("/chat/completions", json={"messages": MSGS, "n": 500, "max_tokens": 2})
    assert r.status_code == 400 and "--max-n" in r.json()["error"]["message"]
    assert time.monotonic() - start < 2.0


def test_a_too_large_body_is_refused_unread(server) -> None:
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50000000\r\n\r\n")
    start = time.monotonic()
    status, body, _ = raw(server, head + b'{"messages": [')
    assert status == 413 and "--max-body-bytes" in body["error"]["message"]
    assert time.monotonic() - start < 2.0


def test_a_long_prompt_is_refused_before_the_lock(server, http) -> None:
    """A prompt the model could never take is refused before tokenisation, while small requests flow."""
    big = {"messages": [{"role": "user", "content": "x " * 400_000}], "max_tokens": 2}  # 800 kB < body cap
    results: dict[str, float] = {}

    def small() -> None:
        t = time.monotonic()
        assert http.post("/chat/completions", json={"messages": MSGS, "max_tokens": 2}).status_code == 200
        results["small"] = time.monotonic() - t

    start = time.monotonic()
    worker = threading.Thread(target=small)
    worker.start()
    r = http.post("/chat/completions", json=big)
    worker.join(60)
    assert r.status_code == 413 and "--max-prompt-chars" in r.json()["error"]["message"]
    assert "32768" in r.json()["error"]["message"]  # 16 characters per token of the 2048-token context
    assert time.monotonic() - start < 10.0 and results["small"] < 10.0


def test_a_declared_body_that_never_arrives_is_dropped(server, http) -> None:
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    start = time.monotonic()
    status, body, _ = raw(server, head + b'{"messa')
    assert status == 408 and "did not arrive" in body["error"]["message"]
    assert time.monotonic() - start < 5.0
    assert http.post("/chat/completions", json={"messages": MSGS, "max_tokens": 1}).status_code == 200


@pytest.mark.parametrize("value", [b"abc", b"-5", b"1e3", b"99999999999999999999999999"])
def test_a_bad_content_length_is_a_json_400(server, value: bytes) -> None:
    status, body, _ = raw(server, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: " + value
                          + b"\r\n\r\n{}")
    assert status in (400, 413) and body["error"]["code"] == status


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}', "invalid JSON"),
        (b'{"messages": [{"role": "user", "content": "x"}], "temperature": NaN}', "finite"),
        (b'{"messages": [{"role": "user", "content": "x"}], "seed": 1' + b"0" * 30 + b"}", "seed"),
        (b'{"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}', "string 'text'"),
        (b'{"messages": [{"role": "user", "content": "x"}], "n": 1' + b"0" * 5000 + b"}", "invalid JSON"),
    ],
)
def test_malformed_bodies_get_json_400(http, payload: bytes, fragment: str) -> None:
    r = http.post("/chat/completions", content=payload, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert fragment in r.json()["error"]["message"]


def test_malformed_request_lines_get_json_errors(server) -> None:
    status, body, _ = raw(server, b"GARBAGE\r\n\r\n")
    assert status == 400 and body["error"]["code"] == 400
    status, body, _ = raw(server, b"PUT /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert status == 501 and "PUT" in body["error"]["message"]


@pytest.mark.timeout(600)
def test_cli_serve_requires_the_api_key(tiny_model_dir) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "HARNESS_SERVE_API_KEY": "k-123"}
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--model", str(tiny_model_dir),
                             "--port", str(port), "--max-n", "2"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        body = {"messages": MSGS, "max_tokens": 1}
        assert httpx.post(url + "/v1/chat/completions", json=body, timeout=60).status_code == 401
        good = httpx.post(url + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer k-123"}, timeout=60)
        assert good.status_code == 200
        r = httpx.post(url + "/v1/chat/completions", json={**body, "n": 3}, headers={"Authorization": "Bearer k-123"},
                       timeout=60)
        assert r.status_code == 400 and "--max-n" in r.text
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert "k-123" not in out and "API key required" in " ".join(out.split()), out


# ---- issue 22 item 6: a whole-request deadline, a bounded thread pool, auth before the body -----------


def test_the_deadline_covers_the_whole_request_not_each_read(server) -> None:
    """A client trickling one byte every 0.2 s never stalls longer than the 0.5 s limit between reads, yet
    it is cut off once its whole request has taken 0.5 s (a per-read timeout let it hold a thread forever)."""
    host, port = server.server.server_address[:2]
    request = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n" + b" " * 200
    start = time.monotonic()
    got = b""
    with socket.create_connection((host, port), timeout=10) as s:
        s.settimeout(0.2)
        for byte in request:
            try:
                s.sendall(bytes([byte]))
            except OSError:  # the server closed the connection
                break
            try:
                chunk = s.recv(65536)
            except TimeoutError:  # nothing yet: the server is still reading (the 0.2 s pause between bytes)
                continue
            got += chunk
            if not chunk or b"\r\n\r\n" in got or time.monotonic() - start > 10:
                break
    elapsed = time.monotonic() - start
    assert elapsed < 3.0, elapsed  # 0.5 s limit; trickling the whole request would take 54 s
    assert not got or got.startswith(b"HTTP/1.") and (b" 408 " in got or b" 400 " in got), got[:200]


def test_connections_beyond_the_cap_get_503_at_once(tiny_model_dir) -> None:
    limits = ServeLimits(max_connections=2, read_timeout=30)
    with start_server(str(tiny_model_dir), served_model_name="tiny", limits=limits, batch_size=4) as srv:
        host, port = srv.server.server_address[:2]
        idle = [socket.create_connection((host, port), timeout=10) for _ in range(2)]  # hold both threads
        try:
            time.sleep(0.3)  # both accepted and their handler threads started
            start = time.monotonic()
            status, body, _ = raw(srv, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status == 503 and "--max-connections" in body["error"]["message"]
            assert time.monotonic() - start < 2.0
        finally:
            for s in idle:
                s.close()
        time.sleep(0.3)
        assert httpx.get(srv.url.removesuffix("/v1") + "/health", timeout=30).status_code == 200  # slots came back


def test_the_key_is_checked_before_the_body_is_read_and_must_be_a_bearer_token(tiny_model_dir) -> None:
    limits = ServeLimits(read_timeout=20)
    with start_server(str(tiny_model_dir), served_model_name="tiny", api_key="k-123", limits=limits, batch_size=4) as srv:
        head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
        start = time.monotonic()
        status, body, _ = raw(srv, head + b'{"messages"')  # no key, and a body that never arrives
        assert status == 401 and time.monotonic() - start < 5.0  # answered from the headers, not after 20 s
        body = {"messages": MSGS, "max_tokens": 1}
        for header in ("k-123", "Basic k-123", "Bearerk-123", "Bearer k-12"):
            r = httpx.post(srv.url + "/chat/completions", json=body, headers={"Authorization": header}, timeout=60)
            assert r.status_code == 401 and "Bearer" in r.json()["error"]["message"], header
        for header in ("Bearer k-123", "bearer k-123"):
            assert httpx.post(srv.url + "/chat/completions", json=body, headers={"Authorization": header},
                              timeout=60).status_code == 200
