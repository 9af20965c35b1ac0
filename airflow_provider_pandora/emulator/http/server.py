"""The emulator's HTTP server: reads a request, applies faults, checks its signature, runs its route, answers.

Why the standard library (``http.server.ThreadingHTTPServer``) and not Starlette/uvicorn: it adds no
dependency, so the emulator runs the same on Airflow 2.11 (which ships neither) and 3.x, in-process
inside a test or as ``pandora-emulator``; and it is fast enough: a 2 MiB push costs one ``recv`` loop,
the time goes into validating points, which no framework would make faster. Keep-alive (HTTP/1.1),
``TCP_NODELAY`` and one thread per connection keep small calls around a millisecond.

The route table is :mod:`.routes`; the request and response types are :mod:`.framing`. Every answer
carries ``X-Reqid``; errors are ``{"error": "Exxxxx: message"}`` with
``Content-Type: application/json`` and the status of the code in
:data:`airflow_provider_pandora.exceptions.ERROR_CODES`.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import logging
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from airflow_provider_pandora import auth
from airflow_provider_pandora.emulator.core.errors import ApiError
from airflow_provider_pandora.emulator.core.service import Engine
from airflow_provider_pandora.emulator.http.framing import Headers, Request, Response, error_response
from airflow_provider_pandora.emulator.http.routes import (
    ADMIN_ROUTES,
    DEFAULT_MAX_BODY,
    ROUTES,
    Route,
    match,
)
from airflow_provider_pandora.exceptions import PandoraValidationError

log = logging.getLogger(__name__)

IDLE_TIMEOUT = 60.0
"""Seconds a keep-alive connection may stay idle (no byte of a new request) before the emulator closes it."""
READ_TIMEOUT = 30.0
"""Seconds a client has, from the first byte of a request, to send its request line and headers; also the
least time it has for a body (see :class:`ReadDeadlines`)."""
MIN_BODY_RATE = 16 * 1024
"""Bytes per second a body must average, once :data:`READ_TIMEOUT` is used up (see :class:`ReadDeadlines`)."""
DISCARD_LIMIT = 64 * 1024 * 1024
"""A body over a route's limit but below this is read and dropped so the client gets its 413."""
SINGLE_HEADERS = ("Content-Length", "Transfer-Encoding", "Authorization")
"""Fields a request may carry once: two of them (in any spelling) are how request smuggling starts, so 400."""


ADMIN_TOKEN_HEADER = "X-Emulator-Admin-Token"  # noqa: S105 - a header name
"""The header a non-loopback client sends the emulator's admin token in, to reach ``/_emulator/...``."""
DEMO_ACCESS_KEY = "pandora-demo-ak"
"""The access key the emulator accepts unless told otherwise (documented; never a real key)."""
DEMO_SECRET_KEY = "pandora-demo-sk-0123456789"  # noqa: S105 - a documented demo key
"""The secret key paired with :data:`DEMO_ACCESS_KEY`."""
DEMO_CREDENTIALS = {DEMO_ACCESS_KEY: DEMO_SECRET_KEY}
"""The public demo key pair: anyone can sign with it, so binding beyond loopback with it is warned about."""


def is_loopback(host: str | bytes | bytearray) -> bool:
    """Whether ``host`` (an address as a socket reports it) is a loopback address, IPv4-mapped ones included."""
    text = host if isinstance(host, str) else bytes(host).decode()
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


REASON_HEADER = "X-Emulator-Reason"
"""The emulator-only header that says why a request got ``401 bad token`` (the body says no more than the service's)."""


