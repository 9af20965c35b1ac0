"""Transport: signing adapters, the one failure policy, retries, response decoding and the shared async clients.

Everything that decides *whether to try again* lives here, so the hook, the sensors, the triggers, the job
operators and the transfer delivery cannot disagree about it:

* :func:`is_transient`: can a later attempt fix this failure? (transport failures, timeouts, 5xx but 501/505,
  429; never a certificate that fails verification);
* :func:`maybe_committed`: could the server have stored a push although we saw a failure?
* :func:`retrying` / :func:`aretrying`: the back-off, exponential with jitter, that applies the policy;
* :func:`send_within` / :func:`asend_within`: one attempt bounded as a whole by the connection's ``timeout``
  (requests and httpx only bound each socket operation, so a server trickling its answer held a request
  for minutes).
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import io
import json
import logging
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
import tenacity
import urllib3
import urllib3.connection
import urllib3.exceptions

from airflow_provider_pandora import __version__, auth
from airflow_provider_pandora.exceptions import (
    PandoraApiError,
    PandoraCertificateError,
    PandoraServerError,
    error_from_response,
)
from airflow_provider_pandora.hooks._connection import PandoraConnectionConfig, ssl_verify

if TYPE_CHECKING:
    import httpx

__all__ = [
    "MAX_ASYNC_IN_FLIGHT",
    "MAX_RETRY_WAIT",
    "SHARED_ASYNC_CLIENTS",
    "USER_AGENT",
    "PandoraAuth",
    "SharedAsyncClients",
    "aretrying",
    "asend_within",
    "certificate_error",
    "decode_response",
    "httpx_auth",
    "is_certificate_error",
    "is_transient",
    "maybe_committed",
    "new_session",
    "retrying",
    "send_within",
]

USER_AGENT = f"airflow-provider-pandora/{__version__} python-requests/{requests.__version__}"
#: The longest back-off between two attempts, whatever the connection's ``retry_delay``.
MAX_RETRY_WAIT = 30.0
MAX_ASYNC_IN_FLIGHT = 16
"""Requests one event loop sends at once per connection setting (and keep-alive connections it keeps).

Measured with 1,000 triggers against the emulator (benchmarks/bench_triggers.py): 32 connections cost more
in httpcore's per-request pool checks than they win; 16 still carry ~300 requests/s at 50 ms per request."""
JSON = "application/json"
#: The longest wait for a TCP (and TLS) connection, within the request's own deadline.
MAX_CONNECT_WAIT = 10.0


# --------------------------------------------------------------------------------------------
# Signing adapters (the pure signing is in auth.py)
# --------------------------------------------------------------------------------------------
class PandoraAuth(requests.auth.AuthBase):
    """``requests`` auth that signs each request just before it is sent (and on every retry)."""

    def __init__(self, access_key: str, secret_key: str) -> None:
        self.access_key = access_key
        self._secret_key = secret_key

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        """Sign the prepared request with a fresh ``Date``, so a retried request is not refused as stale."""
        r.headers.pop("Date", None)  # a retried request must carry a fresh Date
        r.headers.update(
            auth.sign_headers(self.access_key, self._secret_key, r.method or "GET", r.url or "/", r.headers)
        )
        return r

    def __repr__(self) -> str:
        return f"PandoraAuth(access_key={self.access_key!r}, secret_key='***')"


def httpx_auth(access_key: str, secret_key: str) -> httpx.Auth:
    """An ``httpx.Auth`` that signs like :class:`PandoraAuth` (imported lazily: httpx is async-only here)."""
    import httpx

    class _PandoraHttpxAuth(httpx.Auth):
        def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
            request.headers.pop("Date", None)
            request.headers.update(
                auth.sign_headers(access_key, secret_key, request.method, str(request.url), dict(request.headers))
            )
            yield request

        def __repr__(self) -> str:
            return f"PandoraHttpxAuth(access_key={access_key!r}, secret_key='***')"

    return _PandoraHttpxAuth()


