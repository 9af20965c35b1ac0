"""Data-aware scheduling on Pandora repos: a DAG that runs after another DAG wrote a repo.

``example_pandora_assets_producer`` creates the repo and pushes points into it with one extra line,
``outlets=[CLICKS]``. When it succeeds, Airflow records an asset event for ``pandora://<endpoint>/assets_clicks``
whose ``extra`` says what was written (points, bytes, batches), and queues every DAG scheduled on that asset:
here ``example_pandora_assets_consumer``, which reads the event and runs an offline job over the repo.

Both DAGs name the repo with ``pandora_repo_asset("assets_clicks")``, which reads no connection: the endpoint comes
from ``[pandora] asset_endpoint`` (``AIRFLOW__PANDORA__ASSET_ENDPOINT``; default ``https://pipeline.qiniu.com``).
Set it to the endpoint of ``pandora_default``, e.g. ``http://127.0.0.1:8480`` for the emulator: the push task
checks before sending anything that its outlet names the endpoint its connection writes to, and fails saying what
to set if not. Assets are fixed when the DAG is parsed, so the repo name is static here.

On Airflow 3, ``example_pandora_assets_job_runs`` runs once per successful run of an offline job that Pandora
itself schedules every hour (``example_pandora_assets_loop_job`` submits it): the asset it is scheduled on has an
``AssetWatcher`` whose ``PandoraJobRunEventTrigger`` watches the job's history from the triggerer.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_pandora.assets import pandora_repo_asset
from airflow_provider_pandora.operators import (
    PandoraCreateRepoOperator,
    PandoraPushDataOperator,
    PandoraStartJobOperator,
    PandoraSubmitJobOperator,
)
from airflow_provider_pandora.version_compat import AIRFLOW_V_3_0_PLUS

# [START howto_asset_pandora_assets]
CLICKS = pandora_repo_asset("assets_clicks")
TOTALS = pandora_repo_asset("assets_click_totals")
# [END howto_asset_pandora_assets]
SCHEMA: list[dict[str, Any]] = [
    {"key": "user", "valtype": "string", "required": True},
    {"key": "hits", "valtype": "long"},
]

with DAG(
    dag_id="example_pandora_assets_producer",
    description="Writes a Pandora repo and emits its asset event (points written in the event's extra)",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "example", "assets"],
    params={"users": Param(20, type="integer", minimum=1)},
) as producer:

    @task
    def clicks(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Stand-in for any upstream source."""
        return [{"user": f"u{i:03d}", "hits": i % 7} for i in range(int((params or {}).get("users", 20)))]

    create = PandoraCreateRepoOperator(task_id="create_clicks_repo", repo="assets_clicks", schema=SCHEMA)
    # [START howto_asset_pandora_push_outlets]
    push = PandoraPushDataOperator(task_id="push_clicks", repo="assets_clicks", points=clicks(), outlets=[CLICKS])
    # [END howto_asset_pandora_push_outlets]
    create >> push


with DAG(
    dag_id="example_pandora_assets_consumer",
    description="Runs when the producer wrote the clicks repo: reads the asset event, then an offline job over it",
    # [START howto_asset_pandora_consumer_schedule]
    schedule=[CLICKS],
    # [END howto_asset_pandora_consumer_schedule]
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["pandora", "example", "assets"],
    params={"poll_interval": Param(2, type="number")},
) as consumer:
    # [START howto_asset_pandora_triggering_events]
    @task
    def what_was_written(**context: Any) -> dict[str, Any]:
        """The extra of the event that triggered this run (Airflow 3: triggering_asset_events; 2.11: dataset)."""
        events = context.get("triggering_asset_events") or context.get("triggering_dataset_events") or {}
        written = [dict(event.extra or {}) for batch in events.values() for event in batch]
        print(f"triggered by {len(written)} asset event(s): {written}")
        return {"events": written}

    # [END howto_asset_pandora_triggering_events]

    create_totals = PandoraCreateRepoOperator(
        task_id="create_totals_repo",
        repo="assets_click_totals",
        schema=[{"key": "users", "valtype": "long"}, {"key": "hits", "valtype": "long"}],
    )
    submit = PandoraSubmitJobOperator(
        task_id="submit_totals_job",
        repo="assets_clicks",
        job="assets_click_totals",
        dest_repo="assets_click_totals",
        code="select count(*) as users, sum(hits) as hits from stream",
        container={"type": "M16C4", "count": 1},
        scheduler={"type": "once"},
        if_exists="update",
    )
    run = PandoraStartJobOperator(
        task_id="run_totals_job",
        repo="assets_clicks",
        job="assets_click_totals",
        poll_interval="{{ params.poll_interval }}",
        outlets=[TOTALS],
    )
    what_was_written() >> create_totals >> submit >> run


# ---- event-driven: a DAG run per run of a job that Pandora schedules itself (Airflow 3.0+) --------------------
if AIRFLOW_V_3_0_PLUS:  # AssetWatcher and BaseEventTrigger do not exist on Airflow 2.11
    from airflow.sdk import Asset, AssetWatcher

    from airflow_provider_pandora.triggers import PandoraJobRunEventTrigger

    with DAG(
        dag_id="example_pandora_assets_loop_job",
        description="Submits an offline job that Pandora runs by itself every hour (a loop scheduler)",
        schedule=None,
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        tags=["pandora", "example", "assets"],
    ) as loop_job:
        PandoraCreateRepoOperator(
            task_id="create_clicks_repo", repo="assets_clicks", schema=SCHEMA
        ) >> PandoraSubmitJobOperator(
            task_id="submit_hourly_job",
            repo="assets_clicks",
            job="assets_hourly_totals",
            dest_repo="assets_hourly_totals",
            code="select count(*) as users, sum(hits) as hits from stream",
            container={"type": "M16C4", "count": 1},
            scheduler={"type": "loop", "loop": "1h"},
            if_exists="update",
        )

    # [START howto_asset_pandora_job_run_watcher]
    HOURLY_TOTALS = pandora_repo_asset("assets_hourly_totals")
    HOURLY_TOTALS_RUNS = Asset(
        name=HOURLY_TOTALS.name,
        uri=HOURLY_TOTALS.uri,
        watchers=[
            AssetWatcher(
                name="pandora_assets_hourly_totals_runs",
                trigger=PandoraJobRunEventTrigger(repo="assets_clicks", job="assets_hourly_totals", poll_interval=30),
            )
        ],
    )

    with DAG(
        dag_id="example_pandora_assets_job_runs",
        description="Runs once per successful run of a job Pandora schedules itself (an AssetWatcher trigger)",
        schedule=[HOURLY_TOTALS_RUNS],
        start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
        catchup=False,
        tags=["pandora", "example", "assets"],
    ) as job_runs:

        @task
        def which_run(**context: Any) -> list[dict[str, Any]]:
            """The job runs behind this DAG run: each watcher event's ``extra["payload"]["run"]``.

            One DAG run may hold several events (runs that ended close together); an event made by hand (the UI's
            "Create Asset Event") has no payload.
            """
            events = context.get("triggering_asset_events") or {}
            payloads = [event.extra.get("payload") for batch in events.values() for event in batch]
            runs = [dict(payload["run"]) for payload in payloads if payload]
            print(f"job runs: {runs}")
            return runs

        which_run()
    # [END howto_asset_pandora_job_run_watcher]
