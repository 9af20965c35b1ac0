"""One export of each type from one repo: HTTP, TSDB, LogDB, Kodo and MongoDB.

Shows the spec of each export type (field references are ``#field``), ``whence``, updating an export's spec
in place, and deleting exports before their repo. Kodo's ``keyPrefix`` takes the magic variables
``$(year) $(mon) $(day) $(hour) $(min) $(sec)``.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_pandora.operators import (
    PandoraCreateExportOperator,
    PandoraCreateRepoOperator,
    PandoraDeleteExportOperator,
    PandoraDeleteRepoOperator,
    PandoraPushDataOperator,
    PandoraUpdateExportOperator,
)

P = "{{ params.prefix }}"
# A run triggered from the UI or the REST API on Airflow 3 has no logical date (so no ds_nodash or
# data_interval_start); dag_run.run_after is its stand-in there, and Airflow 2 always has a logical date.
DAY = "{{ (dag_run.logical_date or dag_run.run_after) | ds_nodash }}"
AT = "{{ (dag_run.data_interval_start or dag_run.run_after) | ts }}"
SCHEMA: list[dict[str, Any]] = [
    {"key": "user", "valtype": "string", "required": True},
    {"key": "zone", "valtype": "string"},
    {"key": "hits", "valtype": "long"},
    {"key": "at", "valtype": "date"},
]

# [START howto_operator_pandora_export_specs]
EXPORTS: dict[str, dict[str, Any]] = {
    "http": {"host": "{{ params.http_host }}", "uri": f"/pandora/{DAY}"},
    "tsdb": {
        "destRepoName": f"{P}_tsdb",
        "series": "hits",
        "tags": {"user": "#user", "zone": "#zone"},
        "fields": {"hits": "#hits"},
        "timestamp": "#at",
    },
    "logdb": {"destRepoName": f"{P}_logdb", "doc": {"user": "#user", "hits": "#hits", "at": "#at"}},
    "kodo": {
        "bucket": "{{ params.kodo_bucket }}",
        "keyPrefix": f"{P}/date=$(year)-$(mon)-$(day)/",
        "email": "{{ params.kodo_email }}",
        "accessKey": "{{ params.kodo_access_key }}",
        "fields": {"user": "#user", "hits": "#hits"},
        "format": "json",
        "compress": True,
    },
    "mongo": {
        "host": "{{ params.mongo_host }}",
        "dbName": "analytics",
        "collName": "hits",
        "mode": "UPSERT",
        "updateKey": ["user"],
        "doc": {"$inc": {"hits": "#hits"}},
    },
}
# [END howto_operator_pandora_export_specs]

with DAG(
    dag_id="example_pandora_exports",
    description="HTTP, TSDB, LogDB, Kodo and MongoDB exports of one repo",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "example"],
    params={
        "prefix": Param("exports", type="string"),
        "http_host": Param("http://127.0.0.1:8080", type="string"),
        "kodo_bucket": Param("pandora-exports", type="string"),
        "kodo_email": Param("ops@example.com", type="string"),
        "kodo_access_key": Param("KODO_ACCESS_KEY", type="string", description="the bucket owner's AK (not the SK)"),
        "mongo_host": Param("127.0.0.1:27017", type="string"),
    },
) as dag:
    create_repo = PandoraCreateRepoOperator(task_id="create_repo", repo=f"{P}_events", schema=SCHEMA)
    push = PandoraPushDataOperator(
        task_id="push_points",
        repo=f"{P}_events",
        points=[
            {"user": "ann", "zone": "nb", "hits": 3, "at": AT},
            {"user": "bob", "zone": "gz", "hits": 5, "at": AT},
        ],
    )
    delete_repo = PandoraDeleteRepoOperator(task_id="delete_repo", repo=f"{P}_events")
    deletes = {}
    # [START howto_operator_pandora_create_export]
    for export_type, spec in EXPORTS.items():
        create = PandoraCreateExportOperator(
            task_id=f"create_{export_type}_export",
            repo=f"{P}_events",
            export=f"{P}_{export_type}",
            export_type=export_type,
            spec=spec,
            whence="oldest",
        )
        delete = PandoraDeleteExportOperator(
            task_id=f"delete_{export_type}_export", repo=f"{P}_events", export=f"{P}_{export_type}"
        )
        deletes[export_type] = delete
        create_repo >> create >> push >> delete >> delete_repo
    # [END howto_operator_pandora_create_export]
    # Exports can be changed in place: here the HTTP export moves to another path.
    # [START howto_operator_pandora_update_export]
    update_http = PandoraUpdateExportOperator(
        task_id="update_http_export",
        repo=f"{P}_events",
        export=f"{P}_http",
        export_type="http",
        spec={"host": "{{ params.http_host }}", "uri": "/pandora/v2"},
    )
    # [END howto_operator_pandora_update_export]
    push >> update_http >> deletes["http"]
