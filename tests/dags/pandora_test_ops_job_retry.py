"""A retried start task reconnects to the run its first try started instead of starting another.

The first try gives up after 0.5 s without stopping the job (``stop_on_timeout=False``); the retry
has time to wait for the same run to end. The job lasts 10 s so that it is still running when the retry
starts, even where dag.test() takes seconds to start a task (Airflow 3.0 on a busy machine).
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_pandora.operators import (
    PandoraCreateRepoOperator,
    PandoraStartJobOperator,
    PandoraSubmitJobOperator,
)

with DAG(
    dag_id="pandora_test_ops_job_retry",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "test"],
) as dag:
    repo = PandoraCreateRepoOperator(task_id="create_repo", repo="r_src", schema=[{"key": "n", "valtype": "long"}])
    submit = PandoraSubmitJobOperator(
        task_id="submit",
        repo="r_src",
        job="r_job",
        dest_repo="r_out",
        code="-- emulator: sleep=10\nselect n from r_src",
        container={"type": "M16C4", "count": 1},
        scheduler={"type": "crontab", "crontab": "0 0 1 1 *"},
    )
    run = PandoraStartJobOperator(
        task_id="run",
        repo="r_src",
        job="r_job",
        poll_interval=0.2,
        timeout="{{ 0.5 if ti.try_number == 1 else 30 }}",
        stop_on_timeout=False,
        retries=1,
        retry_delay=pendulum.duration(seconds=0),
    )
    repo >> submit >> run
