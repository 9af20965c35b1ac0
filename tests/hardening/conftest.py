"""Shared pieces of the hardening tests: a raw HTTP client that sends exactly the bytes a test says.

``requests`` and ``http.client`` repair or refuse much of what these tests need to send (bad
``Content-Length``, junk methods, over-long headers), so requests are written to a socket by hand and the
answer read back with :class:`http.client.HTTPResponse`. Every socket has a timeout: a hang fails the test.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_provider_pandora import auth
from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.exceptions import split_code

SOCKET_TIMEOUT = 15.0
"""Seconds any single exchange may take; an emulator that hangs fails the test instead of stalling it."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    raw_head: bytes = b""
    error: str = field(init=False, default="")

    def __post_init__(self) -> None:
        try:
            payload = json.loads(self.body) if self.body else {}
        except ValueError:
            payload = {}
        if isinstance(payload, dict) and isinstance(payload.get("error"), str):
            self.error = payload["error"]

    @property
    def code(self) -> str | None:
        return split_code(self.error)[0]

    @property
    def message(self) -> str:
        return split_code(self.error)[1]


def send_raw(
    emulator: PandoraEmulator,
    method: str | bytes,
    path: str | bytes,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    sign: bool = True,
    content_length: str | None = "auto",
    extra_head: bytes = b"",
    half_close: bool = False,
) -> Answer:
    """One request on a fresh connection. ``content_length=None`` sends none; a string sends it verbatim.

    Signing uses the emulator's keys over the method, path, ``Content-Type`` and ``X-Qiniu-*`` headers given.
    """
    host, port = emulator.url.split("//", 1)[1].rsplit(":", 1)
    send_headers = dict(headers or {})
    if sign:
        text_method = method.decode("latin-1") if isinstance(method, bytes) else method
        text_path = path.decode("latin-1") if isinstance(path, bytes) else path
        signed = auth.sign_headers(
            emulator.access_key, emulator.secret_key, text_method, emulator.url + text_path, send_headers
        )
        send_headers = {**signed, **send_headers}
    if content_length == "auto":
        content_length = str(len(body)) if body or method not in ("GET", "HEAD", "DELETE") else None
    if content_length is not None:
        send_headers["Content-Length"] = content_length
    lines = [
        (method if isinstance(method, bytes) else method.encode("latin-1"))
        + b" "
        + (path if isinstance(path, bytes) else path.encode("latin-1"))
        + b" HTTP/1.1",
        f"Host: {host}:{port}".encode(),
        b"Connection: close",
    ]
    lines += [f"{k}: {v}".encode() for k, v in send_headers.items()]  # UTF-8: any bytes a client may send
    head = b"\r\n".join(lines) + b"\r\n" + extra_head + b"\r\n"
    with socket.create_connection((host, int(port)), timeout=SOCKET_TIMEOUT) as sock:
        # the server may answer and close before reading a body it refuses
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)
        response.begin()
        data = response.read()
        return Answer(response.status, {k: v for k, v in response.getheaders()}, data)


@pytest.fixture(scope="module")
def emulator() -> Iterator[PandoraEmulator]:
    """One emulator per module: the corpus tests only make refused calls, which change nothing."""
    with PandoraEmulator() as running:
        yield running


def request_count(emulator: PandoraEmulator, path_prefix: str = "/") -> int:
    """Signed API requests served so far (all of them from the counter; by path from the last 10,000 logged)."""
    if path_prefix == "/":
        return int(emulator.stats()["requests"])
    return sum(1 for entry in emulator.requests_log() if str(entry["path"]).startswith(path_prefix))


def conn_json(emulator: PandoraEmulator, **extra: Any) -> str:
    extra.setdefault("retry_delay", 0.01)
    return emulator.connection_json(**extra)


def pytest_configure(config: pytest.Config) -> None:
    # Registered here (not in pyproject) so the hardening suite carries its own marker.
    config.addinivalue_line("markers", "slow: a hardening test that takes tens of seconds (fuzzing, load)")
