"""The connection's ``timeout`` bounds a whole request, and broken answers are retried and counted right.

Against loopback servers that break their answers on purpose (``tests/misbehaving_server.py``): one trickling
its answer a byte every 0.2 s (for 8 s, then the rest at once), one resetting the connection after ``200``
headers and one byte of body, and a port nothing listens on. The timings asserted are bounds with generous
slack (the deadline, not the trickle, must end the request), never benchmarks.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
import requests

from airflow_provider_pandora.hooks._transport import is_transient, maybe_committed
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.sensors import PandoraJobSensor
from airflow_provider_pandora.transfers._delivery import Sender, Sent
from tests.misbehaving_server import Mode, closed_port_url, misbehaving_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TIMEOUT = 1.0
#: Far below the trickle's 8 s, far above the 1 s deadline: bounded, not fast.
BOUND = 3 * TIMEOUT
BODY = b"a=1\nb=2\n"
POINTS = 2
log = logging.getLogger(__name__)
Connect = Callable[..., PandoraHook]


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch) -> Iterator[Connect]:
    """``connect(url, **extra)``: a hook on ``pandora_default`` pointing at ``url`` (closed afterwards)."""
    hooks: list[PandoraHook] = []

    def make(url: str, **extra: float) -> PandoraHook:
        extra = {"timeout": TIMEOUT, "retry_limit": 1, "retry_delay": 0.01, **extra}
        conn = {"conn_type": "pandora", "host": url, "login": "ak", "password": "sk", "extra": extra}
        monkeypatch.setenv("AIRFLOW_CONN_PANDORA_DEFAULT", json.dumps(conn))
        hooks.append(PandoraHook())
        return hooks[-1]

    yield make
    for hook in hooks:
        hook.close()


def _elapsed(started: float) -> float:
    return time.monotonic() - started


# ---- reproduction 4: a trickling answer cannot hold a request past the timeout --------------------
@pytest.mark.parametrize("mode", ["trickle", "trickle-body"])
def test_sync_get_repo_is_bounded_by_the_timeout(connect: Connect, mode: Mode) -> None:
    with misbehaving_server(mode) as server:
        hook = connect(server.url)
        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout) as caught:
            hook.get_repo("r")  # before: the whole trickle (8 s), then a success
        elapsed = _elapsed(started)
    assert elapsed < BOUND, elapsed
    assert "1 s" in str(caught.value)
    assert is_transient(caught.value)


@pytest.mark.parametrize("mode", ["trickle", "trickle-body"])
async def test_async_arequest_is_bounded_by_the_timeout(connect: Connect, mode: Mode) -> None:
    with misbehaving_server(mode) as server:
        hook = connect(server.url)
        started = time.monotonic()
        try:
            with pytest.raises(httpx.ReadTimeout) as caught:
                await hook.arequest("GET", "/v2/repos/r")
        finally:
            await hook.aclose()
        elapsed = _elapsed(started)
    assert elapsed < BOUND, elapsed
    assert is_transient(caught.value)


def test_push_batch_is_bounded_and_may_have_been_stored(connect: Connect) -> None:
    with misbehaving_server("trickle") as server:
        hook = connect(server.url)
        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout) as caught:
            hook.push_batch("r", BODY)
        elapsed = _elapsed(started)
        assert server.bodies == [BODY]  # the body was sent whole before the deadline passed
    assert elapsed < BOUND, elapsed
    assert maybe_committed(caught.value)


def test_each_retry_gets_its_own_deadline(connect: Connect) -> None:
    with misbehaving_server("trickle") as server:
        hook = connect(server.url, retry_limit=2)
        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout):
            hook.get_repo("r")
        elapsed = _elapsed(started)
        assert server.requests == 2
    assert elapsed < 2 * BOUND, elapsed


def test_delivery_of_a_transfer_is_bounded_and_counts_what_may_be_stored(connect: Connect) -> None:
    with misbehaving_server("trickle") as server:
        sender = Sender(connect(server.url), "r", gzip=False, attempts=2, log=log)
        sent = Sent()
        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout):
            sender.post(BODY, POINTS, sent)
        elapsed = _elapsed(started)
        assert server.requests == 2
    assert elapsed < 2 * BOUND, elapsed
    assert sent.retries == 1
    assert sent.possible_duplicates == 2 * POINTS


def test_a_sensor_polls_again_when_the_deadline_passes(connect: Connect) -> None:
    with misbehaving_server("trickle") as server:
        connect(server.url)
        sensor = PandoraJobSensor(task_id="job", repo="r", job="j", timeout=600)
        started = time.monotonic()
        assert sensor.poke({}) is False
        assert _elapsed(started) < BOUND


# ---- reproduction 3: an answer cut mid-body is transient, and a push cut so may have been stored ---
def test_an_idempotent_call_retries_an_answer_cut_mid_body(connect: Connect) -> None:
    with misbehaving_server("reset") as server:
        hook = connect(server.url, retry_limit=3)
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            hook.get_repo("r")
        assert server.requests == 3  # before: 1, the cut answer was not retried


async def test_an_async_call_retries_an_answer_cut_mid_body(connect: Connect) -> None:
    with misbehaving_server("reset") as server:
        hook = connect(server.url, retry_limit=3)
        try:
            with pytest.raises(httpx.TransportError):
                await hook.arequest("GET", "/v2/repos/r")
        finally:
            await hook.aclose()
        assert server.requests == 3


def test_a_sensor_polls_again_after_an_answer_cut_mid_body(connect: Connect) -> None:
    with misbehaving_server("reset") as server:
        connect(server.url)
        sensor = PandoraJobSensor(task_id="job", repo="r", job="j", timeout=600)
        assert sensor.poke({}) is False  # before: ChunkedEncodingError failed the sensor


def test_a_push_cut_mid_answer_is_retried_and_counted_as_possibly_stored(connect: Connect) -> None:
    with misbehaving_server("reset") as server:
        sender = Sender(connect(server.url), "r", gzip=False, attempts=3, log=log)
        sent = Sent()
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            sender.post(BODY, POINTS, sent)
        assert server.bodies == [BODY] * 3  # before: 1 try, no retry
    assert sent.retries == 2
    assert sent.possible_duplicates == 3 * POINTS  # before: 0, every try may have been stored


# ---- reproduction 5: a refused connection sent nothing, so it stored nothing ----------------------
def test_a_refused_push_is_retried_but_never_counted_as_possibly_stored(connect: Connect) -> None:
    sender = Sender(connect(closed_port_url()), "r", gzip=False, attempts=3, log=log)
    sent = Sent()
    with pytest.raises(requests.ConnectionError) as caught:
        sender.post(BODY, POINTS, sent)
    assert sent.retries == 2
    assert sent.possible_duplicates == 0  # before: 3 * POINTS
    assert is_transient(caught.value)
    assert not maybe_committed(caught.value)


def test_a_server_killed_mid_answer_counts_the_batch_in_flight_once(connect: Connect) -> None:
    """The tester's restart: the answer in flight is cut, then connections are refused until the server is back."""
    with misbehaving_server("reset", gone_after=1) as server:
        sender = Sender(connect(server.url), "r", gzip=False, attempts=3, log=log)
        sent = Sent()
        with pytest.raises(requests.ConnectionError):
            sender.post(BODY, POINTS, sent)
        assert server.requests == 1
    assert sent.retries == 2
    assert sent.possible_duplicates == POINTS  # before: 3 * POINTS (the refused retries counted too)


async def test_a_refused_async_call_is_transient_and_stored_nothing(connect: Connect) -> None:
    hook = connect(closed_port_url())
    try:
        with pytest.raises(httpx.ConnectError) as caught:
            await hook.arequest("GET", "/v2/repos/r")
    finally:
        await hook.aclose()
    assert is_transient(caught.value)
    assert not maybe_committed(caught.value)
