"""End-to-end Pandora pipeline: the DAG `make demo` runs.

It builds a pipeline from nothing and takes it down again:

1. create a resource group and start it, and wait (deferred, no worker slot) until it is ``running``;
2. create a repo with a nested schema (arrays, a map inside a map) and an HTTP export from it;
3. stream a local JSONL file into the repo (bounded memory, < 2 MiB batches);
4. create a realtime SQL transform into a second repo;
5. submit an offline SQL job and start it with params, waiting for the run to end (deferrable);
6. delete everything in dependency order, as teardown tasks: they run even when a step fails, and a failed
   step still fails the run.

Every name and address is a DAG param, so the same file runs against the emulator and against Pandora.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_pandora.operators import (
    PandoraCreateExportOperator,
    PandoraCreateGroupOperator,
    PandoraCreateRepoOperator,
    PandoraCreateTransformOperator,
    PandoraDeleteExportOperator,
    PandoraDeleteGroupOperator,
    PandoraDeleteRepoOperator,
    PandoraDeleteTransformOperator,
    PandoraStartGroupOperator,
    PandoraStartJobOperator,
    PandoraStopGroupOperator,
    PandoraSubmitJobOperator,
)
from airflow_provider_pandora.sensors import PandoraGroupStatusSensor
from airflow_provider_pandora.transfers.local_to_pandora import LocalFilesystemToPandoraOperator

CLICKS_SCHEMA: list[dict[str, Any]] = [
    {"key": "user", "valtype": "string", "required": True},
    {"key": "hits", "valtype": "long"},
    {"key": "latency", "valtype": "float"},
    {"key": "ok", "valtype": "boolean"},
    {"key": "at", "valtype": "date"},
    {"key": "tags", "valtype": "array", "elemtype": "string"},
    {
        "key": "meta",
        "valtype": "map",
        "schema": [
            {"key": "zone", "valtype": "string"},
            {
                "key": "device",
                "valtype": "map",
                "schema": [{"key": "os", "valtype": "string"}, {"key": "version", "valtype": "long"}],
            },
        ],
    },
]
CONTAINER = {"type": "M16C4", "count": 1}
P = "{{ params.prefix }}"

with DAG(
    dag_id="example_pandora_pipeline",
    description="Group, repo, JSONL load, SQL transform, offline job, HTTP export, clean-up",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "example"],
    params={
        "prefix": Param("demo", type="string", pattern=r"^[a-zA-Z_][a-zA-Z0-9_]{0,40}$"),
        "source_path": Param("/tmp/clicks.jsonl", type="string", description="JSONL file, glob or directory"),
        "export_host": Param("http://127.0.0.1:8080", type="string", description="HTTP export target"),
        "export_uri": Param("/ingest", type="string"),
        "poll_interval": Param(1, type="number"),
    },
    default_args={"pandora_conn_id": "pandora_default", "retries": 0},
) as dag:
    # [START howto_operator_pandora_create_group]
    create_group = PandoraCreateGroupOperator(
        task_id="create_group", group=f"{P}_group", container=CONTAINER, allocate_on_start=False
    )
    start_group = PandoraStartGroupOperator(task_id="start_group", group=f"{P}_group")
    wait_group = PandoraGroupStatusSensor(
        task_id="wait_group_running",
        group=f"{P}_group",
        target_status="running",
        deferrable=True,
        poll_interval="{{ params.poll_interval }}",
        timeout=600,
    )
    # [END howto_operator_pandora_create_group]
    # [START howto_operator_pandora_create_repo]
    create_repo = PandoraCreateRepoOperator(
        task_id="create_repo", repo=f"{P}_clicks", schema=CLICKS_SCHEMA, group=f"{P}_group"
    )
    # [END howto_operator_pandora_create_repo]
    # [START howto_operator_pandora_create_http_export]
    create_export = PandoraCreateExportOperator(
        task_id="create_http_export",
        repo=f"{P}_clicks",
        export=f"{P}_to_http",
        export_type="http",
        spec={"host": "{{ params.export_host }}", "uri": "{{ params.export_uri }}"},
        whence="oldest",
    )
    # [END howto_operator_pandora_create_http_export]
    # [START howto_transfer_local_to_pandora]
    load = LocalFilesystemToPandoraOperator(
        task_id="load_jsonl", source_path="{{ params.source_path }}", repo=f"{P}_clicks", format="jsonl"
    )
    # [END howto_transfer_local_to_pandora]
    # [START howto_operator_pandora_create_transform]
    create_transform = PandoraCreateTransformOperator(
        task_id="create_transform",
        repo=f"{P}_clicks",
        transform=f"{P}_by_zone",
        dest_repo=f"{P}_clicks_by_zone",
        code=f"select user, hits, latency from {P}_clicks where ok = true",
        interval="1m",
        container=CONTAINER,
    )
    # [END howto_operator_pandora_create_transform]
    # [START howto_operator_pandora_submit_job]
    submit_job = PandoraSubmitJobOperator(
        task_id="submit_job",
        repo=f"{P}_clicks",
        job=f"{P}_daily",
        dest_repo=f"{P}_daily_hits",
        code=(
            f"select user, sum(hits) as hits, count(*) as visits from {P}_clicks "
            "where hits >= ${min_hits} group by user"
        ),
        container=CONTAINER,
        scheduler={"type": "once"},
        params={"min_hits": "0"},
    )
    # [END howto_operator_pandora_submit_job]
    # [START howto_operator_pandora_start_job_deferrable]
    run_job = PandoraStartJobOperator(
        task_id="run_job",
        repo=f"{P}_clicks",
        job=f"{P}_daily",
        params={"min_hits": "1"},
        wait_for_completion=True,
        deferrable=True,
        poll_interval="{{ params.poll_interval }}",
        timeout=900,
    )
    # [END howto_operator_pandora_start_job_deferrable]

    # [START howto_operator_pandora_teardown]
    # ---- teardown, in dependency order: exports and transforms, then repos, then the group ----
    delete_export = PandoraDeleteExportOperator(task_id="delete_export", repo=f"{P}_clicks", export=f"{P}_to_http")
    delete_transform = PandoraDeleteTransformOperator(
        task_id="delete_transform", repo=f"{P}_clicks", transform=f"{P}_by_zone"
    )
    delete_repos = [
        PandoraDeleteRepoOperator(task_id=f"delete_repo_{name}", repo=f"{P}_{name}")
        for name in ("clicks_by_zone", "daily_hits")
    ]
    delete_clicks = PandoraDeleteRepoOperator(task_id="delete_repo_clicks", repo=f"{P}_clicks")
    stop_group = PandoraStopGroupOperator(task_id="stop_group", group=f"{P}_group")
    delete_group = PandoraDeleteGroupOperator(task_id="delete_group", group=f"{P}_group")

    create_group >> start_group >> wait_group
    create_group >> create_repo >> create_export >> load >> create_transform >> submit_job
    [submit_job, wait_group] >> run_job

    run_job >> [delete_export, delete_transform]
    delete_transform >> delete_repos[0]
    [delete_export, *delete_repos] >> delete_clicks
    run_job >> delete_repos[1]
    delete_clicks >> stop_group >> delete_group

    delete_export.as_teardown(setups=create_export)
    delete_transform.as_teardown(setups=create_transform)
    delete_repos[0].as_teardown(setups=create_transform)
    delete_repos[1].as_teardown(setups=submit_job)
    delete_clicks.as_teardown(setups=create_repo)
    stop_group.as_teardown(setups=start_group)
    delete_group.as_teardown(setups=create_group)
    # [END howto_operator_pandora_teardown]
