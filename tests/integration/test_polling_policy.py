"""The pollers (sensors, triggers) share the hook's rule of what a retry can fix: a 501 is answered the same
however often it is asked, so it fails the wait at once instead of being polled until the timeout."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.sensors import PandoraGroupStatusSensor, PandoraJobSensor
from airflow_provider_pandora.triggers import PandoraGroupStatusTrigger, PandoraJobTrigger

pytestmark = pytest.mark.integration

HISTORY = "/v2/repos/r/jobs/j/history"
GROUP = "/v2/groups/g"


def _served(emulator: PandoraEmulator, path: str) -> int:
    return sum(1 for entry in emulator.requests_log() if entry["path"].startswith(path))


@pytest.mark.parametrize("status", [501, 505])
def test_sensors_fail_on_a_not_implemented_answer_without_polling_again(
    pandora_conn: PandoraEmulator, status: int
) -> None:
    pandora_conn.add_fault("error", "GET", HISTORY, status=status)
    pandora_conn.add_fault("error", "GET", GROUP, status=status)
    job = PandoraJobSensor(task_id="job", repo="r", job="j", timeout=600)
    with pytest.raises(Exception, match=str(status)):
        job.poke({})  # before the fix: a PandoraServerError, so "will poll again" until the timeout
    group = PandoraGroupStatusSensor(task_id="group", group="g", timeout=600)
    with pytest.raises(Exception, match=str(status)):
        group.poke({})
    assert _served(pandora_conn, HISTORY) == 1
    assert _served(pandora_conn, GROUP) == 1


def test_sensors_still_poll_again_on_a_503(pandora_conn: PandoraEmulator) -> None:
    pandora_conn.add_fault("error", "GET", HISTORY, status=503)
    job = PandoraJobSensor(task_id="job", repo="r", job="j", timeout=600)
    assert job.poke({}) is False


@pytest.mark.parametrize("kind", ["job", "group"])
async def test_triggers_give_up_at_once_on_a_501(pandora_conn: PandoraEmulator, kind: str) -> None:
    trigger: PandoraJobTrigger | PandoraGroupStatusTrigger
    if kind == "job":
        pandora_conn.add_fault("error", "GET", HISTORY, status=501)
        trigger, path = PandoraJobTrigger("r", "j", poll_interval=60), HISTORY
    else:
        pandora_conn.add_fault("error", "GET", GROUP, status=501)
        trigger, path = PandoraGroupStatusTrigger("g", "running", poll_interval=60), GROUP
    # A transient error would sleep a whole poll interval (60 s) before the next try: the event comes at once.
    event = await asyncio.wait_for(anext(aiter(trigger.run())), timeout=30)
    assert event.payload["status"] == "error"
    assert "501" in event.payload["message"]
    assert _served(pandora_conn, path) == 1


async def test_triggers_keep_polling_through_a_503(pandora_conn: PandoraEmulator) -> None:
    pandora_conn.add_fault("error", "GET", GROUP, status=503, count=2)
    trigger = PandoraGroupStatusTrigger("g", "running", poll_interval=0.05)
    event = await asyncio.wait_for(anext(aiter(trigger.run())), timeout=30)
    # the group does not exist: once the faults are used up, the answer is a plain 4xx that ends the wait
    assert event.payload["status"] == "error"
    assert _served(pandora_conn, GROUP) == 3
