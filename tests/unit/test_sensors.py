"""Sensors: poke outcomes, transient errors, deferral, templated poll interval."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSensorTimeout, TaskDeferred

from airflow_provider_pandora.exceptions import PandoraServerError, PandoraValidationError
from airflow_provider_pandora.hooks.runs import JobRun, JobStatus
from airflow_provider_pandora.sensors import PandoraGroupStatusSensor, PandoraJobSensor
from airflow_provider_pandora.sensors.jobs import parse_since
from airflow_provider_pandora.triggers import PandoraGroupStatusTrigger, PandoraJobTrigger


def run(status: str, message: str = "") -> JobRun:
    return JobRun(JobStatus(status), datetime.now(UTC), None, message, 1)


def make(cls: type[Any], **kwargs: Any) -> tuple[Any, mock.MagicMock]:
    op = cls(task_id="s", **kwargs)
    hook = mock.MagicMock()
    hook.config.console_url = None
    op.__dict__["hook"] = hook
    return op, hook


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


def test_transient_errors_keep_polling() -> None:
    sensor, hook = make(PandoraJobSensor, repo="r", job="j")
    hook.get_latest_job_run.side_effect = PandoraServerError("busy", status_code=503)
    assert sensor.poke({}) is False
    group, ghook = make(PandoraGroupStatusSensor, group="g")
    ghook.get_group.side_effect = PandoraServerError("busy", status_code=502)
    assert group.poke({}) is False


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


def test_execute_complete_maps_events() -> None:
    sensor, _ = make(PandoraJobSensor, repo="r", job="j")
    sensor.execute_complete({}, {"status": "success"})
    with pytest.raises(AirflowFailException, match="boom"):
        sensor.execute_complete({}, {"status": "failed", "message": "boom"})
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute_complete({}, {"status": "timeout", "message": "late"})


def test_group_sensor_target_and_deferral() -> None:
    sensor, hook = make(PandoraGroupStatusSensor, group="g", target_status="running", deferrable=True, timeout=30)
    hook.get_group.return_value = {"container": {"status": "idle"}}
    assert sensor.poke({}) is False
    with pytest.raises(TaskDeferred) as exc:
        sensor.execute({"ti": mock.MagicMock()})
    assert isinstance(exc.value.trigger, PandoraGroupStatusTrigger)
    hook.get_group.return_value = {"container": {"status": "running"}}
    assert sensor.poke({}) is True


def test_group_sensor_rejects_unknown_target() -> None:
    sensor, _ = make(PandoraGroupStatusSensor, group="g", target_status="stopped")
    with pytest.raises(PandoraValidationError, match="target_status"):
        sensor.poke({})


def test_templated_poll_interval_becomes_poke_interval() -> None:
    sensor, hook = make(PandoraGroupStatusSensor, group="g", poll_interval="{{ x }}", deferrable=True)
    sensor.render_template_fields({"x": "3"})  # type: ignore[arg-type]
    hook.get_group.return_value = {"container": {"status": "idle"}}
    with pytest.raises(TaskDeferred) as exc:
        sensor.execute({"ti": mock.MagicMock()})
    assert exc.value.trigger.poll_interval == 3.0
    assert sensor.poke_interval == 3.0
