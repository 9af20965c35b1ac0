"""Load every object under a Kodo prefix, one mapped task per object, spread over the workers.

``KodoHook`` lists the keys (paginated) and ``KodoToPandoraOperator.partial(...).expand(key=...)`` streams each
object into the repo: ``.gz`` objects are decompressed on the fly, memory stays bounded whatever the object size,
and a retried task resumes after the last acknowledged batch.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_pandora.operators import PandoraCreateRepoOperator
from airflow_provider_pandora.transfers.kodo_to_pandora import KodoToPandoraOperator

P = "{{ params.prefix }}"

with DAG(
    dag_id="example_pandora_kodo_mapped",
    description="One mapped KodoToPandoraOperator task per object under a Kodo prefix",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "kodo", "example"],
    params={
        "prefix": Param("kodo", type="string"),
        "bucket": Param("logs", type="string"),
        "key_prefix": Param("clicks/2024-05-01/", type="string"),
    },
) as dag:
    create_repo = PandoraCreateRepoOperator(
        task_id="create_repo",
        repo=f"{P}_clicks",
        schema=[
            {"key": "user", "valtype": "string", "required": True},
            {"key": "hits", "valtype": "long"},
            {"key": "at", "valtype": "date"},
        ],
    )

    # [START howto_transfer_kodo_to_pandora_mapped]
    @task
    def list_objects(params: dict[str, Any] | None = None) -> list[str]:
        from airflow_provider_pandora.hooks.kodo import KodoHook

        p = params or {}
        keys = KodoHook().list_keys(p["bucket"], prefix=p["key_prefix"])
        if not keys:
            raise ValueError(f"no objects under kodo://{p['bucket']}/{p['key_prefix']}")
        return keys

    load = KodoToPandoraOperator.partial(
        task_id="load_object",
        bucket="{{ params.bucket }}",
        repo=f"{P}_clicks",
        format="jsonl",
        max_active_tis_per_dag=4,
    ).expand(key=list_objects())
    # [END howto_transfer_kodo_to_pandora_mapped]

    create_repo >> load