# --------------------------------------------------------------------------------------------
# The failure policy
# --------------------------------------------------------------------------------------------
def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps, outermost first: urllib3's ``reason``, ``__cause__``, an exception argument
    (requests and urllib3 pass the inner error as one), else ``__context__``. Bounded, cycles skipped."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 12:
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)
        inner = next((arg for arg in current.args if isinstance(arg, BaseException)), None)
        current = (
            (reason if isinstance(reason, BaseException) else None)
            or current.__cause__
            or inner
            or (None if current.__suppress_context__ else current.__context__)
        )


def is_certificate_error(exc: BaseException) -> bool:
    """Whether a requests/httpx error comes from a server certificate that failed verification."""
    return any(isinstance(err, (PandoraCertificateError, ssl.SSLCertVerificationError)) for err in _causes(exc))


def _broken_answer_errors() -> tuple[type[BaseException], ...]:
    """Every way a connection or an answer breaks in the clients used here (a retry may well succeed).

    requests: refused/dropped connections and timeouts, and ``ChunkedEncodingError`` (an answer cut mid-body);
    urllib3 and http.client underneath (when they surface unwrapped): ``ProtocolError``, ``IncompleteRead``,
    timeouts; a bare ``ConnectionError`` (refused, reset, aborted); every httpx transport error (``ReadError``,
    ``RemoteProtocolError``, timeouts...).
    """
    errors: tuple[type[BaseException], ...] = (
        requests.ConnectionError,
        requests.Timeout,
        requests.exceptions.ChunkedEncodingError,
        urllib3.exceptions.ProtocolError,
        urllib3.exceptions.TimeoutError,  # connect (and NewConnectionError) and read timeouts
        http.client.IncompleteRead,  # urllib3's IncompleteRead and InvalidChunkLength too
        ConnectionError,
    )
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is a dependency
        return errors
    return (*errors, httpx.TransportError)


