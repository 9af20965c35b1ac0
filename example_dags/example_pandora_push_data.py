"""Push points produced by an upstream task (an XCom) into a repo, then extend the repo's schema.

``PandoraPushDataOperator`` validates every point against the repo schema before sending, encodes them in the
push format and splits them into batches below 2 MiB; a bad point fails the task naming its index and field.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_pandora.operators import (
    PandoraCreateRepoOperator,
    PandoraDeleteRepoOperator,
    PandoraPushDataOperator,
    PandoraUpdateRepoOperator,
)

P = "{{ params.prefix }}"
SCHEMA: list[dict[str, Any]] = [
    {"key": "sensor", "valtype": "string", "required": True},
    {"key": "celsius", "valtype": "float"},
    {"key": "at", "valtype": "date"},
    {"key": "labels", "valtype": "map", "schema": [{"key": "site", "valtype": "string"}]},
]

with DAG(
    dag_id="example_pandora_push_data",
    description="Points from an upstream task pushed to a repo; schema extended afterwards",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "example"],
    params={"prefix": Param("push", type="string"), "sensors": Param(50, type="integer", minimum=1)},
) as dag:
    # [START howto_operator_pandora_push_data]
    @task
    def readings(params: dict[str, Any] | None = None, data_interval_start: Any = None) -> list[dict[str, Any]]:
        """Stand-in for any upstream source: an API call, a query, a file."""
        count = int((params or {}).get("sensors", 50))
        at = (data_interval_start or pendulum.now("UTC")).isoformat()
        return [
            {"sensor": f"s{i:03d}", "celsius": 20 + i / 10, "at": at, "labels": {"site": "nb" if i % 2 else "gz"}}
            for i in range(count)
        ]

    create_repo = PandoraCreateRepoOperator(task_id="create_repo", repo=f"{P}_readings", schema=SCHEMA)
    push = PandoraPushDataOperator(task_id="push_readings", repo=f"{P}_readings", points=readings())
    # [END howto_operator_pandora_push_data]
    # [START howto_operator_pandora_update_repo]
    extend = PandoraUpdateRepoOperator(
        task_id="add_humidity_field",
        repo=f"{P}_readings",
        schema=[*SCHEMA, {"key": "humidity", "valtype": "float"}],
    )
    # [END howto_operator_pandora_update_repo]
    delete_repo = PandoraDeleteRepoOperator(task_id="delete_repo", repo=f"{P}_readings")
    create_repo >> push >> extend >> delete_repo
