"""A run that outlives its timeout (sync and deferred): the task fails and the job is stopped."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_pandora.operators import (
    PandoraCreateRepoOperator,
    PandoraStartJobOperator,
    PandoraSubmitJobOperator,
)

with DAG(
    dag_id="pandora_test_ops_job_timeout",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"deferrable": False},
    tags=["pandora", "test"],
) as dag:
    repo = PandoraCreateRepoOperator(task_id="create_repo", repo="o_src", schema=[{"key": "n", "valtype": "long"}])
    submit = PandoraSubmitJobOperator(
        task_id="submit",
        repo="o_src",
        job="o_job",
        dest_repo="o_out",
        code="-- emulator: sleep=30\nselect n from o_src",
        container={"type": "M16C4", "count": 1},
        scheduler={"type": "crontab", "crontab": "0 0 1 1 *"},
    )
    run_sync = PandoraStartJobOperator(task_id="run_sync", repo="o_src", job="o_job", poll_interval=0.2, timeout=1)
    run_deferred = PandoraStartJobOperator(
        task_id="run_deferred",
        repo="o_src",
        job="o_job",
        poll_interval=0.2,
        deferrable=True,
        execution_timeout=pendulum.duration(seconds=1),
        trigger_rule="all_done",
    )
    repo >> submit >> run_sync >> run_deferred
