"""Sensors at scale: many ``PandoraJobTrigger``s in one event loop against the emulator (the suite's size).

``benchmarks/bench_triggers.py`` runs the issue's 1,000 and reports memory per trigger and fire latency;
here 200 triggers check the behaviour that does not depend on the machine's speed, from the emulator's own
request log: each trigger fires exactly once, never polls twice within one interval, and fires on its first
poll after its run ended (so it fires within one interval, plus one request, of the end).

Found by this test: every trigger used to build its own ``httpx.AsyncClient`` (25 ms of CA loading on the
event loop each), so 200 triggers first polled 5 s late and 1,000 more than a minute late; and one shared
client with a thousand requests queued in its pool spends seconds in httpcore's quadratic matching. The
hook now shares one client per loop and settings, behind a gate of ``MAX_ASYNC_IN_FLIGHT`` requests.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.hooks._transport import SHARED_ASYNC_CLIENTS
from airflow_provider_pandora.hooks.pandora import PandoraHook
from tests.hardening import trigger_load

pytestmark = pytest.mark.integration

TRIGGERS = 200
INTERVAL = 0.5
DURATIONS = (0.5, 1.0, 1.5, 2.0)
MS = 0.002
"""The emulator logs request times in milliseconds: two stamps may each be off by up to 1 ms."""


@pytest.mark.slow
def test_many_triggers_in_one_loop_poll_once_per_interval_and_fire_on_the_first_poll_after_the_end(
    pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_LOAD", pandora_emulator.connection_json())
    setup = PandoraHook("pandora_load")
    run_ids = trigger_load.prepare(setup, TRIGGERS, DURATIONS)
    setup.close()
    since = time.time()

    load = trigger_load.run_triggers("pandora_load", run_ids, INTERVAL)

    assert len(load.events) == TRIGGERS
    assert {event["status"] for event in load.events.values()} == {"success"}
    assert {event["run"]["run_id"] for event in load.events.values()} == set(run_ids.values())
    stats = trigger_load.analyse(pandora_emulator.requests_log(), load, since)
    for job, numbers in stats.items():
        assert numbers.polls >= 1, job
        assert numbers.min_gap >= INTERVAL - MS, (job, numbers)
        assert numbers.polls_after_end <= 1, (job, numbers)


def test_hooks_in_one_loop_share_one_client_closed_by_the_last(
    pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_SHARE", pandora_emulator.connection_json())

    async def two_hooks() -> None:
        first, second = PandoraHook("pandora_share"), PandoraHook("pandora_share")
        assert await first.arequest("GET", "/v2/repos") == {"repos": []}
        assert await second.arequest("GET", "/v2/repos") == {"repos": []}
        client = first._async_client
        assert client is not None
        assert second._async_client is client
        await first.aclose()
        assert not client.is_closed  # the second hook still uses it
        await second.aclose()
        assert client.is_closed
        third = PandoraHook("pandora_share")  # a later hook gets a fresh client
        await third.arequest("GET", "/v2/repos")
        assert third._async_client is not client
        await third.aclose()

    asyncio.run(two_hooks())
    asyncio.run(two_hooks())  # a new loop: nothing of the old one is reused
    assert SHARED_ASYNC_CLIENTS.open_clients() == 0


def test_other_settings_get_their_own_client(
    pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_A", pandora_emulator.connection_json())
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_B", pandora_emulator.connection_json(timeout=5))

    async def main() -> None:
        async with PandoraHook("pandora_a") as a, PandoraHook("pandora_b") as b:
            await a.arequest("GET", "/v2/repos")
            await b.arequest("GET", "/v2/repos")
            assert a._async_client is not b._async_client

    asyncio.run(main())
