"""System test DAGs: a transfer with a ``pandora`` outlet, and a DAG scheduled on that repo.

The example ``example_pandora_assets`` chains its DAGs on a push; this pair proves the same for a transfer (issue 19
item 7): when ``load`` succeeds, its asset event (points, bytes, source in ``extra``) queues
``system_pandora_asset_downstream``, whose task returns the events it was triggered by, for the test to read.
The repo name is static: assets are fixed when the DAG is parsed.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_pandora.assets import pandora_repo_asset
from airflow_provider_pandora.operators import PandoraCreateRepoOperator
from airflow_provider_pandora.transfers.local_to_pandora import LocalFilesystemToPandoraOperator

REPO = "sys_asset_loaded"
LOADED = pandora_repo_asset(REPO)

with DAG(
    dag_id="system_pandora_asset_transfer",
    description="Loads a JSONL file into a repo; the transfer's outlet is the repo",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "system-test", "assets"],
    params={"source_path": Param("/dev/null", type="string")},
) as producer:
    create = PandoraCreateRepoOperator(
        task_id="create_repo",
        repo=REPO,
        schema=[{"key": "user", "valtype": "string", "required": True}, {"key": "hits", "valtype": "long"}],
    )
    load = LocalFilesystemToPandoraOperator(
        task_id="load", source_path="{{ params.source_path }}", repo=REPO, format="jsonl", outlets=[LOADED]
    )
    create >> load

with DAG(
    dag_id="system_pandora_asset_downstream",
    description="Runs when system_pandora_asset_transfer's transfer wrote its repo",
    schedule=[LOADED],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "system-test", "assets"],
) as downstream:

    @task
    def triggered_by(**context: Any) -> list[dict[str, Any]]:
        """The URI and extra of each asset event that queued this run."""
        events = context.get("triggering_asset_events") or {}
        return [
            {"uri": event.asset.uri, "extra": dict(event.extra or {})} for batch in events.values() for event in batch
        ]

    triggered_by()