class Unauthorized(ApiError):
    """The service's answer to every authentication failure: ``401 {"error": "bad token"}``, no E-code.

    The documented body is the same for a wrong key pair, an unknown access key, an expired or forged token and
    clock skew (docs/sdk-facts.md §2, the flow.md error table), and the Go SDK maps a 401 without a known code to
    ``UnauthorizedError``. Why it was refused is kept for humans in :data:`REASON_HEADER`, the request log
    (``reason``) and the emulator's log.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(None, "bad token", status=401)
        self.reason = reason


class ReadDeadlineExpired(Exception):
    """A request was not read within its deadline (:class:`ReadDeadlines`): answered 408, the connection closed.

    Not a ``TimeoutError`` on purpose: ``http.server`` swallows those silently while reading a request line.
    """

    def __init__(self, part: str) -> None:
        super().__init__(f"the request {part} did not arrive in time")
        self.part = part


class ReadDeadlines(io.RawIOBase):
    """The socket reads of one connection, each bounded by the idle timeout and by the current request's deadline.

    A socket timeout alone bounds each ``recv``, so a client that sends one byte every few seconds (slowloris)
    would hold its thread forever. Deadlines are totals instead, which trickling cannot extend:

    * between requests, only the idle timeout applies (a keep-alive connection that sends nothing is closed
      silently after ``idle`` seconds);
    * from the first byte of a request, its request line and headers must all arrive within ``read_timeout``;
    * its body must all arrive within ``max(read_timeout, Content-Length / min_body_rate)`` from the end of the
      headers. A deadline proportional to the length, with a floor, rather than a rate measured as it goes:
      it is fixed when the body starts, so a client cannot stretch it by sending in bursts, and the floor keeps
      small bodies on slow links safe. At the defaults (30 s, 16 KiB/s) a 2 MiB push has 128 s, far more than
      any real client needs, and the largest body ever read (64 MiB, to answer 413) is bounded too.

    A read past the deadline raises :class:`ReadDeadlineExpired`, which the handler answers with 408 and a close.
    """

    def __init__(self, sock: socket.socket, *, idle: float, read_timeout: float, min_body_rate: float) -> None:
        super().__init__()
        self._sock = sock
        self.idle = idle
        self.read_timeout = read_timeout
        self.min_body_rate = min_body_rate
        self._deadline: float | None = None
        self._part = "head"
        self._arm_on_data = False

    def readable(self) -> bool:
        """Always: this is the read side of the connection."""
        return True

    def next_request(self) -> None:
        """Between requests: no deadline until the first byte of the next one arrives."""
        self._deadline = None
        self._part = "line and headers"
        self._arm_on_data = True

    def body(self, length: int) -> None:
        """A body of ``length`` bytes starts now."""
        self._arm_on_data = False
        self._part = "body"
        self._deadline = time.monotonic() + max(self.read_timeout, length / self.min_body_rate)

    def done(self) -> None:
        """The request is read: no deadline while it is answered."""
        self._arm_on_data = False
        self._deadline = None

    def readinto(self, buffer: Any) -> int:
        """One ``recv`` into ``buffer``, waiting no longer than the idle timeout and the current deadline allow."""
        deadline = self._deadline
        if deadline is None:
            self._sock.settimeout(self.idle)
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReadDeadlineExpired(self._part)
            self._sock.settimeout(min(self.idle, remaining))
        try:
            count = self._sock.recv_into(buffer)
        except TimeoutError:
            if deadline is not None:
                raise ReadDeadlineExpired(self._part) from None
            raise
        if count and self._arm_on_data:
            self._arm_on_data = False
            self._deadline = time.monotonic() + self.read_timeout
        return count


def _header_safe(text: str) -> str:
    """``text`` as one printable ASCII header value (what a client sent may hold anything)."""
    flat = " ".join(text.split())
    return flat.encode("ascii", "backslashreplace").decode("ascii")[:500]


class ConnectionHandler(BaseHTTPRequestHandler):
    """One client connection (``http.server`` makes one per connection): reads, checks and answers its requests."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT
    server_version = "pandora-emulator"
    server: EmulatorHTTPServer
    reader: ReadDeadlines

    def setup(self) -> None:
        """Read through :class:`ReadDeadlines` instead of a plain socket file, so slow clients are cut off."""
        super().setup()
        self.rfile.close()
        self.reader = ReadDeadlines(
            self.connection,
            idle=self.timeout or IDLE_TIMEOUT,
            read_timeout=self.server.read_timeout,
            min_body_rate=self.server.min_body_rate,
        )
        self.rfile = io.BufferedReader(self.reader)

    def handle_one_request(self) -> None:
        """One request, under its read deadlines; one not read in time is answered ``408`` and the connection closed."""
        self.reader.next_request()
        try:
            super().handle_one_request()
        except ReadDeadlineExpired as err:
            self.close_connection = True
            log.info("408 for %s: %s", self.address_string(), err)
            self.command = None  # type: ignore[assignment]
            self.request_version = self.protocol_version
            self.requestline = getattr(self, "requestline", "")
            with contextlib.suppress(OSError):
                self._send(error_response(self._timed_out(err)), secrets.token_hex(8))

    @staticmethod
    def _timed_out(err: ReadDeadlineExpired) -> ApiError:
        return ApiError("E18007", f"{err} (HTTP 408); the emulator closes the connection", status=408)

    def do_GET(self) -> None:
        """Answer through the route table, as every other method does."""
        self._dispatch()

    def do_POST(self) -> None:
        """Answer through the route table, as every other method does."""
        self._dispatch()

    def do_PUT(self) -> None:
        """Answer through the route table, as every other method does."""
        self._dispatch()

    def do_DELETE(self) -> None:
        """Answer through the route table, as every other method does."""
        self._dispatch()

    def do_PATCH(self) -> None:
        """Answer through the route table, as every other method does."""
        self._dispatch()  # no such route: a JSON E9001 rather than http.server's HTML 501

    def do_HEAD(self) -> None:
        """Answer through the route table, as every other method does."""
        self._dispatch()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (unreadable request line, over-long or too many headers, unknown
        methods) in the service's error contract: JSON ``{"error": "Exxxxx: ..."}`` with an ``X-Reqid``,
        instead of an HTML page a client cannot parse. The connection is closed: its framing is unknown."""
        short, long = self.responses.get(code, ("", ""))
        text = message or long or short or "the request could not be read"
        err = ApiError("E9001" if code >= 500 else "E18007", f"{text} (HTTP {code})", status=code)
        self.close_connection = True
        with contextlib.suppress(OSError):
            self._send(error_response(err), secrets.token_hex(8))

    def log_message(self, format: str, *args: Any) -> None:
        """Send ``http.server``'s access log to the debug log instead of stderr."""
        log.debug("%s " + format, self.address_string(), *args)

    # ---- one request ------------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        engine = self.server.engine
        started = time.monotonic()
        reqid = secrets.token_hex(8)
        method = self.command
        self.reader.done()
        headers = Headers(self.headers.items())
        raw_path, _, raw_query = self.path.partition("?")
        admin_call = raw_path.startswith("/_emulator/")
        entry: dict[str, Any] = {
            "method": method,
            "path": raw_path,
            "status": 0,
            "reqid": reqid,
            "user_agent": headers.get("User-Agent", ""),
            "time": engine.now_text(),
        }
        fault = None if admin_call else engine.faults.take(method, raw_path)
        if fault is not None:
            entry["fault"] = fault.action
        response: Response | None = None
        try:
            if fault is not None and fault.action == "delay":
                time.sleep(float(fault.delay_s or 0))
            route, params, known = match(ADMIN_ROUTES if admin_call else ROUTES, method, raw_path)
            self._refuse_duplicates(headers)
            body = self._read_body(route, headers)
            if fault is not None and fault.action == "drop":
                self._drop()
                return
            if fault is not None and fault.action == "error":
                raise ApiError("E9000", "injected fault (emulator)", status=fault.status or 503)
            if admin_call:
                self._check_admin(method, raw_path, headers)
            else:
                self._authenticate(method, raw_path, headers)
            if route is None:
                verb = "method not allowed" if known else "no such endpoint"
                raise ApiError("E9001", f"{verb}: {method} {raw_path}")
            query = dict(parse_qsl(raw_query, keep_blank_values=True))
            request = Request(method, raw_path, query, headers, body, route.checked_params(params))
            response = route.endpoint(engine, request)
            if fault is not None and fault.action == "commit_then_error":
                raise ApiError("E9000", "injected fault after the request was applied", status=fault.status or 503)
        except ReadDeadlineExpired as err:
            self.close_connection = True
            log.info("408 for %s %s (reqid %s): %s", method, raw_path, reqid, err)
            response = error_response(self._timed_out(err))
        except Unauthorized as err:
            response = error_response(err)
            response.headers[REASON_HEADER] = _header_safe(err.reason)
            entry["reason"] = err.reason
            log.info("401 bad token for %s %s (reqid %s): %s", method, raw_path, reqid, err.reason)
        except ApiError as err:
            response = error_response(err)
        except PandoraValidationError as err:  # the one place a shared rule's refusal becomes its E-code answer
            response = error_response(ApiError.from_validation(err))
        except Exception as err:
            log.exception("emulator error on %s %s", method, raw_path)
            response = error_response(ApiError("E9000", f"internal error: {type(err).__name__}: {err}"))
        finally:
            if response is None and not admin_call:  # dropped
                entry["duration_ms"] = round((time.monotonic() - started) * 1000, 3)
                engine.record_request(entry)
        assert response is not None
        entry["status"] = response.status
        entry["duration_ms"] = round((time.monotonic() - started) * 1000, 3)
        if not admin_call:  # before answering, so a client that reads the log sees its own call
            engine.record_request(entry)
        self._send(response, reqid)

    def _refuse_duplicates(self, headers: Headers) -> None:
        for name in SINGLE_HEADERS:
            if len(headers.get_all(name)) > 1:
                self.close_connection = True  # which framing the client meant is unknown: read no further
                code = "E18004" if name == "Content-Length" else "E18007"
                raise ApiError(code, f"the request carries {name} more than once; send it once")

    def _read_body(self, route: Route | None, headers: Headers) -> bytes:
        chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
        length_header = headers.get("Content-Length")
        if chunked:
            self.close_connection = True
            raise ApiError("E18003", "Content-Length is missing (chunked bodies are not accepted)")
        if length_header is None:
            if route is not None and route.body_required:
                raise ApiError("E18003", "Content-Length is missing")
            return b""
        try:
            length = int(length_header)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise ApiError("E18004", f"Content-Length {length_header!r} is not a byte count") from None
        limit = route.max_body if route is not None else DEFAULT_MAX_BODY
        if length <= DISCARD_LIMIT:
            self.reader.body(length)
        if length > limit:
            if length <= DISCARD_LIMIT:
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 1 << 20))
                    if not chunk:
                        break
                    remaining -= len(chunk)
            else:
                self.close_connection = True
            self.reader.done()
            raise ApiError("E18005", f"the request body is {length} bytes, over this endpoint's {limit} byte limit")
        body = self.rfile.read(length) if length else b""
        self.reader.done()
        if len(body) < length:
            self.close_connection = True
            code = route.short_body_code if route is not None else "E18004"
            raise ApiError(code, f"the body has {len(body)} bytes but Content-Length says {length}")
        return body

    def _check_admin(self, method: str, path: str, headers: Headers) -> None:
        """The unsigned admin endpoints answer loopback clients, and others only with the emulator's admin token.

        They can reset every repo and inject faults, so a client elsewhere on the network must not reach them by
        accident; 403 ``E18665`` says how to enable them.
        """
        if is_loopback(self.client_address[0]):
            return
        expected = self.server.admin_token
        sent = headers.get(ADMIN_TOKEN_HEADER)
        if expected and sent is not None and secrets.compare_digest(sent.encode(), expected.encode()):
            return
        log.warning(
            "refused admin call %s %s from %s: %s",
            method,
            path,
            self.client_address[0],
            "bad admin token" if sent else "not loopback",
        )
        how = (
            f"send the emulator's admin token in {ADMIN_TOKEN_HEADER}"
            if expected
            else f"start the emulator with --admin-token TOKEN (or PandoraEmulator(admin_token=...)) "
            f"and send it in {ADMIN_TOKEN_HEADER}"
        )
        raise ApiError(
            "E18665",
            f"the /_emulator/ admin endpoints answer loopback clients only; to call them from elsewhere, {how}",
        )

    def _authenticate(self, method: str, path: str, headers: Headers) -> None:
        engine = self.server.engine
        try:
            parsed = auth.parse_authorization(headers.get("Authorization"))
        except ValueError as err:
            raise Unauthorized(str(err)) from None
        secret = engine.credentials.get(parsed.access_key)
        if secret is None:
            raise Unauthorized(f"unknown access key {parsed.access_key!r}")
        now = engine.auth_clock()
        try:
            if parsed.is_token:
                auth.verify_token(parsed, secret, method=method, path=path, now=now)
            else:
                auth.verify_signature(
                    parsed.signature,
                    secret,
                    method=method,
                    path=path,
                    date=headers.get("Date"),
                    now=now,
                    content_type=headers.get("Content-Type", ""),
                    content_md5=headers.get("Content-MD5", ""),
                    headers=headers,
                )
        except ValueError as err:
            raise Unauthorized(str(err)) from None

    def _drop(self) -> None:
        """Close the connection without an answer (a network failure, as the client sees it)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, response: Response, reqid: str) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("X-Reqid", reqid)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except OSError:  # the client went away
            self.close_connection = True


class EmulatorHTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` that remembers its open connections, so ``stop`` can close them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        engine: Engine,
        *,
        read_timeout: float = READ_TIMEOUT,
        min_body_rate: float = MIN_BODY_RATE,
        admin_token: str | None = None,
    ) -> None:
        if read_timeout <= 0 or min_body_rate <= 0:
            raise ValueError("read_timeout and min_body_rate must be positive")
        self.engine = engine
        self.admin_token = admin_token or None
        self.read_timeout = read_timeout
        self.min_body_rate = min_body_rate
        self._open: dict[socket.socket, threading.Thread] = {}
        self._open_lock = threading.Lock()
        super().__init__(address, ConnectionHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection in its own daemon thread, remembered so ``close_connections`` can end it."""
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="pandora-emulator-connection",
            daemon=True,
        )
        with self._open_lock:
            self._open[request] = thread
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection once it is done, then close it."""
        with self._open_lock:
            self._open.pop(request, None)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open connection and wait briefly for its thread, so ``stop`` does not hang on keep-alives."""
        with self._open_lock:
            open_now = list(self._open.items())
        for sock, _ in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for _, thread in open_now:
            thread.join(timeout=5)


