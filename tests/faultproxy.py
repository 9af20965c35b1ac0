"""A fault-injecting TCP proxy in front of an HTTP/1.1 server (the emulator), for the stateful transfer suite and
for trying a client by hand.

It forwards bytes between each client connection and a fresh upstream connection, one request per connection
(it answers with ``Connection: close``, so a client opens a new connection per request and every connection is
one exchange). For each request a *chooser* (a queue, a schedule keyed by body content, or a seeded random
draw) may pick a fault:

* ``drop_before_body``: the head and half of the body go upstream, then both connections are reset: the
  upstream never has the whole body (it stores nothing); the client gets no answer;
* ``drop_after_body``: the whole request goes upstream, and once the upstream's answer head arrives (so the
  record says whether it stored the body) the client's connection is reset without a byte of it;
* ``cut_answer``: the client gets the answer's head and half its body (half of the head when the body is empty),
  then a reset (``SO_LINGER`` 0);
* ``trickle``: the client gets the answer one byte every ``trickle_s`` seconds;
* ``status``: a synthetic ``status`` answer (503 by default; 500, 502, 429, ...) with a JSON error body; the
  request is not forwarded;
* ``refuse``: the exchange is forwarded as usual, but before its answer is sent the proxy stops listening for
  ``refuse_s`` seconds: connection attempts meanwhile are refused by the kernel (``ECONNREFUSED``) and never
  reach the proxy (so they are not recorded; the pause is, in :attr:`FaultProxy.refusals`).

A fault may also kill the client (``kill="before_forward"``: the body never goes upstream; ``"after_forward"``:
the upstream has answered), through the ``on_kill`` callback given to the proxy.

Every exchange is recorded (:class:`Exchange`): the request (method, path, headers, body), the fault, whether
the whole body reached the upstream, the upstream's status, and how much of an answer the client got. That is
what an oracle needs to know what was really in flight when a fault hit.

By hand::

    python -m tests.faultproxy --upstream 127.0.0.1:8080 --fault drop_after_body --fault none --fault cut_answer
    python -m tests.faultproxy --upstream 127.0.0.1:8080 --random 0.3 --seed 7 --kinds drop_after_body,status

It prints the address it listens on, then one JSON line per exchange.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import select
import socket
import struct
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "KINDS",
    "BodySchedule",
    "Exchange",
    "Fault",
    "FaultChooser",
    "FaultProxy",
    "FaultQueue",
    "RandomFaults",
    "Request",
    "main",
]

KINDS = ("none", "drop_before_body", "drop_after_body", "cut_answer", "trickle", "status", "refuse")
KILLS = ("before_forward", "after_forward")
HEAD_LIMIT = 64 * 1024
IO_TIMEOUT = 30.0
"""Seconds a proxy thread waits on a silent peer before giving the exchange up."""
REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


@dataclass(frozen=True)
class Fault:
    """What to do to one exchange (see the module docstring for the kinds)."""

    kind: str = "none"
    status: int = 503
    trickle_s: float = 0.005
    refuse_s: float = 0.1
    kill: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fault kind {self.kind!r} must be one of {', '.join(KINDS)}")
        if self.kill is not None and self.kill not in KILLS:
            raise ValueError(f"kill {self.kill!r} must be one of {', '.join(KILLS)}")
        if not 100 <= self.status <= 599:
            raise ValueError(f"status {self.status} is not an HTTP status")

    @property
    def label(self) -> str:
        """``drop_after_body``, ``status_503``, ``none+kill_after_forward``: for records and figures."""
        name = f"status_{self.status}" if self.kind == "status" else self.kind
        return f"{name}+kill_{self.kill}" if self.kill else name


@dataclass(frozen=True)
class Request:
    """A request as the proxy read it from the client (headers lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FaultChooser(Protocol):
    def choose(self, request: Request) -> Fault | None: ...


def method_path_matcher(pattern: str) -> Callable[[Request], bool]:
    """A request filter: ``pattern`` searched in ``"METHOD /path"``."""
    compiled = re.compile(pattern)
    return lambda request: compiled.search(f"{request.method} {request.path}") is not None


DATA_PUSHES = r"^POST /v2/repos/[^/]+/data$"
"""The default filter: only data pushes get faults."""


class FaultQueue:
    """Faults for successive matching requests, in order; every request after the queue runs out passes."""

    def __init__(self, faults: Iterable[Fault], match: Callable[[Request], bool] | None = None) -> None:
        self._faults = deque(faults)
        self._match = match or method_path_matcher(DATA_PUSHES)
        self._lock = threading.Lock()

    def choose(self, request: Request) -> Fault | None:
        """The next queued fault for a matching request."""
        if not self._match(request):
            return None
        with self._lock:
            return self._faults.popleft() if self._faults else None


class RandomFaults:
    """Each matching request gets a fault with probability ``rate``, its kind drawn from ``kinds`` (seeded)."""

    def __init__(
        self,
        rate: float,
        kinds: Sequence[Fault],
        *,
        seed: int | None = None,
        match: Callable[[Request], bool] | None = None,
    ) -> None:
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        self.rate = rate
        self.kinds = list(kinds)
        self._random = random.Random(seed)
        self._match = match or method_path_matcher(DATA_PUSHES)
        self._lock = threading.Lock()

    def choose(self, request: Request) -> Fault | None:
        """A random fault, or ``None``, for a matching request."""
        if not self._match(request) or not self.kinds:
            return None
        with self._lock:
            if self._random.random() >= self.rate:
                return None
            return self._random.choice(self.kinds)


@dataclass
class _Trigger:
    needle: bytes
    fault: Fault
    times: int


class BodySchedule:
    """Faults keyed by content: the next ``times`` matching requests whose body contains ``needle`` get ``fault``.

    Unlike a queue this does not depend on the order in which concurrent requests reach the proxy: a fault meant
    for the batch holding a given point hits that batch (and its retries, with ``times`` > 1) whatever the
    threads do. The first trigger (in the order added) that matches a request wins.
    """

    def __init__(self, match: Callable[[Request], bool] | None = None) -> None:
        self._triggers: list[_Trigger] = []
        self._match = match or method_path_matcher(DATA_PUSHES)
        self._lock = threading.Lock()

    def add(self, needle: bytes, fault: Fault, times: int = 1) -> BodySchedule:
        """Schedule ``fault`` for the next ``times`` requests carrying ``needle``; returns ``self``."""
        with self._lock:
            self._triggers.append(_Trigger(needle, fault, times))
        return self

    def pending(self) -> list[tuple[bytes, str, int]]:
        """The triggers not used up: (needle, fault label, times left)."""
        with self._lock:
            return [(t.needle, t.fault.label, t.times) for t in self._triggers if t.times > 0]

    def choose(self, request: Request) -> Fault | None:
        """The fault of the first trigger with uses left whose needle is in the body."""
        if not self._match(request):
            return None
        body = _decoded_body(request)
        with self._lock:
            for trigger in self._triggers:
                if trigger.times > 0 and trigger.needle in body:
                    trigger.times -= 1
                    return trigger.fault
        return None


def _decoded_body(request: Request) -> bytes:
    if request.headers.get("content-encoding", "").lower() == "gzip":
        import gzip

        try:
            return gzip.decompress(request.body)
        except (OSError, EOFError):
            return request.body
    return request.body


@dataclass
class Exchange:
    """What happened to one connection (one request)."""

    n: int
    tag: str
    started: float
    method: str | None = None
    path: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    fault: str = "none"
    """The fault's label (``none`` when the request got none)."""
    kill: str | None = None
    body_forwarded: bool = False
    """The whole request body reached the upstream."""
    upstream_status: int | None = None
    """The upstream's answer (``None``: no answer, or the request never went upstream)."""
    status_sent: int | None = None
    """The status line the client was sent, in full or in part (the upstream's or a synthetic one)."""
    delivered: str = "none"
    """How much of an answer the client got: ``none``, ``partial`` or ``full``."""
    client_gone: bool = False
    """The client had closed its connection before its answer was sent (it gave up: a timeout, or it died)."""
    error: str | None = None
    ended: float | None = None

    @property
    def body_plain(self) -> bytes:
        """The request body, gunzipped when it was sent with ``Content-Encoding: gzip``."""
        return _decoded_body(Request(self.method or "", self.path or "", self.headers, self.body))

    @property
    def answered_in_full(self) -> bool:
        """The client received its whole answer (and was still there for it)."""
        return self.delivered == "full" and not self.client_gone

    def to_json(self) -> dict[str, Any]:
        """The record without the body's bytes (their length instead)."""
        return {
            "n": self.n,
            "tag": self.tag,
            "method": self.method,
            "path": self.path,
            "body_bytes": len(self.body),
            "fault": self.fault,
            "kill": self.kill,
            "body_forwarded": self.body_forwarded,
            "upstream_status": self.upstream_status,
            "status_sent": self.status_sent,
            "delivered": self.delivered,
            "client_gone": self.client_gone,
            "error": self.error,
            "seconds": round((self.ended or self.started) - self.started, 4),
        }


class _Abort(Exception):
    """The exchange ends here (the peer went away or sent garbage); the record says how far it got."""


def _reset(sock: socket.socket | None) -> None:
    """Close with a TCP reset (``SO_LINGER`` 0) instead of a FIN."""
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _close(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()


def _gone(sock: socket.socket) -> bool:
    """Whether the peer has closed (or reset) its side: readable with nothing to read."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def _await_close(client: socket.socket, record: Exchange) -> None:
    """Wait (2 s at most) for the client to read its whole answer and close: a reset instead means that it had
    given up (timed out, died) before reading it, so it never learnt the outcome."""
    try:
        client.settimeout(2.0)
        while client.recv(65536):
            pass
    except TimeoutError:
        pass
    except OSError:
        record.client_gone = True


def _read_head(sock: socket.socket, buffer: bytearray) -> bytes:
    """Read up to and including the blank line ending a head; what follows stays in ``buffer``."""
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(buffer[: end + 4])
            del buffer[: end + 4]
            return head
        if len(buffer) > HEAD_LIMIT:
            raise _Abort("head too long")
        chunk = sock.recv(65536)
        if not chunk:
            raise _Abort("closed before a whole head")
        buffer += chunk


def _read_exactly(sock: socket.socket, buffer: bytearray, length: int) -> bytes:
    while len(buffer) < length:
        chunk = sock.recv(max(65536, length - len(buffer)))
        if not chunk:
            raise _Abort(f"closed after {len(buffer)} of {length} body bytes")
        buffer += chunk
    data = bytes(buffer[:length])
    del buffer[:length]
    return data


def _read_to_eof(sock: socket.socket, buffer: bytearray) -> bytes:
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            data = bytes(buffer)
            buffer.clear()
            return data
        buffer += chunk


def _headers(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


def _with_header(head: bytes, name: str, value: str) -> bytes:
    """``head`` with every ``name`` header replaced by one ``name: value``."""
    lines = head[:-4].split(b"\r\n")
    wanted = name.lower().encode("latin-1")
    kept = [lines[0], *(line for line in lines[1:] if line.split(b":", 1)[0].strip().lower() != wanted)]
    kept.append(f"{name}: {value}".encode("latin-1"))
    return b"\r\n".join(kept) + b"\r\n\r\n"


def _content_length(headers: dict[str, str]) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    try:
        return max(0, int(value))
    except ValueError:
        raise _Abort(f"bad Content-Length {value!r}") from None


def synthetic_answer(status: int, message: str) -> bytes:
    """A whole HTTP answer with a Pandora-style JSON error body."""
    body = json.dumps({"error": message}).encode()
    reason = REASONS.get(status, "Error")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"X-Reqid: faultproxy-{status}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class FaultProxy:
    """The proxy: ``with FaultProxy(("127.0.0.1", port)) as proxy: ... proxy.url ...``.

    :param upstream: the server's (host, port).
    :param chooser: picks each request's fault (``None``: forward everything); replace it any time with
        :attr:`chooser`.
    :param listen: the (host, port) to listen on; port 0 picks a free one (kept across ``refuse`` pauses).
    :param on_kill: called (on the proxy's thread) when a fault says to kill the client.
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        chooser: FaultChooser | None = None,
        *,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        on_kill: Callable[[Exchange], None] | None = None,
    ) -> None:
        self.upstream = upstream
        self.chooser = chooser
        self.on_kill = on_kill
        self.tag = ""
        """Copied into each new exchange's record (say, which try of a test made it)."""
        self.host = listen[0]
        self.port = listen[1]
        self.refusals: list[tuple[str, float, float]] = []
        """Each ``refuse`` pause: (tag, started, seconds)."""
        self._records: list[Exchange] = []
        self._count = 0
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._refuse_until = 0.0
        self._stopping = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._active = 0
        self._thread: threading.Thread | None = None
        self.on_record: Callable[[Exchange], None] | None = None
        """Called with each finished exchange (the CLI prints it)."""

    # ---- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        """Listen and serve on a background thread; returns ``self``."""
        self._listener = self._bind()
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="faultproxy-accept", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting; exchanges in progress end on their own (daemon threads)."""
        self._stopping.set()
        with self._lock:
            _close(self._listener)
            self._listener = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://host:port`` of the proxy."""
        return f"http://{self.host}:{self.port}"

    # ---- records --------------------------------------------------------------------------------------------
    def records(self) -> list[Exchange]:
        """Every finished exchange so far, in the order they started."""
        with self._lock:
            return sorted(self._records, key=lambda r: r.n)

    def take_records(self) -> list[Exchange]:
        """:meth:`records`, forgetting them."""
        with self._lock:
            records, self._records = self._records, []
            return sorted(records, key=lambda r: r.n)

    def wait_idle(self, timeout: float = 30.0, *, end_refusal: bool = True) -> bool:
        """Wait until no exchange is in progress (and, with ``end_refusal``, end a ``refuse`` pause early)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._active:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
            if end_refusal:
                self._refuse_until = 0.0
        if end_refusal:
            while self._listener is None and not self._stopping.is_set() and time.monotonic() < deadline:
                time.sleep(0.002)
        return True

    def fault_counts(self) -> Counter[str]:
        """Exchanges per fault label."""
        return Counter(record.fault for record in self.records())

    # ---- listening and refusing ---------------------------------------------------------------------------
    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        sock.setblocking(False)
        return sock

    def _refuse(self, seconds: float) -> None:
        """Stop listening for ``seconds``: first take every connection already queued (served as usual)."""
        with self._lock:
            self.refusals.append((self.tag, time.monotonic(), seconds))
            self._refuse_until = max(self._refuse_until, time.monotonic() + seconds)
            sock, self._listener = self._listener, None
            if sock is None:
                return
            while True:
                try:
                    conn, _ = sock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                self._spawn_locked(conn)
            # shutdown first: a plain close leaves the socket listening until the accept thread's select() on it
            # returns, and a connection queued meanwhile would then be reset instead of refused.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            _close(sock)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                sock = self._listener
                reopen = sock is None and time.monotonic() >= self._refuse_until
            if sock is None:
                if not reopen:
                    time.sleep(0.002)
                    continue
                try:
                    fresh = self._bind()
                except OSError:
                    time.sleep(0.01)
                    continue
                with self._lock:
                    if self._listener is None and not self._stopping.is_set():
                        self._listener = fresh
                    else:
                        _close(fresh)
                continue
            try:
                readable, _, _ = select.select([sock], [], [], 0.05)
            except (OSError, ValueError):
                continue
            if not readable:
                continue
            with self._lock:
                if self._listener is not sock:
                    continue
                try:
                    conn, _ = sock.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    continue
                self._spawn_locked(conn)

    def _spawn_locked(self, conn: socket.socket) -> None:
        conn.setblocking(True)
        conn.settimeout(IO_TIMEOUT)
        self._count += 1
        self._active += 1
        record = Exchange(n=self._count, tag=self.tag, started=time.monotonic())
        threading.Thread(target=self._handle, args=(conn, record), name=f"faultproxy-{record.n}", daemon=True).start()

    # ---- one exchange ---------------------------------------------------------------------------------------
    def _handle(self, client: socket.socket, record: Exchange) -> None:
        upstream: socket.socket | None = None
        try:
            upstream = self._exchange(client, record)
        except _Abort as err:
            record.error = str(err)
        except (OSError, ValueError) as err:
            record.error = f"{type(err).__name__}: {err}"
        finally:
            _close(client)
            _close(upstream)
            record.ended = time.monotonic()
            with self._idle:
                self._records.append(record)
                self._active -= 1
                self._idle.notify_all()
            if self.on_record is not None:
                self.on_record(record)

    def _exchange(self, client: socket.socket, record: Exchange) -> socket.socket | None:
        buffer = bytearray()
        head = _read_head(client, buffer)
        request_line, headers = _headers(head)
        parts = request_line.split(" ")
        if len(parts) < 2:
            raise _Abort(f"bad request line {request_line!r}")
        record.method, record.path, record.headers = parts[0], parts[1], headers
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise _Abort("chunked request bodies are not supported")
        length = _content_length(headers) or 0
        record.body = _read_exactly(client, buffer, length)
        request = Request(record.method, record.path, headers, record.body)
        fault = (self.chooser.choose(request) if self.chooser is not None else None) or Fault()
        record.fault, record.kill = fault.label, fault.kill
        if fault.kind == "status":
            answer = synthetic_answer(fault.status, f"E{fault.status}: injected by the fault proxy")
            self._answer(client, record, answer, fault.status)
            return None
        if fault.kill == "before_forward":
            self._kill(record)
            return None
        upstream = socket.create_connection(self.upstream, timeout=IO_TIMEOUT)
        upstream_head = _with_header(head, "Connection", "close")
        if fault.kind == "drop_before_body":
            upstream.sendall(upstream_head + record.body[: len(record.body) // 2])
            _reset(upstream)
            _reset(client)
            return None
        upstream.sendall(upstream_head + record.body)
        record.body_forwarded = True
        answer_buffer = bytearray()
        answer_head = _read_head(upstream, answer_buffer)
        status_line, answer_headers = _headers(answer_head)
        try:
            record.upstream_status = int(status_line.split(" ")[1])
        except (IndexError, ValueError):
            raise _Abort(f"bad status line {status_line!r}") from None
        if fault.kind == "drop_after_body":
            _reset(client)
            return upstream
        answer_length = _content_length(answer_headers)
        if answer_length is None:
            answer_body = _read_to_eof(upstream, answer_buffer)
        else:
            answer_body = _read_exactly(upstream, answer_buffer, answer_length)
        if fault.kill == "after_forward":
            self._kill(record)
            return upstream
        answer = _with_header(answer_head, "Connection", "close")
        if answer_length is None:
            answer = _with_header(answer, "Content-Length", str(len(answer_body)))
        answer += answer_body
        if fault.kind == "refuse":
            self._refuse(fault.refuse_s)
        if fault.kind == "cut_answer":
            cut = len(answer) - len(answer_body) // 2 if answer_body else len(answer) // 2
            record.status_sent = record.upstream_status
            if _gone(client):
                record.client_gone = True
            else:
                client.sendall(answer[:cut])
                record.delivered = "partial"
            _reset(client)
            return upstream
        if fault.kind == "trickle":
            self._trickle(client, record, answer, fault.trickle_s)
            return upstream
        self._answer(client, record, answer, record.upstream_status)
        return upstream

    def _answer(self, client: socket.socket, record: Exchange, answer: bytes, status: int | None) -> None:
        record.status_sent = status
        if _gone(client):
            record.client_gone = True
            return
        try:
            client.sendall(answer)
        except OSError as err:
            record.client_gone = True
            raise _Abort(f"client went away while answered: {err}") from None
        record.delivered = "full"
        _await_close(client, record)

    def _trickle(self, client: socket.socket, record: Exchange, answer: bytes, interval: float) -> None:
        record.status_sent = record.upstream_status
        for i in range(len(answer)):
            if _gone(client):
                record.client_gone = True
                return
            try:
                client.sendall(answer[i : i + 1])
            except OSError:
                record.client_gone = True
                return
            record.delivered = "partial"
            time.sleep(interval)
        record.delivered = "full"
        _await_close(client, record)

    def _kill(self, record: Exchange) -> None:
        if self.on_kill is not None:
            self.on_kill(record)


# ---- command line -------------------------------------------------------------------------------------------
def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


def _fault_args(args: argparse.Namespace, kind: str) -> Fault:
    return Fault(kind, status=args.status, trickle_s=args.trickle_ms / 1000, refuse_s=args.refuse_ms / 1000)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.faultproxy``: proxy to ``--upstream`` with faults, one JSON line per exchange."""
    parser = argparse.ArgumentParser(prog="python -m tests.faultproxy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=_address, default=("127.0.0.1", 0), help="HOST:PORT (port 0: a free one)")
    parser.add_argument("--upstream", type=_address, required=True, help="the server's HOST:PORT")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        choices=KINDS,
        help="the fault of the next matching request (repeat for a queue; 'none' lets one pass)",
    )
    parser.add_argument("--random", type=float, default=None, metavar="RATE", help="random faults at this rate")
    parser.add_argument("--kinds", default=",".join(KINDS[1:]), help="comma-separated kinds for --random")
    parser.add_argument("--seed", type=int, default=None, help="seed of --random")
    parser.add_argument("--match", default=DATA_PUSHES, help="regex on 'METHOD /path' of the requests faults hit")
    parser.add_argument("--status", type=int, default=503, help="status of 'status' faults")
    parser.add_argument("--trickle-ms", type=float, default=5.0, help="milliseconds between trickled bytes")
    parser.add_argument("--refuse-ms", type=float, default=100.0, help="how long 'refuse' stops listening")
    args = parser.parse_args(argv)
    match = method_path_matcher(args.match)
    chooser: FaultChooser | None = None
    if args.random is not None:
        kinds = [_fault_args(args, kind.strip()) for kind in args.kinds.split(",") if kind.strip()]
        chooser = RandomFaults(args.random, kinds, seed=args.seed, match=match)
    elif args.fault:
        chooser = FaultQueue([_fault_args(args, kind) for kind in args.fault], match=match)
    proxy = FaultProxy(args.upstream, chooser, listen=args.listen)
    proxy.on_record = lambda record: print(json.dumps(record.to_json()), flush=True)
    proxy.start()
    print(f"faultproxy listening on {proxy.url}, forwarding to {args.upstream[0]}:{args.upstream[1]}", file=sys.stderr)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
