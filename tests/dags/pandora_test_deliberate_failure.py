"""A DAG that fails on purpose: a failed run of it through tests.common.dag_test must say what ``explode`` raised."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, task

with DAG(
    dag_id="pandora_test_deliberate_failure",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 0},
    tags=["pandora", "test"],
) as dag:

    @task
    def explode() -> None:
        raise RuntimeError("deliberate failure 7f3a")

    @task
    def after() -> None:
        """Never runs: its upstream fails."""

    explode() >> after()
