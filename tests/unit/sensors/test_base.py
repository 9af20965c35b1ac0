"""sensors/base.py: PandoraPollingSensor's pokes under the polling policy, its trigger events, its interval."""

from __future__ import annotations

from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSensorTimeout, TaskDeferred

from airflow_provider_pandora.exceptions import PandoraNotFoundError, PandoraServerError
from airflow_provider_pandora.sensors import PandoraGroupStatusSensor, PandoraJobSensor
from tests.unit.sensors.conftest import make


def test_transient_errors_keep_polling() -> None:
    sensor, hook = make(PandoraJobSensor, repo="r", job="j")
    hook.get_latest_job_run.side_effect = PandoraServerError("busy", status_code=503)
    assert sensor.poke({}) is False
    group, ghook = make(PandoraGroupStatusSensor, group="g")
    ghook.get_group.side_effect = PandoraServerError("busy", status_code=502)
    assert group.poke({}) is False


def test_an_error_a_retry_cannot_fix_fails_the_poke_at_once() -> None:
    """A missing group (404) is not polled again until the sensor's timeout: the poke raises, saying why."""
    sensor, hook = make(PandoraGroupStatusSensor, group="g")
    hook.get_group.side_effect = PandoraNotFoundError("no such group", status_code=404)
    with pytest.raises(PandoraNotFoundError) as caught:
        sensor.poke({})
    assert any("polling group 'g'" in note for note in caught.value.__notes__)
    assert hook.get_group.call_count == 1


def test_execute_complete_maps_events() -> None:
    sensor, _ = make(PandoraJobSensor, repo="r", job="j")
    sensor.execute_complete({}, {"status": "success"})
    with pytest.raises(AirflowFailException, match="boom"):
        sensor.execute_complete({}, {"status": "failed", "message": "boom"})
    with pytest.raises(AirflowSensorTimeout):
        sensor.execute_complete({}, {"status": "timeout", "message": "late"})


def test_templated_poll_interval_becomes_poke_interval() -> None:
    sensor, hook = make(PandoraGroupStatusSensor, group="g", poll_interval="{{ x }}", deferrable=True)
    sensor.render_template_fields({"x": "3"})  # type: ignore[arg-type]
    hook.get_group.return_value = {"container": {"status": "idle"}}
    with pytest.raises(TaskDeferred) as exc:
        sensor.execute({"ti": mock.MagicMock()})
    assert exc.value.trigger.poll_interval == 3.0
    assert sensor.poke_interval == 3.0


def test_a_templated_poll_interval_that_is_not_a_number_is_refused_naming_it() -> None:
    from airflow_provider_pandora.exceptions import PandoraValidationError
    from airflow_provider_pandora.sensors import PandoraJobSensor

    sensor = PandoraJobSensor(task_id="s", repo="r", job="j", poll_interval="{{ params.every }}")
    sensor.poll_interval = "soon"  # what the template rendered to
    with pytest.raises(PandoraValidationError) as caught:
        sensor.execute({})
    assert caught.value.parameter == "poll_interval"
