"""triggers/jobs.py: PandoraJobTrigger watches the asked run, reports how it ended, and stops the job on kill."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from unittest import mock

from airflow_provider_pandora.triggers import PandoraJobTrigger
from airflow_provider_pandora.triggers import jobs as jobs_mod
from tests.unit.triggers.conftest import FakeHook, collect, run


def test_job_failure_event_carries_message() -> None:
    events, _ = collect(PandoraJobTrigger("r", "j", poll_interval=0), [run("Fail", "boom")], jobs_mod.__name__)
    assert events == [{"status": "failed", "message": "boom", "repo": "r", "job": "j", "run": mock.ANY}]


def test_the_run_asked_for_is_the_one_watched() -> None:
    """``since``, ``run_id`` and ``after_run_id`` (what the operator knows of its run) reach every poll."""
    trigger = PandoraJobTrigger("r", "j", poll_interval=0, since="2026-01-02T00:00:00+00:00", run_id=8, after_run_id=7)
    events, fake = collect(trigger, [run("Running"), run("Cancel")], jobs_mod.__name__)
    assert [e["status"] for e in events] == ["failed"]
    assert events[0]["message"] == "Cancel"  # no history message: the status says how it ended
    since = datetime(2026, 1, 2, tzinfo=UTC)
    assert fake.asked == [{"repo": "r", "job": "j", "since": since, "run_id": 8, "after_run_id": 7}] * 2


def test_on_kill_stops_the_job() -> None:
    fake = FakeHook("c", [None])
    with mock.patch.object(jobs_mod, "PandoraHook", return_value=fake):
        asyncio.run(PandoraJobTrigger("r", "j").on_kill())
    assert fake.stopped


def test_on_kill_leaves_the_job_running_for_a_sensor() -> None:
    fake = FakeHook("c", [None])
    with mock.patch.object(jobs_mod, "PandoraHook", return_value=fake):
        asyncio.run(PandoraJobTrigger("r", "j", stop_on_kill=False).on_kill())
    assert not fake.stopped
