"""sensors/jobs.py: PandoraJobSensor pokes the watched run, fails on Fail/Cancel, reads ``since``, defers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, TaskDeferred

from airflow_provider_pandora.sensors import PandoraJobSensor
from airflow_provider_pandora.sensors.jobs import parse_since
from airflow_provider_pandora.triggers import PandoraJobTrigger
from tests.unit.sensors.conftest import make, run


@pytest.mark.parametrize(("answer", "done"), [(None, False), (run("Running"), False), (run("Success"), True)])
def test_job_poke(answer: Any, done: bool) -> None:
    sensor, hook = make(PandoraJobSensor, repo="r", job="j")
    hook.get_latest_job_run.return_value = answer
    assert sensor.poke({}) is done


@pytest.mark.parametrize("status", ["Fail", "Cancel"])
def test_job_poke_raises_with_history_message(status: str) -> None:
    sensor, hook = make(PandoraJobSensor, repo="r", job="j")
    hook.get_latest_job_run.return_value = run(status, "boom")
    with pytest.raises(AirflowFailException, match=f"{status}: boom"):
        sensor.poke({})


def test_since_is_parsed_and_passed() -> None:
    sensor, hook = make(PandoraJobSensor, repo="r", job="j", since="2026-01-02T00:00:00")
    hook.get_latest_job_run.return_value = None
    sensor.poke({})
    assert hook.get_latest_job_run.call_args.kwargs["since"] == datetime(2026, 1, 2, tzinfo=UTC)
    assert parse_since("") is None


def test_deferrable_job_sensor_defers_unless_done() -> None:
    sensor, hook = make(PandoraJobSensor, repo="r", job="j", deferrable=True, poll_interval=0.5, timeout=60)
    hook.get_latest_job_run.return_value = run("Running")
    with pytest.raises(TaskDeferred) as exc:
        sensor.execute({"ti": mock.MagicMock()})
    assert isinstance(exc.value.trigger, PandoraJobTrigger)
    assert exc.value.trigger.poll_interval == 0.5
    assert exc.value.trigger.stop_on_kill is False  # a sensor never stops someone else's job
    hook.get_latest_job_run.return_value = run("Success")
    assert sensor.execute({"ti": mock.MagicMock()}) is None
