"""The one failure policy: what a later attempt can fix, and what a failed push may have stored anyway.

Every waiter and sender (hook retries, sensors, triggers, job operators, transfer delivery) asks these two
functions, so this table is the whole contract.
"""

from __future__ import annotations

import asyncio
import http.client
import pickle
import ssl
import time
from collections.abc import Callable

import httpx
import pytest
import requests
import tenacity
import urllib3
import urllib3.connection
import urllib3.exceptions

from airflow_provider_pandora.exceptions import (
    PandoraApiError,
    PandoraAuthError,
    PandoraCertificateError,
    PandoraInvalidRequestError,
    PandoraNotFoundError,
    PandoraServerError,
    PandoraValidationError,
)
from airflow_provider_pandora.hooks._connection import PandoraConnectionConfig
from airflow_provider_pandora.hooks._transport import (
    asend_within,
    certificate_error,
    is_certificate_error,
    is_transient,
    maybe_committed,
    new_session,
    retrying,
    send_within,
)
from airflow_provider_pandora.hooks.pandora import PandoraHook
from tests.misbehaving_server import Mode, closed_port_url, misbehaving_server


def _ssl_error() -> requests.exceptions.SSLError:
    """A certificate refusal as requests raises it: the ssl error wrapped a few levels deep."""
    inner = ssl.SSLCertVerificationError(1, "certificate verify failed: self-signed certificate")
    try:
        try:
            raise inner
        except ssl.SSLError as err:
            raise requests.exceptions.SSLError(err) from err
    except requests.exceptions.SSLError as outer:
        return outer


def _httpx_ssl_error() -> httpx.ConnectError:
    try:
        try:
            raise ssl.SSLCertVerificationError(1, "certificate verify failed")
        except ssl.SSLError as err:
            raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]") from err
    except httpx.ConnectError as outer:
        return outer


CASES: list[tuple[str, BaseException, bool, bool]] = [
    # name, error, transient, maybe committed
    ("503", PandoraServerError("busy", status_code=503), True, True),
    ("500", PandoraServerError("oops", status_code=500), True, True),
    ("429", PandoraApiError("slow down", status_code=429), True, False),
    ("501", PandoraServerError("no such endpoint", status_code=501, code="E9001"), False, False),
    ("505", PandoraServerError("version", status_code=505), False, False),
    ("400", PandoraInvalidRequestError("bad", status_code=400), False, False),
    ("401", PandoraAuthError("who", status_code=401), False, False),
    ("404", PandoraNotFoundError("gone", status_code=404), False, False),
    ("local validation", PandoraValidationError("repo", "bad name"), False, False),
    # a bare requests.ConnectionError says nothing of how far the request got: it may have been stored
    ("requests connection error, cause unknown", requests.ConnectionError("dropped"), True, True),
    ("requests read timeout", requests.ReadTimeout("slow"), True, True),
    ("requests connect timeout", requests.ConnectTimeout("no route"), True, False),
    ("requests certificate", _ssl_error(), False, False),
    ("httpx connect error", httpx.ConnectError("refused"), True, False),
    ("httpx read timeout", httpx.ReadTimeout("slow"), True, True),
    ("httpx dropped", httpx.RemoteProtocolError("peer closed"), True, True),
    ("httpx certificate", _httpx_ssl_error(), False, False),
    ("our certificate error", PandoraCertificateError("https://x", "self-signed"), False, False),
    ("httpx read error", httpx.ReadError("reset"), True, True),
    ("httpx pool timeout", httpx.PoolTimeout("no free connection"), True, False),
    ("a bug", KeyError("x"), False, False),
    ("a bare timeout is no transport failure", TimeoutError("asyncio"), False, False),
]


def _raised(outer: Callable[[Exception], Exception], inner: Exception) -> Exception:
    """``outer(inner)`` raised while handling ``inner``, so its chain is what the library leaves."""
    try:
        try:
            raise inner
        except Exception as err:
            raise outer(err) from err
    except Exception as wrapped:
        return wrapped