def _nothing_sent_errors() -> tuple[type[BaseException], ...]:
    """Failures that happen before a byte of the request leaves: no connection was ever made."""
    errors: tuple[type[BaseException], ...] = (
        requests.ConnectTimeout,
        urllib3.exceptions.ConnectTimeoutError,  # and NewConnectionError, its subclass (refused, DNS)
        ConnectionRefusedError,
    )
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is a dependency
        return errors
    return (*errors, httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


#: 501 (E9001, no such endpoint or method) and 505: the service did nothing, and answers the same every time.
_UNSUPPORTED = frozenset({501, 505})


def is_transient(exc: BaseException) -> bool:
    """The one rule for what a later attempt can fix: a broken connection or answer, a timeout, 5xx and 429.

    "Broken" is every way a connection or an answer can break (:func:`_broken_answer_errors`), an answer cut
    mid-body included. Not a certificate that fails verification (a transport failure no retry fixes), nor 501
    (E9001, no such endpoint or method) and 505, which answer the same however often they are asked.
    """
    if is_certificate_error(exc):
        return False
    if isinstance(exc, PandoraServerError):
        return exc.status_code not in _UNSUPPORTED
    if isinstance(exc, PandoraApiError):
        return exc.status_code == 429
    return isinstance(exc, _broken_answer_errors())


def maybe_committed(exc: BaseException | None) -> bool:
    """Could the server have stored a push although this failure was seen?

    Yes after a 5xx, a timeout once the request was on its way, a connection dropped or an answer cut short
    (the server may have stored the batch before its answer broke). No when nothing was sent: a refused
    connection (requests wraps ``ConnectionRefusedError`` in ``NewConnectionError``, the whole chain is
    looked at), a connect timeout, a certificate refusal; nor for anything not transient.
    """
    if exc is None or not is_transient(exc):
        return False
    if isinstance(exc, PandoraApiError):
        return exc.status_code >= 500
    before = _nothing_sent_errors()
    return not any(isinstance(err, before) for err in _causes(exc))


def certificate_error(exc: BaseException, endpoint: str) -> PandoraCertificateError | None:
    """The error to raise instead of ``exc`` when it is a certificate refusal (it says to set ``ca_bundle``)."""
    if isinstance(exc, PandoraCertificateError) or not is_certificate_error(exc):
        return None
    return PandoraCertificateError(endpoint, str(exc))


RetryLog = Callable[[tenacity.RetryCallState], None]


def _policy(attempts: int, delay: float, before_sleep: RetryLog | None) -> dict[str, Any]:
    return {
        "stop": tenacity.stop_after_attempt(max(1, attempts)),
        # Exponential backoff plus jitter, spelled so that tenacity 8 and 9 agree (9.2 deprecates
        # wait_exponential_jitter's ``initial``).
        "wait": tenacity.wait_exponential(multiplier=delay, max=MAX_RETRY_WAIT) + tenacity.wait_random(0, delay),
        "retry": tenacity.retry_if_exception(is_transient),
        "reraise": True,
        "before_sleep": before_sleep,
    }


def retrying(attempts: int, delay: float, *, before_sleep: RetryLog | None = None) -> tenacity.Retrying:
    """Up to ``attempts`` tries of a call, backing off from ``delay`` seconds, while :func:`is_transient` says so."""
    return tenacity.Retrying(**_policy(attempts, delay, before_sleep))


def aretrying(attempts: int, delay: float, *, before_sleep: RetryLog | None = None) -> tenacity.AsyncRetrying:
    """The async twin of :func:`retrying`."""
    return tenacity.AsyncRetrying(**_policy(attempts, delay, before_sleep))


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------
def decode_response(
    method: str, path: str, status: int, content: bytes, headers: Mapping[str, str], log: logging.Logger | Any
) -> tuple[Any, str | None]:
    """The JSON body (``{}`` when empty) and ``X-Reqid`` of a 200; else the exception of its E-code, raised."""
    reqid = headers.get("X-Reqid")
    if status != 200:
        err = error_from_response(status, content, reqid)
        log.debug("Pandora %s %s -> %s %s", method, path, status, err.code or "")
        raise err
    log.debug("Pandora %s %s -> 200 (reqid %s)", method, path, reqid)
    if not content.strip():
        return {}, reqid
    try:
        return json.loads(content), reqid
    except ValueError:
        return {"raw": content.decode("utf-8", "replace")}, reqid


# --------------------------------------------------------------------------------------------
# Request deadlines
# --------------------------------------------------------------------------------------------
class _Deadline:
    """When one attempt must be over, and whether any of it was sent (a per-thread setting: see below)."""

    __slots__ = ("at", "expired", "seconds", "sent")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.sent = False
        self.expired = False

    def left(self) -> float:
        """Seconds left for the next socket operation; ``TimeoutError`` once the deadline has passed."""
        left = self.at - time.monotonic()
        if left <= 0:
            self.expired = True
            raise TimeoutError(f"the request's {self.seconds:g} s deadline passed")
        return left

    def error(self) -> requests.Timeout | None:
        """What to raise for a failure once the deadline has passed (``None``: it has not, keep the failure).

        ``ConnectTimeout`` when not a byte was sent (the server cannot have acted), else ``ReadTimeout``.
        """
        if not self.expired:
            return None
        message = f"no complete answer within {self.seconds:g} s (the connection's timeout bounds the whole request)"
        return requests.ReadTimeout(message) if self.sent else requests.ConnectTimeout(message)


#: The deadline of the request this thread is sending (a session is shared by the transfer's worker threads,
#: and each connection is used by one thread at a time).
_DEADLINES = threading.local()


def _deadline() -> _Deadline | None:
    return getattr(_DEADLINES, "current", None)


class _DeadlineReader(io.RawIOBase):
    """The socket reads of one answer, each bounded by what is left of the request's deadline.

    requests' read timeout is per ``recv``: a byte every few seconds kept a request alive indefinitely.
    """

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, deadline: _Deadline) -> None:
        super().__init__()
        self._raw = raw
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(self._deadline.left())
        try:
            return self._raw.readinto(buffer)
        except TimeoutError:
            self._deadline.expired = True  # the socket waited for exactly what was left
            raise

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    """http.client's answer, reading the socket through :class:`_DeadlineReader` while a deadline is set."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        deadline = _deadline()
        if deadline is not None:
            self.fp = io.BufferedReader(_DeadlineReader(self.fp.detach(), sock, deadline))  # type: ignore[arg-type]


class _DeadlineSending:
    """Sends the request within what is left of the deadline (the connect itself has its own timeout)."""

    sock: socket.socket | None
    timeout: float | None

    def send(self, data: Any) -> None:
        deadline = _deadline()
        if deadline is not None:
            if self.sock is None:
                self.connect()  # type: ignore[attr-defined]
            assert self.sock is not None
            self.sock.settimeout(deadline.left())  # sendall is bounded as a whole by the socket timeout
            deadline.sent = True
        elif self.sock is not None:
            self.sock.settimeout(self.timeout)  # not what an earlier request's deadline left on a kept-alive socket
        try:
            super().send(data)  # type: ignore[misc]
        except TimeoutError:
            if deadline is not None:
                deadline.expired = True
            raise


class _DeadlineHTTPConnection(_DeadlineSending, urllib3.connection.HTTPConnection):
    response_class = _DeadlineResponse


class _DeadlineHTTPSConnection(_DeadlineSending, urllib3.connection.HTTPSConnection):
    response_class = _DeadlineResponse


class DeadlineHTTPConnectionPool(urllib3.HTTPConnectionPool):
    """urllib3's pool with :class:`_DeadlineHTTPConnection` (its name shows in requests' error messages)."""

    ConnectionCls = _DeadlineHTTPConnection


class DeadlineHTTPSConnectionPool(urllib3.HTTPSConnectionPool):
    """urllib3's TLS pool with :class:`_DeadlineHTTPSConnection`."""

    ConnectionCls = _DeadlineHTTPSConnection


