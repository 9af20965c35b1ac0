"""System test DAG that fails on purpose: the failure report must show its exception and traceback.

``explode`` raises; ``never_runs`` then ends ``upstream_failed``. The test triggers it once on the running
deployment and checks what a failed run's report (the text pytest prints) says. It imports on Airflow 2.11 and 3.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, task

MESSAGE = "deliberate failure 7f3a"

with DAG(
    dag_id="system_pandora_failure",
    description="One task that raises, one downstream task that never runs",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "system-test"],
    default_args={"retries": 0},
) as dag:

    @task
    def explode() -> None:
        print("about to fail on purpose")
        raise RuntimeError(MESSAGE)

    @task
    def never_runs() -> None:
        """Its upstream fails, so it ends upstream_failed."""

    explode() >> never_runs()