# The ways an answer breaks, built as urllib3 and http.client raise them (urllib3 2: ``raise ProtocolError(
# f"Connection broken: {e!r}", e) from e``; requests wraps a refused connect as ConnectionError(MaxRetryError(
# reason=NewConnectionError)) and a body cut short as ChunkedEncodingError(ProtocolError)).
def _refused_chain() -> BaseException:
    conn = urllib3.connection.HTTPConnection("127.0.0.1", 9)
    new_conn = _raised(
        lambda e: urllib3.exceptions.NewConnectionError(conn, f"Failed to establish a new connection: {e}"),
        ConnectionRefusedError(111, "Connection refused"),
    )
    retries = urllib3.exceptions.MaxRetryError(urllib3.HTTPConnectionPool("127.0.0.1", 9), "/v2/repos/r", new_conn)
    return _raised(lambda e: requests.ConnectionError(e), retries)


def _cut_chain() -> BaseException:
    broken = _raised(
        lambda e: urllib3.exceptions.ProtocolError(f"Connection broken: {e!r}", e),
        ConnectionResetError(104, "Connection reset by peer"),
    )
    return _raised(lambda e: requests.exceptions.ChunkedEncodingError(e), broken)


CASES += [
    ("requests chunked encoding (answer cut mid-body)", _cut_chain(), True, True),
    (
        "urllib3 protocol error",
        urllib3.exceptions.ProtocolError("Connection broken", ConnectionResetError()),
        True,
        True,
    ),
    ("urllib3 incomplete read", urllib3.exceptions.IncompleteRead(1, 1), True, True),
    ("http.client incomplete read", http.client.IncompleteRead(b"{", 1), True, True),
    ("http.client remote disconnected", http.client.RemoteDisconnected("closed without answer"), True, True),
    ("connection reset", ConnectionResetError(104, "reset"), True, True),
    ("requests connection refused (chain)", _refused_chain(), True, False),
    (
        "urllib3 new connection error",
        urllib3.exceptions.NewConnectionError(urllib3.connection.HTTPConnection("127.0.0.1", 9), "refused"),
        True,
        False,
    ),
    ("connection refused", ConnectionRefusedError(111, "refused"), True, False),
    (
        "requests aborted before an answer",
        _raised(
            lambda e: requests.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted.", e)),
            http.client.RemoteDisconnected("closed"),
        ),
        True,
        True,
    ),
]


@pytest.mark.parametrize(("name", "error", "transient", "committed"), CASES, ids=[c[0] for c in CASES])
def test_policy_table(name: str, error: BaseException, transient: bool, committed: bool) -> None:
    assert is_transient(error) is transient
    assert maybe_committed(error) is committed
    assert PandoraHook.is_retryable(error) is transient  # the old name is the same rule


def test_certificate_refusals_become_one_error_with_the_hint() -> None:
    for raw in (_ssl_error(), _httpx_ssl_error()):
        assert is_certificate_error(raw)
        err = certificate_error(raw, "https://pandora.example")
        assert isinstance(err, PandoraCertificateError)
        assert "https://pandora.example" in str(err)
        assert "ca_bundle" in str(err)
        clone = pickle.loads(pickle.dumps(err))  # it crosses process boundaries (Celery, triggerer)
        assert str(clone) == str(err)
    assert certificate_error(requests.ConnectionError("refused"), "https://x") is None


def test_retrying_stops_at_a_permanent_failure_and_retries_a_transient_one() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise PandoraServerError("busy", status_code=503)
        return "ok"

    assert retrying(5, 0.001)(flaky) == "ok"
    assert len(calls) == 3

    calls.clear()

    def refused() -> None:
        calls.append(1)
        raise PandoraServerError("no such endpoint", status_code=501)

    with pytest.raises(PandoraServerError):
        retrying(5, 0.001)(refused)
    assert len(calls) == 1


