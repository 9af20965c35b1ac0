"""Transport: signing adapters, the one failure policy, retries, response decoding and the shared async clients.

Everything that decides *whether to try again* lives here, so the hook, the sensors, the triggers, the job
operators and the transfer delivery cannot disagree about it:

* :func:`is_transient`: can a later attempt fix this failure? (transport failures, timeouts, 5xx but 501/505,
  429; never a certificate that fails verification);
* :func:`maybe_committed`: could the server have stored a push although we saw a failure?
* :func:`retrying` / :func:`aretrying`: the back-off, exponential with jitter, that applies the policy.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import ssl
import threading
import weakref
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
import tenacity

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
    "certificate_error",
    "decode_response",
    "httpx_auth",
    "is_certificate_error",
    "is_transient",
    "maybe_committed",
    "new_session",
    "retrying",
]

USER_AGENT = f"airflow-provider-pandora/{__version__} python-requests/{requests.__version__}"
#: The longest back-off between two attempts, whatever the connection's ``retry_delay``.
MAX_RETRY_WAIT = 30.0
MAX_ASYNC_IN_FLIGHT = 16
"""Requests one event loop sends at once per connection setting (and keep-alive connections it keeps).

Measured with 1,000 triggers against the emulator (benchmarks/bench_triggers.py): 32 connections cost more
in httpcore's per-request pool checks than they win; 16 still carry ~300 requests/s at 50 ms per request."""
JSON = "application/json"


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
def is_certificate_error(exc: BaseException) -> bool:
    """Whether a requests/httpx error comes from a server certificate that failed verification."""
    if isinstance(exc, PandoraCertificateError):
        return True
    seen: BaseException | None = exc
    for _ in range(8):  # requests and httpx wrap the ssl error a few levels deep
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        reason = getattr(seen, "reason", None)  # urllib3's MaxRetryError
        inner = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = (reason if isinstance(reason, BaseException) else None) or seen.__cause__ or seen.__context__ or inner
    return False


def _httpx_errors() -> tuple[type[BaseException], ...]:
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is a dependency
        return ()
    return (httpx.TransportError,)


#: 501 (E9001, no such endpoint or method) and 505: the service did nothing, and answers the same every time.
_UNSUPPORTED = frozenset({501, 505})


def is_transient(exc: BaseException) -> bool:
    """The one rule for what a later attempt can fix: transport failures, timeouts, 5xx and 429.

    Not a certificate that fails verification (a transport failure no retry fixes), nor 501 (E9001, no such
    endpoint or method) and 505, which answer the same however often they are asked.
    """
    if is_certificate_error(exc):
        return False
    if isinstance(exc, PandoraServerError):
        return exc.status_code not in _UNSUPPORTED
    if isinstance(exc, PandoraApiError):
        return exc.status_code == 429
    return isinstance(exc, (requests.ConnectionError, requests.Timeout, *_httpx_errors()))


def maybe_committed(exc: BaseException | None) -> bool:
    """Could the server have stored a push although this failure was seen?

    A 5xx, a read timeout or a connection dropped after sending may all follow a stored batch; a refused
    connection attempt, a connect timeout or a certificate refusal happen before a byte of the body is sent.
    """
    if exc is None or is_certificate_error(exc):
        return False
    if isinstance(exc, PandoraApiError):
        return exc.status_code >= 500 and exc.status_code not in _UNSUPPORTED
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return True
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is a dependency
        return False
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return False
    return isinstance(exc, httpx.TransportError)


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
# Clients
# --------------------------------------------------------------------------------------------
def new_session(config: PandoraConnectionConfig) -> requests.Session:
    """A pooled, signed keep-alive session for one hook."""
    session = requests.Session()
    session.auth = PandoraAuth(config.access_key, config.secret_key)
    session.headers["User-Agent"] = USER_AGENT
    session.verify = config.verify
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
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
                    timeout=httpx.Timeout(config.timeout, connect=min(10.0, config.timeout)),
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
