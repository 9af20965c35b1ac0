"""Upload a parser plugin jar and use it in a transform.

The jar is sent with its base64 Content-MD5 (the service checks it); the transform names the plugin's class and
declares its output fields. Pandora runs the plugin on its own cluster; the local emulator stores plugin
transforms but does not execute Java.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_pandora.operators import (
    PandoraCreateRepoOperator,
    PandoraCreateTransformOperator,
    PandoraDeleteRepoOperator,
    PandoraDeleteTransformOperator,
    PandoraUploadPluginOperator,
)

P = "{{ params.prefix }}"

with DAG(
    dag_id="example_pandora_plugin",
    description="Plugin jar upload and a plugin transform",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "example"],
    params={
        "prefix": Param("plugin", type="string"),
        "jar_path": Param("/opt/plugins/log-parser.jar", type="string", description="local path of the jar"),
        "plugin": Param("com.example.LogParser", type="string", description="the plugin's class name"),
    },
) as dag:
    # [START howto_operator_pandora_upload_plugin]
    upload = PandoraUploadPluginOperator(
        task_id="upload_plugin", plugin="{{ params.plugin }}", jar_path="{{ params.jar_path }}"
    )
    # [END howto_operator_pandora_upload_plugin]
    repo = PandoraCreateRepoOperator(
        task_id="create_raw_repo", repo=f"{P}_raw", schema=[{"key": "line", "valtype": "string", "required": True}]
    )
    # [START howto_operator_pandora_plugin_transform]
    transform = PandoraCreateTransformOperator(
        task_id="create_plugin_transform",
        repo=f"{P}_raw",
        transform=f"{P}_parse",
        dest_repo=f"{P}_parsed",
        plugin={
            "name": "{{ params.plugin }}",
            "output": [{"name": "status", "type": "long"}, {"name": "path", "type": "string"}],
        },
        code=f"select * from {P}_raw",
        interval="5m",
        container={"type": "M16C4", "count": 1},
    )
    # [END howto_operator_pandora_plugin_transform]
    delete_transform = PandoraDeleteTransformOperator(
        task_id="delete_transform", repo=f"{P}_raw", transform=f"{P}_parse"
    )
    delete_parsed = PandoraDeleteRepoOperator(task_id="delete_parsed_repo", repo=f"{P}_parsed")
    delete_raw = PandoraDeleteRepoOperator(task_id="delete_raw_repo", repo=f"{P}_raw")
    [upload, repo] >> transform >> delete_transform >> delete_parsed >> delete_raw
