"""System test DAG: one long local transfer with a retry, for the worker-loss test to kill mid-way."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_pandora.operators import PandoraCreateRepoOperator
from airflow_provider_pandora.transfers.local_to_pandora import LocalFilesystemToPandoraOperator

P = "{{ params.prefix }}"

with DAG(
    dag_id="system_pandora_worker_loss",
    description="A local transfer with retries=1 that a test kills on its worker; the retry resumes",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "system-test"],
    params={"prefix": Param("loss", type="string"), "source_path": Param("/dev/null", type="string")},
) as dag:
    repo = PandoraCreateRepoOperator(
        task_id="create_repo",
        repo=f"{P}_events",
        schema=[
            {"key": "n", "valtype": "long", "required": True},
            {"key": "user", "valtype": "string"},
            {"key": "pad", "valtype": "string"},
        ],
    )
    # One batch in flight, so the killed try has a clean prefix of acknowledged batches behind it.
    load = LocalFilesystemToPandoraOperator(
        task_id="load",
        source_path="{{ params.source_path }}",
        repo=f"{P}_events",
        format="jsonl",
        max_in_flight=1,
        retries=1,
        retry_delay=pendulum.duration(seconds=2),
    )
    repo >> load
