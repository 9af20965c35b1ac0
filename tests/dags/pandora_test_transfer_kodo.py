"""One mapped Kodo transfer per object under a prefix (the example DAG's pattern), in real Airflow."""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_pandora.operators import PandoraCreateRepoOperator
from airflow_provider_pandora.transfers.kodo_to_pandora import KodoToPandoraOperator

with DAG(
    dag_id="pandora_test_transfer_kodo",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "test"],
    params={"bucket": Param("none", type="string"), "prefix": Param("logs/", type="string")},
) as dag:
    repo = PandoraCreateRepoOperator(
        task_id="create_repo",
        repo="t_kodo",
        schema=[{"key": "user", "valtype": "string", "required": True}, {"key": "hits", "valtype": "long"}],
    )

    @task
    def list_objects(params: dict[str, Any] | None = None) -> list[str]:
        from airflow_provider_pandora.hooks.kodo import KodoHook

        p = params or {}
        return KodoHook().list_keys(p["bucket"], prefix=p["prefix"])

    load = KodoToPandoraOperator.partial(task_id="load", bucket="{{ params.bucket }}", repo="t_kodo").expand(
        key=list_objects()
    )
    repo >> load
