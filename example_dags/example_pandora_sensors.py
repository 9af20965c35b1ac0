"""Waiting on Pandora without holding a worker slot: job and group sensors in reschedule and deferrable modes.

* ``PandoraJobSensor`` in ``reschedule`` mode frees its slot between pokes; with ``since`` it only accepts a run
  that started at or after the data interval (in a run without one, the run's ``run_after``), so yesterday's
  success does not count. A run that ends in Fail or Cancel fails the sensor with the job's message instead of
  waiting out the timeout.
* The same sensor with ``deferrable=True`` hands the wait to the triggerer.
* ``PandoraGroupStatusSensor`` waits for a resource group to be ``running`` (or ``idle``).
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_pandora.operators import (
    PandoraCreateGroupOperator,
    PandoraCreateRepoOperator,
    PandoraDeleteGroupOperator,
    PandoraDeleteRepoOperator,
    PandoraStartGroupOperator,
    PandoraStartJobOperator,
    PandoraStopGroupOperator,
    PandoraSubmitJobOperator,
)
from airflow_provider_pandora.sensors import PandoraGroupStatusSensor, PandoraJobSensor

P = "{{ params.prefix }}"
CONTAINER = {"type": "M16C4", "count": 1}

with DAG(
    dag_id="example_pandora_sensors",
    description="Job and group sensors in reschedule and deferrable modes",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "example"],
    params={
        "prefix": Param("sensors", type="string"),
        "poke_interval": Param(1, type="number"),
        "job_seconds": Param(2, type="integer", description="how long the emulator runs the job"),
    },
) as dag:
    group = PandoraCreateGroupOperator(task_id="create_group", group=f"{P}_group", container=CONTAINER)
    start_group = PandoraStartGroupOperator(task_id="start_group", group=f"{P}_group")
    # [START howto_sensor_pandora_group_status]
    group_running = PandoraGroupStatusSensor(
        task_id="group_running",
        group=f"{P}_group",
        target_status="running",
        mode="reschedule",
        poke_interval=1,
        timeout=300,
    )
    stop_group = PandoraStopGroupOperator(task_id="stop_group", group=f"{P}_group")
    group_idle = PandoraGroupStatusSensor(
        task_id="group_idle", group=f"{P}_group", target_status="idle", deferrable=True, poll_interval=1, timeout=300
    )
    # [END howto_sensor_pandora_group_status]
    repo = PandoraCreateRepoOperator(
        task_id="create_repo", repo=f"{P}_src", schema=[{"key": "n", "valtype": "long"}], group=f"{P}_group"
    )
    # [START howto_operator_pandora_job_emulator_directive]
    submit = PandoraSubmitJobOperator(
        task_id="submit_job",
        repo=f"{P}_src",
        job=f"{P}_job",
        dest_repo=f"{P}_out",
        code=f"-- emulator: sleep={{{{ params.job_seconds }}}}\nselect count(*) as n from {P}_src",
        container=CONTAINER,
        scheduler={"type": "once"},
    )
    # [END howto_operator_pandora_job_emulator_directive]
    start = PandoraStartJobOperator(task_id="start_job", repo=f"{P}_src", job=f"{P}_job", wait_for_completion=False)
    # [START howto_sensor_pandora_job]
    job_done_reschedule = PandoraJobSensor(
        task_id="job_done_reschedule",
        repo=f"{P}_src",
        job=f"{P}_job",
        # Airflow 3 runs triggered without a logical date have no data interval: their run_after stands in.
        since="{{ (dag_run.data_interval_start or dag_run.run_after) | ts }}",
        mode="reschedule",
        poke_interval=1,
        timeout=300,
    )
    job_done_deferred = PandoraJobSensor(
        task_id="job_done_deferred",
        repo=f"{P}_src",
        job=f"{P}_job",
        deferrable=True,
        poll_interval=1,
        timeout=300,
    )
    # [END howto_sensor_pandora_job]
    cleanup = [
        PandoraDeleteRepoOperator(task_id="delete_out", repo=f"{P}_out"),
        PandoraDeleteRepoOperator(task_id="delete_src", repo=f"{P}_src"),
    ]
    delete_group = PandoraDeleteGroupOperator(task_id="delete_group", group=f"{P}_group")

    group >> start_group >> group_running >> repo >> submit >> start
    start >> [job_done_reschedule, job_done_deferred] >> cleanup[0] >> cleanup[1] >> stop_group
    stop_group >> group_idle >> delete_group
