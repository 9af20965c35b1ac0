"""A job whose run fails: the start operator and the sensor must fail with the history message."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_pandora.operators import (
    PandoraCreateRepoOperator,
    PandoraStartJobOperator,
    PandoraSubmitJobOperator,
)
from airflow_provider_pandora.sensors import PandoraJobSensor

with DAG(
    dag_id="pandora_test_ops_job_fail",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"deferrable": False},
    tags=["pandora", "test"],
) as dag:
    repo = PandoraCreateRepoOperator(task_id="create_repo", repo="f_src", schema=[{"key": "n", "valtype": "long"}])
    submit = PandoraSubmitJobOperator(
        task_id="submit",
        repo="f_src",
        job="f_job",
        dest_repo="f_out",
        code='-- emulator: fail="boom: disk on fire"\nselect n from f_src',
        container={"type": "M16C4", "count": 1},
        scheduler={"type": "crontab", "crontab": "0 0 1 1 *"},
    )
    run = PandoraStartJobOperator(task_id="run", repo="f_src", job="f_job", poll_interval=0.2)
    sensor = PandoraJobSensor(
        task_id="sensor", repo="f_src", job="f_job", poll_interval=0.2, timeout=30, trigger_rule="all_done"
    )
    sensor_soft = PandoraJobSensor(
        task_id="sensor_soft",
        repo="f_src",
        job="f_job",
        poll_interval=0.2,
        timeout=30,
        soft_fail=True,
        trigger_rule="all_done",
    )
    repo >> submit >> run >> [sensor, sensor_soft]