def test_retrying_gives_up_after_its_attempts_and_reports_each_retry() -> None:
    seen: list[int] = []

    def note(state: tenacity.RetryCallState) -> None:
        seen.append(state.attempt_number)

    def down() -> None:
        raise requests.ConnectionError("refused")

    with pytest.raises(requests.ConnectionError):
        retrying(3, 0.001, before_sleep=note)(down)
    assert seen == [1, 2]


def test_a_cause_chain_that_loops_is_walked_once() -> None:
    err = requests.ConnectionError("dropped")
    inner = ConnectionResetError(104, "reset")
    err.__cause__, inner.__context__ = inner, err
    assert is_transient(err)
    assert maybe_committed(err)
    assert maybe_committed(None) is False


# ---- the same failures, as real sockets produce them -------------------------------------------
def _sync_error(url: str, seconds: float = 5.0) -> BaseException:
    """What a push through the hook's session raises against ``url`` (bounded by ``seconds``)."""
    config = PandoraConnectionConfig(endpoint=url, access_key="ak", secret_key="sk")
    session = new_session(config)
    try:
        send_within(session, seconds, "POST", f"{url}/v2/repos/r/data", data=b"a=1\n")
    except Exception as exc:
        return exc
    finally:
        session.close()
    raise AssertionError("the push succeeded")


def _async_error(url: str, seconds: float = 5.0) -> BaseException:
    """The same push through httpx, as the shared async client sends it."""

    async def push() -> BaseException:
        async with httpx.AsyncClient(base_url=url) as client:
            try:
                await asend_within(client, seconds, "POST", "/v2/repos/r/data", content=b"a=1\n")
            except Exception as exc:
                return exc
        raise AssertionError("the push succeeded")

    return asyncio.run(push())


def _served(mode: Mode, send: Callable[[str], BaseException], *, requests_seen: int | None = None) -> BaseException:
    with misbehaving_server(mode) as server:
        err = send(server.url)
        if requests_seen is not None:
            assert server.requests == requests_seen
        return err


REAL: list[tuple[str, Callable[[], BaseException], type[BaseException], bool, bool]] = [
    # name, how, what is raised, transient, maybe committed
    (
        "requests, cut mid-body",
        lambda: _served("reset", _sync_error),
        requests.exceptions.ChunkedEncodingError,
        True,
        True,
    ),
    ("httpx, cut mid-body", lambda: _served("reset", _async_error), httpx.TransportError, True, True),
    ("requests, refused", lambda: _sync_error(closed_port_url()), requests.ConnectionError, True, False),
    ("httpx, refused", lambda: _async_error(closed_port_url()), httpx.ConnectError, True, False),
    (
        "requests, deadline while reading",
        lambda: _served("trickle", lambda url: _sync_error(url, 0.5), requests_seen=1),
        requests.ReadTimeout,
        True,
        True,
    ),
    (
        "httpx, deadline while reading",
        lambda: _served("trickle", lambda url: _async_error(url, 0.5), requests_seen=1),
        httpx.ReadTimeout,
        True,
        True,
    ),
    (
        "requests, deadline before sending",
        lambda: _served("trickle", lambda url: _sync_error(url, 1e-9), requests_seen=0),
        requests.ConnectTimeout,
        True,
        False,
    ),
    (
        "httpx, deadline before sending",
        lambda: _served("trickle", lambda url: _async_error(url, 1e-9), requests_seen=0),
        httpx.ConnectTimeout,
        True,
        False,
    ),
]


@pytest.mark.parametrize(("name", "make", "kind", "transient", "committed"), REAL, ids=[c[0] for c in REAL])
def test_policy_on_real_sockets(
    name: str, make: Callable[[], BaseException], kind: type[BaseException], transient: bool, committed: bool
) -> None:
    started = time.monotonic()
    error = make()
    assert isinstance(error, kind), repr(error)
    assert is_transient(error) is transient
    assert maybe_committed(error) is committed
    assert time.monotonic() - started < 5  # bounded, well before the trickle's 8 s
