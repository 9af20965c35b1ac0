"""The browser check's job DAG: it uses the ``pandora_console`` connection the test saved through the UI form.

That connection's ``console_url`` extra makes the job tasks' "Pandora console" link point at a page the test
serves, so following the link in the browser proves the whole path (form -> extras -> XCom -> link), across a deferral.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_pandora.operators import (
    PandoraCreateRepoOperator,
    PandoraDeleteRepoOperator,
    PandoraStartJobOperator,
    PandoraSubmitJobOperator,
)

P = "{{ params.prefix }}"

with DAG(
    dag_id="system_console_link",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "system-test"],
    params={"prefix": Param("console", type="string")},
    default_args={"pandora_conn_id": "pandora_console", "retries": 0},
) as dag:
    repo = PandoraCreateRepoOperator(task_id="create_repo", repo=f"{P}_src", schema=[{"key": "n", "valtype": "long"}])
    submit = PandoraSubmitJobOperator(
        task_id="submit_job",
        repo=f"{P}_src",
        job=f"{P}_job",
        dest_repo=f"{P}_out",
        code=f"-- emulator: sleep=2\nselect count(*) as n from {P}_src",  # long enough to defer
        container={"type": "M16C4", "count": 1},
        scheduler={"type": "once"},
    )
    run = PandoraStartJobOperator(  # deferred: the link must survive the hand-over to the triggerer
        task_id="run_job",
        repo=f"{P}_src",
        job=f"{P}_job",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=0.5,
    )
    cleanup = [
        PandoraDeleteRepoOperator(task_id="delete_out", repo=f"{P}_out"),
        PandoraDeleteRepoOperator(task_id="delete_src", repo=f"{P}_src"),
    ]
    repo >> submit >> run >> cleanup[0] >> cleanup[1]
