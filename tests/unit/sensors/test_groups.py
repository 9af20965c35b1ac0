"""sensors/groups.py: PandoraGroupStatusSensor waits for ``running`` or ``idle``, and defers."""

from __future__ import annotations

from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from airflow_provider_pandora.exceptions import PandoraValidationError
from airflow_provider_pandora.sensors import PandoraGroupStatusSensor
from airflow_provider_pandora.triggers import PandoraGroupStatusTrigger
from tests.unit.sensors.conftest import make


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
