"""Triggers: primitive-only serialisation that round-trips, one event per wait, polling cadence."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest

from airflow_provider_pandora.exceptions import PandoraNotFoundError, PandoraServerError
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.hooks.runs import JobRun, JobStatus
from airflow_provider_pandora.triggers import PandoraGroupStatusTrigger, PandoraJobTrigger
from airflow_provider_pandora.triggers import jobs as jobs_mod


def run(status: str, message: str = "") -> JobRun:
    return JobRun(JobStatus(status), datetime.now(UTC), None, message, 7)


class FakeHook:
    """Stands in for PandoraHook; counts how many hooks (hence HTTP clients) a trigger opens."""

    opened = 0

    def __init__(self, conn_id: str, answers: list[Any]) -> None:
        self.answers = answers
        self.calls: list[float] = []
        self.stopped = False

    async def __aenter__(self) -> FakeHook:
        FakeHook.opened += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def _next(self) -> Any:
        self.calls.append(time.monotonic())
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def aget_latest_job_run(self, repo: str, job: str, *, since: datetime | None = None, **which: Any) -> Any:
        return self._next()

    async def aget_group(self, group: str) -> Any:
        return self._next()

    async def astop_job(self, repo: str, job: str) -> dict[str, Any]:
        self.stopped = True
        return {}


def collect(trigger: Any, answers: list[Any], module: str) -> tuple[list[dict[str, Any]], FakeHook]:
    FakeHook.opened = 0
    fake = FakeHook("c", answers)
    real = PandoraHook

    class Patched:
        default_conn_name = "pandora_default"
        group_status = staticmethod(real.group_status)

        def __new__(cls, conn_id: str) -> FakeHook:  # type: ignore[misc]
            return fake

    async def gather() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    # The polling loop (and its hook) is the base trigger's; on_kill's hook is the subclass module's.
    with (
        mock.patch("airflow_provider_pandora.triggers.base.PandoraHook", Patched),
        mock.patch(f"{module}.PandoraHook", Patched),
    ):
        events = asyncio.run(gather())
    return events, fake


@pytest.mark.parametrize(
    "trigger",
    [
        PandoraJobTrigger(
            "r", "j", pandora_conn_id="c", poll_interval=0.5, since="2026-01-01T00:00:00+00:00", end_time=1.5
        ),
        PandoraGroupStatusTrigger("g", "idle", pandora_conn_id="c", poll_interval=2, end_time=None),
    ],
)
def test_serialize_round_trips_with_primitives(trigger: Any) -> None:
    classpath, kwargs = trigger.serialize()
    assert json.loads(json.dumps(kwargs)) == kwargs
    module, _, name = classpath.rpartition(".")
    cls = getattr(__import__(module, fromlist=[name]), name)
    assert cls is type(trigger)
    assert cls(**kwargs).serialize() == (classpath, kwargs)


def test_job_success_after_polling_at_the_asked_interval() -> None:
    trigger = PandoraJobTrigger("r", "j", poll_interval=0.05)
    events, fake = collect(trigger, [None, run("Running"), run("Success")], "airflow_provider_pandora.triggers.jobs")
    assert len(events) == 1
    assert events[0]["status"] == "success"
    assert events[0]["run"]["status"] == "Success"
    gaps = [b - a for a, b in zip(fake.calls, fake.calls[1:], strict=False)]
    assert all(gap >= 0.045 for gap in gaps)
    assert FakeHook.opened == 1


def test_job_failure_event_carries_message() -> None:
    events, _ = collect(PandoraJobTrigger("r", "j", poll_interval=0), [run("Fail", "boom")], jobs_mod.__name__)
    assert events == [{"status": "failed", "message": "boom", "repo": "r", "job": "j", "run": mock.ANY}]


def test_job_timeout_event_once_deadline_passed() -> None:
    trigger = PandoraJobTrigger("r", "j", poll_interval=0.01, end_time=time.time() + 0.05)
    events, _ = collect(trigger, [run("Running")], jobs_mod.__name__)
    assert [e["status"] for e in events] == ["timeout"]


def test_transient_errors_are_tolerated_then_give_up() -> None:
    busy = PandoraServerError("busy", status_code=503)
    events, _ = collect(PandoraJobTrigger("r", "j", poll_interval=0), [busy, busy, run("Success")], jobs_mod.__name__)
    assert [e["status"] for e in events] == ["success"]
    events, _ = collect(PandoraJobTrigger("r", "j", poll_interval=0), [busy], jobs_mod.__name__)
    assert [e["status"] for e in events] == ["error"]


def test_group_trigger_waits_for_target_and_reports_missing_group() -> None:
    module = "airflow_provider_pandora.triggers.groups"
    idle = {"container": {"status": "idle"}}
    running = {"container": {"status": "running"}}
    events, _ = collect(PandoraGroupStatusTrigger("g", "running", poll_interval=0), [idle, running], module)
    assert [(e["status"], e["group_status"]) for e in events] == [("success", "running")]
    missing = PandoraNotFoundError("no such group", status_code=404)
    events, _ = collect(PandoraGroupStatusTrigger("g", "running", poll_interval=0), [missing], module)
    assert [e["status"] for e in events] == ["error"]


def test_on_kill_stops_the_job() -> None:
    fake = FakeHook("c", [None])
    with mock.patch.object(jobs_mod, "PandoraHook", return_value=fake):
        asyncio.run(PandoraJobTrigger("r", "j").on_kill())
    assert fake.stopped
