"""Event-driven scheduling in the deployment: one DAG run per run of a job that Pandora (the emulator) schedules.

The asset's ``AssetWatcher`` runs ``PandoraJobRunEventTrigger`` in the triggerer; ``tests/system/
test_event_scheduling.py`` creates the job (a Quartz crontab firing every 20 s), kills the triggerer with SIGKILL
and counts the asset events and DAG runs against the job's history.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_pandora.assets import pandora_repo_asset
from airflow_provider_pandora.triggers import PandoraJobRunEventTrigger

REPO, JOB = "evs_src", "evs_every20s"
OUT = pandora_repo_asset("evs_out")
RUNS = Asset(
    name=OUT.name,
    uri=OUT.uri,
    watchers=[
        AssetWatcher(name="evs_job_runs", trigger=PandoraJobRunEventTrigger(repo=REPO, job=JOB, poll_interval=2))
    ],
)

with DAG(
    dag_id="system_pandora_job_runs",
    schedule=[RUNS],
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "system-test"],
) as dag:

    @task
    def job_runs(**context: Any) -> list[int]:
        """The Pandora run ids behind this DAG run (one asset event each; events made by hand carry none)."""
        events = context["triggering_asset_events"]
        payloads = [event.extra.get("payload") for batch in events.values() for event in batch]
        return [int(payload["run"]["run_id"]) for payload in payloads if payload]

    job_runs()
