"""A daily offline job whose params come from the data interval.

The job is submitted once (``if_exists="update"`` keeps its SQL and defaults in step with this file), then each
DAG run starts it with the run's own day and waits for that run to end. A retried task reconnects to a run that
is still going instead of starting a second one, and a run that ends in Fail fails the task with the job's
message. ``crontab`` and ``loop`` schedulers let Pandora start the job by itself; here Airflow drives it.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_pandora.operators import (
    PandoraCreateRepoOperator,
    PandoraPushDataOperator,
    PandoraStartJobOperator,
    PandoraSubmitJobOperator,
)

P = "{{ params.prefix }}"
# A manual run on Airflow 3 may have no logical date (ds, ds_nodash and data_interval_start are then undefined):
# dag_run.run_after stands in for it. Airflow 2 always has a logical date.
DS = "{{ (dag_run.logical_date or dag_run.run_after) | ds }}"
DS_NODASH = "{{ (dag_run.logical_date or dag_run.run_after) | ds_nodash }}"
INTERVAL_DAY = "{{ (dag_run.data_interval_start or dag_run.run_after) | ds }}"

with DAG(
    dag_id="example_pandora_scheduled_job",
    description="An offline SQL job started once per data interval with the interval as params",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 5, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["pandora", "example"],
    params={"prefix": Param("sched", type="string"), "poll_interval": Param(2, type="number")},
    default_args={"retries": 2, "retry_delay": pendulum.duration(seconds=30)},
) as dag:
    create_repo = PandoraCreateRepoOperator(
        task_id="create_orders_repo",
        repo=f"{P}_orders",
        schema=[
            {"key": "order_id", "valtype": "string", "required": True},
            {"key": "amount", "valtype": "float"},
            {"key": "day", "valtype": "string"},
        ],
    )
    seed = PandoraPushDataOperator(
        task_id="push_orders",
        repo=f"{P}_orders",
        points=[
            {"order_id": f"{DS_NODASH}-1", "amount": 12.5, "day": DS},
            {"order_id": f"{DS_NODASH}-2", "amount": 7.5, "day": DS},
            {"order_id": "older", "amount": 100.0, "day": "1999-01-01"},
        ],
    )
    # [START howto_operator_pandora_scheduled_job]
    submit = PandoraSubmitJobOperator(
        task_id="submit_daily_revenue",
        repo=f"{P}_orders",
        job=f"{P}_daily_revenue",
        dest_repo=f"{P}_revenue",
        code="select '${day}' as day, sum(amount) as revenue, count(*) as orders from "
        + f"{P}_orders where day = '${{day}}'",
        container={"type": "M16C4", "count": 1},
        scheduler={"type": "crontab", "crontab": "0 0 1 * * ?"},
        params={"day": "1970-01-01"},
        if_exists="update",
    )
    run = PandoraStartJobOperator(
        task_id="run_for_interval",
        repo=f"{P}_orders",
        job=f"{P}_daily_revenue",
        params={"day": INTERVAL_DAY},
        wait_for_completion=True,
        poll_interval="{{ params.poll_interval }}",
        execution_timeout=pendulum.duration(hours=2),
    )
    # [END howto_operator_pandora_scheduled_job]
    create_repo >> seed >> submit >> run
