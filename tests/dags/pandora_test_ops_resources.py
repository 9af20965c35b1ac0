"""Every resource operator and the group sensor, run twice where a retry must be harmless."""

from __future__ import annotations

import itertools
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_pandora.operators import (
    PandoraCreateExportOperator,
    PandoraCreateGroupOperator,
    PandoraCreateRepoOperator,
    PandoraCreateTransformOperator,
    PandoraDeleteExportOperator,
    PandoraDeleteGroupOperator,
    PandoraDeleteRepoOperator,
    PandoraDeleteTransformOperator,
    PandoraPushDataOperator,
    PandoraStartGroupOperator,
    PandoraStopGroupOperator,
    PandoraUpdateExportOperator,
    PandoraUpdateGroupOperator,
    PandoraUpdateRepoOperator,
    PandoraUpdateTransformOperator,
    PandoraUploadPluginOperator,
)
from airflow_provider_pandora.sensors import PandoraGroupStatusSensor

SCHEMA: list[dict[str, Any]] = [
    {"key": "user", "valtype": "string", "required": True},
    {"key": "hits", "valtype": "long"},
]
CONTAINER = {"type": "M16C4", "count": 1}

with DAG(
    dag_id="pandora_test_ops_resources",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"jar_path": "", "poll_interval": 0.2},
    tags=["pandora", "test"],
) as dag:
    tasks: list[Any] = [
        PandoraCreateGroupOperator(task_id="create_group", group="t_group", container=CONTAINER),
        PandoraCreateGroupOperator(task_id="create_group_again", group="t_group", container=CONTAINER),
        PandoraUpdateGroupOperator(task_id="update_group", group="t_group", container={"type": "M16C4", "count": 2}),
        PandoraStartGroupOperator(task_id="start_group", group="t_group"),
        PandoraGroupStatusSensor(
            task_id="wait_running", group="t_group", target_status="running", poll_interval=0.2, timeout=30
        ),
        PandoraCreateRepoOperator(task_id="create_repo", repo="t_src_{{ ds_nodash }}", schema=SCHEMA),
        PandoraCreateRepoOperator(task_id="create_repo_again", repo="t_src_{{ ds_nodash }}", schema=SCHEMA),
        PandoraUpdateRepoOperator(
            task_id="update_repo",
            repo="t_src_{{ ds_nodash }}",
            schema=[*SCHEMA, {"key": "zone", "valtype": "string"}],
        ),
        PandoraPushDataOperator(
            task_id="push",
            repo="t_src_{{ ds_nodash }}",
            points=[{"user": "ann", "hits": 3, "zone": "{{ ds }}"}, {"user": "bob", "hits": 5}],
        ),
        PandoraCreateTransformOperator(
            task_id="create_transform",
            repo="t_src_{{ ds_nodash }}",
            transform="t_tf",
            dest_repo="t_dst",
            code="select user, hits from t_src_{{ ds_nodash }}",
            interval="5m",
            container=CONTAINER,
        ),
        PandoraUpdateTransformOperator(
            task_id="update_transform", repo="t_src_{{ ds_nodash }}", transform="t_tf", interval="10m"
        ),
        PandoraCreateExportOperator(
            task_id="create_export",
            repo="t_dst",
            export="t_exp",
            export_type="http",
            spec={"host": "http://127.0.0.1:9", "uri": "/in"},
        ),
        PandoraUpdateExportOperator(
            task_id="update_export",
            repo="t_dst",
            export="t_exp",
            export_type="http",
            spec={"host": "http://127.0.0.1:9", "uri": "/in2"},
        ),
        PandoraUploadPluginOperator(
            task_id="upload_plugin", plugin="com.example.Parser", jar_path="{{ params.jar_path }}"
        ),
        PandoraUploadPluginOperator(
            task_id="upload_plugin_again", plugin="com.example.Parser", jar_path="{{ params.jar_path }}"
        ),
        PandoraDeleteExportOperator(task_id="delete_export", repo="t_dst", export="t_exp"),
        PandoraDeleteTransformOperator(task_id="delete_transform", repo="t_src_{{ ds_nodash }}", transform="t_tf"),
        PandoraDeleteRepoOperator(task_id="delete_dst", repo="t_dst"),
        PandoraDeleteRepoOperator(task_id="delete_src", repo="t_src_{{ ds_nodash }}"),
        PandoraDeleteRepoOperator(task_id="delete_src_missing", repo="t_src_{{ ds_nodash }}"),
        PandoraStopGroupOperator(task_id="stop_group", group="t_group"),
        PandoraGroupStatusSensor(
            task_id="wait_idle", group="t_group", target_status="idle", poll_interval=0.2, timeout=30, mode="reschedule"
        ),
        PandoraDeleteGroupOperator(task_id="delete_group", group="t_group"),
        PandoraDeleteGroupOperator(task_id="delete_group_missing", group="t_group"),
    ]
    for upstream, downstream in itertools.pairwise(tasks):
        upstream >> downstream
