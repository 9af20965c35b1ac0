"""triggers/base.py: primitive-only serialisation that round-trips, one event per wait, one hook, polling cadence,
the deadline and the transient-error budget."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from airflow_provider_pandora.exceptions import PandoraServerError
from airflow_provider_pandora.triggers import PandoraGroupStatusTrigger, PandoraJobTrigger
from airflow_provider_pandora.triggers import jobs as jobs_mod
from tests.unit.triggers.conftest import FakeHook, collect, run


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
