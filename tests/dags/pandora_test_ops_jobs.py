"""Offline jobs: a run that succeeds (sync), one waited for in the triggerer, and the job sensor."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_pandora.operators import (
    PandoraCreateRepoOperator,
    PandoraPushDataOperator,
    PandoraStartJobOperator,
    PandoraStopJobOperator,
    PandoraSubmitJobOperator,
)
from airflow_provider_pandora.sensors import PandoraJobSensor

#: A schedule that never fires during a test, so every run is one the DAG started.
NEVER = {"type": "crontab", "crontab": "0 0 1 1 *"}
CONTAINER = {"type": "M16C4", "count": 1}

with DAG(
    dag_id="pandora_test_ops_jobs",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"poll_interval": 0.2, "sleep": 1},
    tags=["pandora", "test"],
) as dag:
    repo = PandoraCreateRepoOperator(task_id="create_repo", repo="j_src", schema=[{"key": "n", "valtype": "long"}])
    push = PandoraPushDataOperator(task_id="push", repo="j_src", points=[{"n": 1}, {"n": 2}])
    submit = PandoraSubmitJobOperator(
        task_id="submit",
        repo="j_src",
        job="j_job",
        dest_repo="j_out",
        code="-- emulator: sleep={{ params.sleep }}\nselect sum(n) as total from j_src where n >= ${min_n}",
        container=CONTAINER,
        scheduler=NEVER,
        params={"min_n": "1"},
    )
    submit_again = PandoraSubmitJobOperator(
        task_id="submit_again",
        repo="j_src",
        job="j_job",
        dest_repo="j_out",
        code="-- emulator: sleep={{ params.sleep }}\nselect sum(n) as total from j_src where n >= ${min_n}",
        container=CONTAINER,
        scheduler=NEVER,
        params={"min_n": "1"},
    )
    run_sync = PandoraStartJobOperator(
        task_id="run_sync", repo="j_src", job="j_job", params={"min_n": "2"}, poll_interval="{{ params.poll_interval }}"
    )
    run_deferred = PandoraStartJobOperator(
        task_id="run_deferred",
        repo="j_src",
        job="j_job",
        deferrable=True,
        poll_interval="{{ params.poll_interval }}",
        execution_timeout=pendulum.duration(minutes=2),
    )
    start_only = PandoraStartJobOperator(task_id="start_only", repo="j_src", job="j_job", wait_for_completion=False)
    sensor = PandoraJobSensor(task_id="sensor", repo="j_src", job="j_job", poll_interval=0.2, timeout=60)
    sensor_deferred = PandoraJobSensor(
        task_id="sensor_deferred", repo="j_src", job="j_job", poll_interval=0.2, timeout=60, deferrable=True
    )
    stop = PandoraStopJobOperator(task_id="stop", repo="j_src", job="j_job")
    (
        repo
        >> push
        >> submit
        >> submit_again
        >> run_sync
        >> run_deferred
        >> start_only
        >> sensor
        >> sensor_deferred
        >> stop
    )
