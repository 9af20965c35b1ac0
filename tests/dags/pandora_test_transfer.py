"""A local transfer whose first try stops at a bad line; the retry skips it and resumes from the checkpoint."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_pandora.operators import PandoraCreateRepoOperator
from airflow_provider_pandora.transfers.local_to_pandora import LocalFilesystemToPandoraOperator

with DAG(
    dag_id="pandora_test_transfer",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "test"],
    params={"source": Param("/nonexistent", type="string")},
) as dag:
    repo = PandoraCreateRepoOperator(
        task_id="create_repo",
        repo="t_transfer",
        schema=[{"key": "user", "valtype": "string", "required": True}, {"key": "hits", "valtype": "long"}],
    )
    load = LocalFilesystemToPandoraOperator(
        task_id="load",
        source_path="{{ params.source }}",
        repo="t_transfer",
        on_bad_line="{{ 'fail' if ti.try_number == 1 else 'skip' }}",
        max_in_flight="{{ 2 }}",
        gzip="{{ true }}",
        retries=1,
        retry_delay=pendulum.duration(seconds=0),
    )
    repo >> load