class EmulatorServer:
    """An :class:`Engine` behind an HTTP server, served on a background thread between ``start`` and ``stop``.

    :param tick: seconds between background passes (transforms, exports, job schedules).
    :param read_timeout: seconds from the first byte of a request to the end of its headers, and the least time
        allowed for a body (:class:`ReadDeadlines`).
    :param min_body_rate: bytes per second a body must average beyond ``read_timeout``.
    :param admin_token: lets clients that are not on loopback call the ``/_emulator/...`` admin endpoints when
        they send it in :data:`ADMIN_TOKEN_HEADER`; without it only loopback clients may.
    :param export_allow: ``HOST[:PORT]`` destinations ``http`` exports may deliver to; none by default, and never
        the server's own port (:mod:`~airflow_provider_pandora.emulator.delivery.export_allow`).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: Path,
        kodo_root: Path,
        credentials: Mapping[str, str],
        sink: bool = False,
        clock: Callable[[], float] | None = None,
        tick: float = 0.5,
        ssl_context: ssl.SSLContext | None = None,
        read_timeout: float = READ_TIMEOUT,
        min_body_rate: float = MIN_BODY_RATE,
        admin_token: str | None = None,
        export_allow: Iterable[str] = (),
    ) -> None:
        self.engine = Engine(
            data_dir, kodo_root, credentials, sink=sink, clock=clock, tick=tick, export_allow=export_allow
        )
        try:
            self.httpd = EmulatorHTTPServer(
                (host, port),
                self.engine,
                read_timeout=read_timeout,
                min_body_rate=min_body_rate,
                admin_token=admin_token,
            )
            if ssl_context is not None:
                # HTTPS, so clients' certificate checks (verify, CA bundle) can be tested for real.
                self.httpd.socket = ssl_context.wrap_socket(self.httpd.socket, server_side=True)
        except BaseException:
            self.engine.close()
            raise
        self.scheme = "https" if ssl_context is not None else "http"
        self.engine.export_policy.listening_on(int(self.httpd.server_address[1]))
        bound = self.httpd.server_address[0]
        public = [ak for ak, sk in credentials.items() if DEMO_CREDENTIALS.get(ak) == sk]
        if public and not is_loopback(bound):
            log.warning(
                "SECURITY: the Pandora emulator listens on %s, beyond loopback, and accepts the PUBLIC demo key pair "
                "(%s), which anyone can sign with: every client that can reach this address can read, push and "
                "delete data. Bind it to 127.0.0.1 (--host), or pass your own --credentials AK:SK.",
                self.url,
                ", ".join(public),
            )
        self._thread: threading.Thread | None = None
        self._serving = False
        self._stopped = False

    @property
    def url(self) -> str:
        """The base URL clients use (``http`` or ``https``, IPv6 bracketed), with the real port when 0 was asked."""
        host, port = self.httpd.server_address[:2]
        shown = host if isinstance(host, str) else host.decode()
        return f"{self.scheme}://{'[' + shown + ']' if ':' in shown else shown}:{port}"

    def start(self) -> None:
        """Serve on a background thread (tests, ``PandoraEmulator``)."""
        self.engine.runner.start()
        self._serving = True
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="pandora-emulator-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close connections, stop workers and close the database; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self._serving:
            self.httpd.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.httpd.close_connections()
        self.engine.close()
        self.httpd.server_close()
