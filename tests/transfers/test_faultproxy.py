"""The fault proxy of the stateful suite (tests/faultproxy.py): each fault does to a push what it says, and the
record says whether the body reached the emulator and what the client got."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.hooks.pandora import PandoraHook
from tests.faultproxy import BodySchedule, Exchange, Fault, FaultProxy, FaultQueue, RandomFaults

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

REPO = "proxied"
SCHEMA = [{"key": "id", "valtype": "string", "required": True}]


@pytest.fixture
def proxy(pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    host, port = pandora_emulator.url.split("://", 1)[1].rsplit(":", 1)
    with FaultProxy((host, int(port))) as started:
        conn = pandora_emulator.connection_json(retry_delay=0.01, timeout=0.3)
        monkeypatch.setenv("AIRFLOW_CONN_PANDORA_DEFAULT", conn.replace(pandora_emulator.url, started.url))
        PandoraHook().create_repo(REPO, schema=SCHEMA)
        assert started.wait_idle()
        started.take_records()
        yield started


def push(body: bytes) -> Any:
    try:
        return PandoraHook().push_batch(REPO, body)
    except Exception as err:
        return err


def only_push(proxy: FaultProxy) -> Exchange:
    assert proxy.wait_idle()
    (record,) = proxy.take_records()
    assert (record.method, record.path) == ("POST", f"/v2/repos/{REPO}/data")
    return record


def stored(emulator: PandoraEmulator) -> list[str]:
    return [p["id"] for p in emulator.points(REPO)]


@pytest.mark.parametrize(
    ("kind", "forwarded", "delivered", "kept"),
    [
        ("none", True, "full", True),
        ("drop_before_body", False, "none", False),
        ("drop_after_body", True, "none", True),
        ("cut_answer", True, "partial", True),
        ("status", False, "full", False),
    ],
)
def test_each_fault_does_what_it_says_and_is_recorded(
    proxy: FaultProxy, pandora_emulator: PandoraEmulator, kind: str, forwarded: bool, delivered: str, kept: bool
) -> None:
    proxy.chooser = FaultQueue([Fault(kind)])
    outcome = push(b"id=a\n")
    record = only_push(proxy)
    assert (record.fault, record.body_forwarded, record.delivered) == (
        kind if kind != "status" else "status_503",
        forwarded,
        delivered,
    )
    assert record.body_plain == b"id=a\n"
    assert stored(pandora_emulator) == (["a"] if kept else [])
    if kind == "none":
        assert not isinstance(outcome, Exception)
        assert record.answered_in_full
        assert record.status_sent == 200
    else:
        assert isinstance(outcome, Exception)
    if kind == "status":
        assert record.status_sent == 503
        assert "injected by the fault proxy" in str(outcome)


def test_a_trickled_answer_comes_one_byte_at_a_time(proxy: FaultProxy, pandora_emulator: PandoraEmulator) -> None:
    proxy.chooser = FaultQueue([Fault("trickle", trickle_s=0.001)])
    push(b"id=t\n")
    record = only_push(proxy)
    assert record.body_forwarded
    assert record.upstream_status == 200
    assert record.ended is not None
    assert record.ended - record.started > 0.1
    assert stored(pandora_emulator) == ["t"]


def test_refuse_answers_then_stops_listening_so_the_next_connection_is_refused(proxy: FaultProxy) -> None:
    proxy.chooser = FaultQueue([Fault("refuse", refuse_s=1.0)], match=lambda request: True)
    assert requests.get(f"{proxy.url}/v2/repos", timeout=5).status_code == 401  # unsigned, but it got through
    with pytest.raises(requests.ConnectionError, match="Connection refused"):
        requests.get(f"{proxy.url}/v2/repos", timeout=5)
    assert len(proxy.refusals) == 1
    assert proxy.wait_idle()  # ends the pause early
    assert requests.get(f"{proxy.url}/v2/repos", timeout=5).status_code == 401


def test_a_body_schedule_hits_the_requests_carrying_its_needle_times_times(
    proxy: FaultProxy, pandora_emulator: PandoraEmulator
) -> None:
    proxy.chooser = BodySchedule().add(b"id=x2", Fault("status", status=429), times=2)
    assert isinstance(push(b"id=x2\n"), Exception)
    assert not isinstance(push(b"id=x1\n"), Exception)
    assert isinstance(push(b"id=x2\n"), Exception)
    assert not isinstance(push(b"id=x2\n"), Exception)
    assert proxy.wait_idle()
    assert [r.fault for r in proxy.take_records()] == ["status_429", "none", "status_429", "none"]
    assert stored(pandora_emulator) == ["x1", "x2"]


def test_a_kill_fault_calls_back_before_or_after_forwarding(
    proxy: FaultProxy, pandora_emulator: PandoraEmulator
) -> None:
    killed: list[str] = []
    proxy.on_kill = lambda record: killed.append(record.kill or "")
    proxy.chooser = FaultQueue([Fault(kill="before_forward"), Fault(kill="after_forward")])
    assert isinstance(push(b"id=k1\n"), Exception)
    assert isinstance(push(b"id=k2\n"), Exception)
    assert killed == ["before_forward", "after_forward"]
    assert stored(pandora_emulator) == ["k2"]


def test_random_faults_are_seeded() -> None:
    def draws(seed: int) -> list[str | None]:
        chooser = RandomFaults(0.5, [Fault("drop_after_body"), Fault("cut_answer")], seed=seed, match=lambda r: True)
        request: Any = None
        return [getattr(chooser.choose(request), "kind", None) for _ in range(20)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)
