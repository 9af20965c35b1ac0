"""Slow clients (slowloris): a request must be read within its deadline, however slowly its bytes trickle in.

The emulator's socket timeout bounds each read, so a client sending one byte every few seconds used to hold
its thread forever (issue 18, item 8). Each test here runs an emulator with a short read deadline, trickles a
request over a raw socket, and checks the connection is answered ``408`` and closed within the deadline plus
some slack, while other clients are served normally in the meantime.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_pandora.emulator.__main__ import build_parser
from airflow_provider_pandora.emulator.http.server import (
    DEMO_ACCESS_KEY,
    DEMO_SECRET_KEY,
    MIN_BODY_RATE,
    READ_TIMEOUT,
    EmulatorServer,
)

pytestmark = pytest.mark.integration

DEADLINE = 1.5
"""The read deadline the emulator under test is started with (seconds)."""
SLACK = 3.0
"""How much later than the deadline the connection may be closed (generous: the suite runs on busy machines)."""
TRICKLE = 0.2
"""Seconds between the bytes a slow client sends."""
HEAD = b"GET /_emulator/health HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + b"a" * 200 + b"\r\n\r\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmulatorServer]:
    running = EmulatorServer(
        data_dir=tmp_path,
        kodo_root=tmp_path / "kodo",
        credentials={DEMO_ACCESS_KEY: DEMO_SECRET_KEY},
        read_timeout=DEADLINE,
        min_body_rate=100.0,
    )
    running.start()
    yield running
    running.stop()


def _address(server: EmulatorServer) -> tuple[str, int]:
    host, port = server.httpd.server_address[:2]
    return str(host), int(port)


def _trickle(sock: socket.socket, data: bytes, stop: threading.Event) -> float:
    """Send ``data`` one byte every :data:`TRICKLE` seconds until the server closes; the seconds it took."""
    started = time.monotonic()
    for byte in data:
        if stop.is_set():
            break
        try:
            sock.sendall(bytes([byte]))
        except OSError:  # the server closed the connection
            break
        time.sleep(TRICKLE)
    return time.monotonic() - started


def _answer_and_close(sock: socket.socket) -> tuple[int, bytes, float]:
    """Read the server's answer and the end of the connection: status, body, and when the close came."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    body = response.read()
    sock.settimeout(DEADLINE + SLACK)
    while True:  # the connection must then be closed (EOF), not kept alive
        try:
            if not sock.recv(1024):
                break
        except ConnectionResetError:
            break
    return response.status, body, time.monotonic()


def _served_meanwhile(server: EmulatorServer, until: float) -> int:
    """Requests another, normal client got answered while the slow one trickled."""
    served = 0
    host, port = _address(server)
    while served == 0 or time.monotonic() < until:  # at least one, however slow the machine
        conn = http.client.HTTPConnection(host, port, timeout=5)
        conn.request("GET", "/_emulator/health")
        assert conn.getresponse().status == 200
        conn.close()
        served += 1
        time.sleep(0.1)
    return served


def _slow_request(server: EmulatorServer, head: bytes, trickled: bytes) -> None:
    stop = threading.Event()
    with socket.create_connection(_address(server), timeout=DEADLINE + SLACK + 5) as sock:
        sock.sendall(head)
        started = time.monotonic()
        sender = threading.Thread(target=_trickle, args=(sock, trickled, stop), daemon=True)
        sender.start()
        try:
            assert _served_meanwhile(server, started + DEADLINE / 2) > 0
            status, body, closed = _answer_and_close(sock)
        finally:
            stop.set()
            sender.join(timeout=5)
    assert status == 408, body
    assert b"did not arrive in time" in body
    assert closed - started < DEADLINE + SLACK
    assert closed - started >= DEADLINE - 0.1  # the deadline, not the first gap between bytes


def test_headers_trickled_byte_by_byte_get_408_within_the_deadline(server: EmulatorServer) -> None:
    _slow_request(server, b"", HEAD)


def test_a_body_trickled_byte_by_byte_gets_408_within_its_deadline(server: EmulatorServer) -> None:
    # 10 bytes at a minimum of 100 bytes/s: the floor (the read deadline) applies
    head = b"POST /_emulator/reset HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n"
    _slow_request(server, head, b"0123456789" * 3)


def test_a_body_deadline_grows_with_its_length_but_is_not_extended_by_trickling(server: EmulatorServer) -> None:
    # 300 bytes at a minimum of 100 bytes/s: 3 s, the first 2 s in bursts, then silence
    head = b"POST /_emulator/reset HTTP/1.1\r\nHost: localhost\r\nContent-Length: 300\r\n\r\n"
    with socket.create_connection(_address(server), timeout=10) as sock:
        sock.sendall(head)
        started = time.monotonic()
        for _ in range(4):
            sock.sendall(b"x" * 10)
            time.sleep(0.5)
        status, body, closed = _answer_and_close(sock)
    assert status == 408, body
    assert 3.0 - 0.1 <= closed - started < 3.0 + SLACK


def test_a_quiet_keep_alive_connection_is_not_cut_by_the_read_deadline(server: EmulatorServer) -> None:
    conn = http.client.HTTPConnection(*_address(server), timeout=10)
    conn.request("GET", "/_emulator/health")
    assert conn.getresponse().read()
    time.sleep(DEADLINE + 0.5)  # idle between requests: only the idle timeout applies
    conn.request("GET", "/_emulator/health")
    assert conn.getresponse().status == 200
    conn.close()


def test_a_request_sent_at_once_is_served_as_before(server: EmulatorServer) -> None:
    with socket.create_connection(_address(server), timeout=10) as sock:
        sock.sendall(HEAD)
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 200
        assert response.read()


def test_the_deadlines_are_options_of_the_command_and_must_be_positive(tmp_path: Path) -> None:
    args = build_parser().parse_args(["--read-timeout", "5", "--min-body-rate", "1024"])
    assert (args.read_timeout, args.min_body_rate) == (5.0, 1024.0)
    defaults = build_parser().parse_args([])
    assert (defaults.read_timeout, defaults.min_body_rate) == (READ_TIMEOUT, MIN_BODY_RATE)
    with pytest.raises(ValueError, match="positive"):
        EmulatorServer(data_dir=tmp_path, kodo_root=tmp_path / "kodo", credentials={"a": "b"}, read_timeout=0)
