"""triggers/groups.py: PandoraGroupStatusTrigger waits for the target status; a missing group ends the wait."""

from __future__ import annotations

import time

from airflow_provider_pandora.exceptions import PandoraNotFoundError
from airflow_provider_pandora.triggers import PandoraGroupStatusTrigger
from tests.unit.triggers.conftest import collect

MODULE = "airflow_provider_pandora.triggers.groups"


def test_group_trigger_waits_for_target_and_reports_missing_group() -> None:
    idle = {"container": {"status": "idle"}}
    running = {"container": {"status": "running"}}
    events, _ = collect(PandoraGroupStatusTrigger("g", "running", poll_interval=0), [idle, running], MODULE)
    assert [(e["status"], e["group_status"]) for e in events] == [("success", "running")]
    missing = PandoraNotFoundError("no such group", status_code=404)
    events, _ = collect(PandoraGroupStatusTrigger("g", "running", poll_interval=0), [missing], MODULE)
    assert [e["status"] for e in events] == ["error"]


def test_group_timeout_names_the_group_and_the_status_it_waited_for() -> None:
    trigger = PandoraGroupStatusTrigger("g", "idle", poll_interval=0.01, end_time=time.time() + 0.05)
    events, fake = collect(trigger, [{"container": {"status": "running"}}], MODULE)
    assert events == [
        {"status": "timeout", "message": "group 'g' did not become 'idle' in time", "group": "g", "group_status": None}
    ]
    assert fake.asked[0] == {"group": "g"}
