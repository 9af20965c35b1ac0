"""System test DAG: every deferrable wait of the provider, held open long enough to really defer.

The example DAGs' deferrable tasks usually find their condition met on the first check (the emulator's jobs
end in a second) and then finish without deferring. Here the job sleeps ``params.sleep`` seconds in the
emulator, so the job operator, ``params.sensors`` mapped job sensors and the group sensors all hand their
wait to the triggerer.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_pandora.operators import (
    PandoraCreateGroupOperator,
    PandoraCreateRepoOperator,
    PandoraStartJobOperator,
    PandoraSubmitJobOperator,
)
from airflow_provider_pandora.sensors import PandoraGroupStatusSensor, PandoraJobSensor

P = "{{ params.prefix }}"
CONTAINER = {"type": "M16C4", "count": 1}

with DAG(
    dag_id="system_pandora_deferred",
    description="Deferrable job operator, job sensors and group sensors waiting on one slow job",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "system-test"],
    params={
        "prefix": Param("deferred", type="string"),
        "sleep": Param(20, type="integer"),
        "sensors": Param(2, type="integer", minimum=1),
    },
    default_args={"retries": 0},
) as dag:
    group = PandoraCreateGroupOperator(
        task_id="create_group", group=f"{P}_group", container=CONTAINER, allocate_on_start=False
    )
    repo = PandoraCreateRepoOperator(
        task_id="create_repo", repo=f"{P}_src", schema=[{"key": "n", "valtype": "long"}], group=f"{P}_group"
    )
    submit = PandoraSubmitJobOperator(
        task_id="submit_job",
        repo=f"{P}_src",
        job=f"{P}_job",
        dest_repo=f"{P}_out",
        code=f"-- emulator: sleep={{{{ params.sleep }}}}\nselect count(*) as n from {P}_src",
        container=CONTAINER,
        scheduler={"type": "once"},
    )
    run_job = PandoraStartJobOperator(
        task_id="run_job",
        repo=f"{P}_src",
        job=f"{P}_job",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=1,
        timeout=900,
    )

    @task
    def intervals(params: dict[str, Any] | None = None) -> list[float]:
        """One poll interval per sensor: the mapped sensors differ in it only."""
        return [1.0 + n / 100 for n in range(int((params or {}).get("sensors", 2)))]

    # Each sensor waits for the run this DAG run starts (since: the DAG run's start), deferring at once when
    # the run does not exist yet or is still going.
    job_done = PandoraJobSensor.partial(
        task_id="job_done",
        repo=f"{P}_src",
        job=f"{P}_job",
        since="{{ dag_run.start_date | ts }}",
        deferrable=True,
        timeout=900,
    ).expand(poll_interval=intervals())
    # The group is running only while the job runs (it is not allocated on start).
    group_running = PandoraGroupStatusSensor(
        task_id="group_running",
        group=f"{P}_group",
        target_status="running",
        deferrable=True,
        poll_interval=1,
        timeout=900,
    )
    group_idle = PandoraGroupStatusSensor(
        task_id="group_idle", group=f"{P}_group", target_status="idle", deferrable=True, poll_interval=1, timeout=900
    )

    group >> repo >> submit >> [run_job, job_done, group_running]
    group_running >> group_idle