_DEADLINE_POOLS = {"http": DeadlineHTTPConnectionPool, "https": DeadlineHTTPSConnectionPool}


class _DeadlineAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter whose connections honour :func:`send_within`'s deadline (direct and HTTP(S) proxies)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _DEADLINE_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> urllib3.ProxyManager:
        manager: urllib3.ProxyManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools have their own connections: per-read timeouts only
            manager.pool_classes_by_scheme = _DEADLINE_POOLS
        return manager


def send_within(session: requests.Session, seconds: float, method: str, url: str, **kwargs: Any) -> requests.Response:
    """``session.request`` (a :func:`new_session`) bounded as a whole by ``seconds``: connect, send and read.

    Past the deadline it raises ``requests.ConnectTimeout`` if nothing was sent yet, else ``requests.ReadTimeout``
    (both transient; only the second "may have been stored"). The connect alone waits at most
    :data:`MAX_CONNECT_WAIT`; name resolution is not bounded.
    """
    deadline = _Deadline(seconds)
    outer, _DEADLINES.current = _deadline(), deadline
    try:
        return session.request(method, url, timeout=(min(MAX_CONNECT_WAIT, seconds), seconds), **kwargs)
    except Exception as exc:
        late = deadline.error()
        if late is None:
            raise
        raise late from exc
    finally:
        _DEADLINES.current = outer


