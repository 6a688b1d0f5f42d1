"""Limits of a connection, against a real server over real sockets: oversized and too many
headers (431), slow headers and stalled bodies (408), and a worker that keeps answering."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.server import ADMIN_TOKEN, Server, clean_env, free_port, running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp: Path = tmp_path_factory.mktemp("limits")
    env = clean_env(
        UYQUYEN_ADMIN_TOKEN=ADMIN_TOKEN,
        UYQUYEN_DATA_DIR=str(tmp / "data"),
        UYQUYEN_HEADER_TIMEOUT_S="1.5",
        UYQUYEN_BODY_IDLE_TIMEOUT_S="1.5",
        UYQUYEN_BODY_BASE_S="3",
    )
    with running_server(tmp, free_port(), env=env) as s:
        yield s


def connect(server: Server) -> socket.socket:
    host, port = server.base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    return sock


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (ConnectionResetError, BrokenPipeError):
        pass
    return b"".join(chunks)


def send_quietly(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server answered and closed before taking it all: that is the point


def test_a_64_mb_header_is_refused_at_once_and_the_worker_keeps_answering(server: Server) -> None:
    sock = connect(server)
    answers: list[bytes] = []
    reader = threading.Thread(target=lambda: answers.append(read_all(sock)))
    reader.start()
    started = time.monotonic()
    send_quietly(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: ")
    chunk = b"a" * (1024 * 1024)
    for _ in range(64):
        send_quietly(sock, chunk)
        if answers:
            break
    reader.join(30)
    sock.close()
    answer = answers[0]
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"application/problem+json" in answer and b"request_header_fields_too_large" in answer
    assert time.monotonic() - started < 10
    assert httpx.get(f"{server.base}/healthz", timeout=5).status_code == 200


def test_too_many_header_fields_are_refused(server: Server) -> None:
    sock = connect(server)
    headers = b"".join(b"X-%d: 1\r\n" % i for i in range(150))
    send_quietly(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    answer = read_all(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


def test_ordinary_headers_and_a_big_body_in_one_write_are_fine(server: Server) -> None:
    resp = httpx.post(
        f"{server.base}/v1/delegations/verify",
        json={"token": "x" * 16000},
        headers={"X-Padding": "p" * 8000},
        timeout=10,
    )
    assert resp.status_code in (200, 422), resp.text


def test_slow_headers_are_cut_off(server: Server) -> None:
    sock = connect(server)
    started = time.monotonic()
    send_quietly(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    for _ in range(10):  # a header line now and then, never the end of the headers
        time.sleep(0.3)
        send_quietly(sock, b"X-Slow: 1\r\n")
    answer = read_all(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"request_timeout" in answer
    assert time.monotonic() - started < 6


def test_a_silent_connection_is_closed(server: Server) -> None:
    sock = connect(server)
    started = time.monotonic()
    assert read_all(sock) == b""  # closed without a word: nothing was asked
    assert time.monotonic() - started < 6
    sock.close()


def test_a_stalled_body_is_cut_off(server: Server) -> None:
    sock = connect(server)
    send_quietly(
        sock,
        b"POST /v1/delegations/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"token": "',
    )
    started = time.monotonic()
    answer = read_all(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert time.monotonic() - started < 6


def test_a_trickled_body_is_cut_off_at_its_deadline_and_logs_no_traceback(
    server: Server,
) -> None:
    """One byte a second never pauses long enough for the idle timer: the body's deadline
    (3 s here, plus its length at the minimum rate) closes it, and the token endpoint, whose
    form read is cut short, logs no traceback."""
    sock = connect(server)
    send_quietly(
        sock,
        b"POST /oauth/token HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n",
    )
    started = time.monotonic()
    answer = b""
    sock.settimeout(0.1)
    while time.monotonic() - started < 15:
        send_quietly(sock, b"g")
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            time.sleep(0.9)
            continue
        except (ConnectionResetError, BrokenPipeError):
            break
        if not chunk:
            break
        answer += chunk
    sock.close()
    elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"too slowly" in answer
    assert 2.5 < elapsed < 8, elapsed
    time.sleep(0.5)
    assert "Traceback" not in server.log.read_text()


def test_hundreds_of_slowloris_connections_are_all_released(server: Server) -> None:
    socks = [connect(server) for _ in range(300)]
    for s in socks:
        send_quietly(s, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    assert httpx.get(f"{server.base}/healthz", timeout=5).status_code == 200  # still answering
    time.sleep(2.5)
    closed = 0
    for s in socks:
        s.settimeout(5)
        if read_all(s).startswith(b"HTTP/1.1 408 "):
            closed += 1
        s.close()
    assert closed == 300
