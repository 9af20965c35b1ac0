"""The waits (the hook's, the sensors', the triggers') poll under one policy: a 501 is answered the same however
often it is asked, so it fails the wait at once instead of being polled until the timeout; a transient error is
polled again the same number of times in a row by every one of them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.exceptions import PandoraServerError, PandoraWaitTimeoutError
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.hooks.polling import MAX_TRANSIENT_ERRORS, PollPolicy
from airflow_provider_pandora.sensors import PandoraGroupStatusSensor, PandoraJobSensor
from airflow_provider_pandora.triggers import PandoraGroupStatusTrigger, PandoraJobTrigger
from tests.common import CONTAINER, SCHEMA

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


# ---- one policy: the hook's wait, the sensors and the triggers give up after the same number of bad looks ----
def test_every_wait_gives_up_after_the_same_transient_budget(
    pandora_conn: PandoraEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 503 that never ends: each waiter tolerates MAX_TRANSIENT_ERRORS looks in a row, then says why it stops."""
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_DEFAULT", pandora_conn.connection_json(retry_limit=1))
    pandora_conn.add_fault("error", "GET", HISTORY, status=503)
    looks: dict[str, int] = {}

    before = _served(pandora_conn, HISTORY)
    with pytest.raises(PandoraServerError) as info:
        PandoraHook().wait_for_job_run("r", "j", policy=PollPolicy(interval=0.01))
    assert "giving up after 5 transient errors in a row" in "".join(info.value.__notes__)
    looks["hook"] = _served(pandora_conn, HISTORY) - before

    before = _served(pandora_conn, HISTORY)
    sensor = PandoraJobSensor(task_id="job", repo="r", job="j", timeout=600)
    polled = [sensor.poke({}) for _ in range(MAX_TRANSIENT_ERRORS - 1)]
    assert polled == [False] * (MAX_TRANSIENT_ERRORS - 1)
    with pytest.raises(PandoraServerError):
        sensor.poke({})
    looks["sensor"] = _served(pandora_conn, HISTORY) - before

    before = _served(pandora_conn, HISTORY)
    event = asyncio.run(_first_event(PandoraJobTrigger("r", "j", poll_interval=0.01)))
    assert event["status"] == "error"
    assert "giving up after 5 transient errors in a row" in event["message"]
    looks["trigger"] = _served(pandora_conn, HISTORY) - before
    assert looks == dict.fromkeys(looks, MAX_TRANSIENT_ERRORS), looks


async def _first_event(trigger: PandoraJobTrigger) -> dict[str, Any]:
    event = await asyncio.wait_for(anext(aiter(trigger.run())), timeout=30)
    return dict(event.payload)


def test_the_hook_wait_returns_the_ended_run_and_times_out_at_its_deadline(pandora_conn: PandoraEmulator) -> None:
    hook = PandoraHook()
    hook.create_repo("r", schema=SCHEMA)
    code = "-- emulator: sleep=2\nselect user from r"
    hook.submit_job("r", "j", "out", code=code, container=CONTAINER, scheduler={"type": "once"})
    hook.start_job("r", "j")
    with pytest.raises(PandoraWaitTimeoutError, match="did not end within the timeout"):
        hook.wait_for_job_run("r", "j", policy=PollPolicy.within(0.1, 0.3))
    run = hook.wait_for_job_run("r", "j", policy=PollPolicy.within(0.1, 30))
    assert run.status.is_terminal