async def asend_within(
    client: httpx.AsyncClient, seconds: float, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    """``client.request`` bounded as a whole by ``seconds``, as :func:`send_within` is for requests.

    Past the deadline it raises ``httpx.ConnectTimeout`` if no request headers were being sent yet, else
    ``httpx.ReadTimeout`` (an httpx trace tells the two apart).
    """
    import httpx

    sent = False

    async def trace(event: str, info: Mapping[str, Any]) -> None:
        nonlocal sent
        sent = sent or "send_request_headers" in event

    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            return await client.request(method, url, extensions={"trace": trace}, **kwargs)
    except TimeoutError as exc:  # httpx's own timeouts are httpx.TimeoutException, not this
        if not deadline.expired():
            raise
        message = f"no complete answer within {seconds:g} s (the connection's timeout bounds the whole request)"
        raise (httpx.ReadTimeout if sent else httpx.ConnectTimeout)(message) from exc


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------
def new_session(config: PandoraConnectionConfig) -> requests.Session:
    """A pooled, signed keep-alive session for one hook, whose requests :func:`send_within` can bound."""
    session = requests.Session()
    session.auth = PandoraAuth(config.access_key, config.secret_key)
    session.headers["User-Agent"] = USER_AGENT
    session.verify = config.verify
    adapter = _DeadlineAdapter(pool_connections=4, pool_maxsize=16)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass
class _Pooled:
    """One shared client, the hooks using it, and the gate its requests pass."""

    client: httpx.AsyncClient
    gate: asyncio.Semaphore
    users: int = 0


class SharedAsyncClients:
    """One ``httpx.AsyncClient`` per event loop and connection settings, shared by the hooks in that loop.

    Why: building a client loads the CA bundle (about 25 ms of CPU, on the event loop) and opens a pool of
    its own, so a triggerer waiting on a thousand Pandora jobs (a hook per trigger) would stall its loop
    for half a minute and hold a thousand connections. Clients are reference-counted: the last hook to
    close closes the client, so none outlives its users; a loop that is gone takes its clients with it.

    Each client comes with a gate of :data:`MAX_ASYNC_IN_FLIGHT` requests: httpcore matches its queued
    requests against its connections on every change (quadratic), so a thousand requests queued in the
    pool itself would cost seconds of CPU; waiting at the gate costs nothing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], _Pooled]] = (
            weakref.WeakKeyDictionary()
        )

    @staticmethod
    def _key(config: PandoraConnectionConfig) -> tuple[Any, ...]:
        # The secret key is part of the client (its auth); keyed by a digest so no copy of it is kept here.
        secret = hashlib.sha256(config.secret_key.encode("utf-8")).hexdigest()
        return (config.endpoint, config.access_key, secret, config.verify, config.timeout)

    def acquire(self, config: PandoraConnectionConfig) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        """The loop's client for these settings (built on first use) and its gate; pair with :meth:`release`."""
        import httpx

        loop = asyncio.get_running_loop()
        key = self._key(config)
        with self._lock:
            clients = self._by_loop.setdefault(loop, {})
            entry = clients.get(key)
            if entry is None or entry.client.is_closed:
                client = httpx.AsyncClient(
                    base_url=config.endpoint,
                    auth=httpx_auth(config.access_key, config.secret_key),
                    headers={"User-Agent": USER_AGENT.replace("python-requests", "python-httpx")},
                    verify=ssl_verify(config.verify),
                    timeout=httpx.Timeout(config.timeout, connect=min(MAX_CONNECT_WAIT, config.timeout)),
                    limits=httpx.Limits(
                        max_connections=MAX_ASYNC_IN_FLIGHT, max_keepalive_connections=MAX_ASYNC_IN_FLIGHT
                    ),
                )
                entry = clients[key] = _Pooled(client, asyncio.Semaphore(MAX_ASYNC_IN_FLIGHT))
            entry.users += 1
            return entry.client, entry.gate

    async def release(self, client: httpx.AsyncClient) -> None:
        """One hook lets go; the last one closes the client."""
        close = True
        with self._lock:
            for clients in self._by_loop.values():
                for key, entry in list(clients.items()):
                    if entry.client is client:
                        entry.users -= 1
                        close = entry.users <= 0
                        if close:
                            del clients[key]
                        break
        if close:
            await client.aclose()

    def open_clients(self) -> int:
        """How many shared clients are open, over all loops (for tests and diagnostics)."""
        with self._lock:
            return sum(len(clients) for clients in self._by_loop.values())


SHARED_ASYNC_CLIENTS = SharedAsyncClients()
