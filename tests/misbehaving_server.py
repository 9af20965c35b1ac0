"""Loopback HTTP servers that break their answers on purpose, for the transport's failure and deadline tests.

Why not the emulator: its faults are whole answers (a status, a delay before answering); these break an answer
*inside* the bytes: a status line and body trickled one byte at a time (a slow proxy), or ``200`` headers and one
byte of body followed by a reset (a proxy that dies mid-answer), as real networks do.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Literal

__all__ = ["MisbehavingServer", "closed_port_url", "misbehaving_server"]

Mode = Literal["trickle", "trickle-body", "reset"]

BODY = b'{"name":"r","schema":[{"key":"a","valtype":"string","required":false}],"padding":"........"}'


def closed_port_url() -> str:
    """The URL of a loopback port nothing listens on (a connection to it is refused before any byte is sent)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class MisbehavingServer:
    """Answers every request on 127.0.0.1 the same broken way, one thread per connection.

    * ``trickle``: the whole answer (status line, headers, body) one byte every ``interval`` seconds, the rest at
      once after ``trickle_for`` seconds (so a client with no overall deadline ends, late, instead of hanging);
    * ``trickle-body``: the headers at once, then the body as ``trickle`` sends it;
    * ``reset``: ``200`` headers and the first byte of a 2-byte body, then a TCP reset (``SO_LINGER`` 0).

    ``gone_after``: stop listening once that many requests arrived (later connections are refused), as a server
    killed mid-answer does.
    """

    def __init__(
        self, mode: Mode, *, interval: float = 0.2, trickle_for: float = 8.0, gone_after: int | None = None
    ) -> None:
        self.mode = mode
        self.gone_after = gone_after
        self.interval = interval
        self.trickle_for = trickle_for
        self.requests = 0
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def start(self) -> MisbehavingServer:
        """Start accepting in a background thread."""
        self._spawn(self._accept)
        return self

    def stop(self) -> None:
        """Stop accepting, end every trickle and wait for the threads."""
        self._stop.set()
        with self._lock:
            for conn in self._open:  # an idle keep-alive connection would hold its thread in recv()
                with suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._listener.close()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._open.add(conn)
            self._spawn(self._serve, conn)

    @staticmethod
    def _read_request(conn: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            body += chunk
        return body

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            body = self._read_request(conn)
            if body is None:
                return
            with self._lock:
                self.requests += 1
                self.bodies.append(body)
                if self.requests == self.gone_after:
                    self._listener.shutdown(socket.SHUT_RDWR)  # stops listening: the next connect is refused
            if self.mode == "reset":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{")
                time.sleep(0.05)  # let the client read the headers and the byte before the reset
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)
            if self.mode == "trickle-body":
                conn.sendall(head)
                self._trickle(conn, BODY)
            else:
                self._trickle(conn, head + BODY)
        except OSError:
            pass  # the client gave up: what these tests want
        finally:
            with self._lock:
                self._open.discard(conn)
            conn.close()

    def _trickle(self, conn: socket.socket, answer: bytes) -> None:
        until = time.monotonic() + self.trickle_for
        for i in range(len(answer)):
            if self._stop.is_set():
                return
            if time.monotonic() >= until:
                conn.sendall(answer[i:])
                return
            conn.sendall(answer[i : i + 1])
            time.sleep(self.interval)


@contextmanager
def misbehaving_server(
    mode: Mode, *, interval: float = 0.2, trickle_for: float = 8.0, gone_after: int | None = None
) -> Iterator[MisbehavingServer]:
    """A started :class:`MisbehavingServer`, stopped on exit."""
    server = MisbehavingServer(mode, interval=interval, trickle_for=trickle_for, gone_after=gone_after).start()
    try:
        yield server
    finally:
        server.stop()
