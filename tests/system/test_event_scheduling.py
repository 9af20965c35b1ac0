"""Event-driven scheduling (issue 19 items 5 and 7): a DAG runs once per run of a job Pandora schedules itself.

``system_pandora_job_runs`` is scheduled on an asset whose ``AssetWatcher`` runs ``PandoraJobRunEventTrigger``
in the triggerer. The test creates the job in the emulator (a Quartz crontab that fires every 20 s: the spec's
``loop`` grammar stops at ``1m``, too slow for this test's budget; the trigger reads the history the same way
whichever scheduler Pandora uses), lets two runs fire, SIGKILLs the triggerer, lets at least one run end while
no triggerer runs, starts a new triggerer and then counts the asset events and DAG runs against the job's
history. On Airflow 3.3 the watermark lives in the asset state store, so the expectation is: no run fired
twice, and the runs of the downtime fired after the restart (the one documented loss is a run whose event was
in flight at the very moment of the kill).
"""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.hooks.runs import JobRun
from tests.system.deployment import CANARIES, CANARY_AK, CANARY_SK, Deployment, wait_for
from tests.system.support import failure_report

DAG_ID = "system_pandora_job_runs"
REPO, JOB = "evs_src", "evs_every20s"  # as in tests/system/dags/system_pandora_job_runs.py
HISTORY = f"/v2/repos/{REPO}/jobs/{JOB}/history"
STATE_KEY = f"pandora_job_runs:pandora_default:{REPO}:{JOB}"
#: How close to the SIGKILL a run may have ended and still be lost (its event yielded, not yet stored).
IN_FLIGHT = timedelta(seconds=5)


def _hook(dep: Deployment, monkeypatch: pytest.MonkeyPatch) -> PandoraHook:
    conn = {"conn_type": "pandora", "host": dep.emulator_url, "login": CANARY_AK, "password": CANARY_SK}
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_EVS", json.dumps({**conn, "extra": {"region": "nb"}}))
    return PandoraHook("pandora_evs")


def _asset(dep: Deployment) -> dict[str, Any]:
    assets = [a for a in dep.get("/assets", limit=100)["assets"] if a["uri"].endswith("/evs_out")]
    assert len(assets) == 1, assets
    return dict(assets[0])


def _events(dep: Deployment, asset_id: int) -> list[dict[str, Any]]:
    """The watcher's asset events (not the one the test may post by hand through the REST API).

    Airflow 3.3.2 answers 500 while an event's DAG run has been created without a start date yet: asked again."""
    params = {"asset_id": asset_id, "limit": 100, "order_by": "timestamp"}
    for _ in range(30):
        resp = dep.request("GET", "/assets/events", params=params)
        if resp.status_code < 500:
            break
        time.sleep(2)
    resp.raise_for_status()
    return [e for e in resp.json()["asset_events"] if (e["extra"] or {}).get("from_trigger")]


def _fired(events: list[dict[str, Any]]) -> list[int]:
    return [int(e["extra"]["payload"]["run"]["run_id"]) for e in events]


def _successes(hook: PandoraHook, history: list[JobRun] | None = None) -> dict[int, JobRun]:
    """The job's successful runs by run id (the emulator's history records carry ``runId`` and ``endTime``)."""
    if history is None:
        history = hook.get_job_history(REPO, JOB, size=100)
    return {r.run_id: r for r in history if r.status.is_success and r.run_id is not None and r.end_time is not None}


def _ends(hook: PandoraHook, history: list[JobRun] | None = None) -> dict[int, datetime]:
    return {i: r.end_time for i, r in _successes(hook, history).items() if r.end_time is not None}


def test_a_dag_runs_once_per_job_run_across_a_triggerer_sigkill(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    dep = deployment
    started = time.monotonic()
    dep.wait_dags({DAG_ID})
    asset_id = int(wait_for("the watched asset to be registered", lambda: _asset(dep)["id"], 120, interval=2))

    def watcher_polls() -> bool:
        log = requests.get(f"{dep.emulator_url}/_emulator/requests", timeout=10).json()["requests"]
        return any(r["method"] == "GET" and r["path"] == HISTORY for r in log)

    # Before the job exists the watcher polls it (404, logged, polled again): every run it will have is new.
    wait_for("the triggerer to run the watcher (it asks for the job's history)", watcher_polls, 180, interval=2)
    hook = _hook(dep, monkeypatch)
    hook.create_repo(REPO, schema=[{"key": "n", "valtype": "long"}])
    hook.push_data(REPO, [{"n": 1}])
    hook.submit_job(
        REPO,
        JOB,
        "evs_out",
        code=f"select count(*) as n from {REPO}",
        container={"type": "M16C4", "count": 1},
        scheduler={"type": "crontab", "crontab": "*/20 * * * * ?"},
    )
    created = datetime.now(UTC)

    wait_for("two job runs to fire asset events", lambda: len(_events(dep, asset_id)) >= 2, 150, interval=2)
    fired_before = _fired(_events(dep, asset_id))
    killed = datetime.now(UTC)
    dep.kill_hard("triggerer")
    print(f"\nfired before the SIGKILL: runs {fired_before}; killed the triggerer at {killed:%H:%M:%S}")

    def ended_while_down() -> list[int]:
        return [i for i, end in _ends(hook).items() if end > killed]

    down = wait_for("a run to end while no triggerer runs", ended_while_down, 90, interval=1)
    restarted = datetime.now(UTC)
    dep.start_triggerer()
    print(f"runs {down} ended while no triggerer ran; started a new triggerer at {restarted:%H:%M:%S}")

    def caught_up() -> bool:
        ends = _ends(hook)
        fired = set(_fired(_events(dep, asset_id)))
        after = [i for i in fired if i in ends and ends[i] > restarted]
        return bool(after) and set(down) <= fired

    try:
        wait_for("the new triggerer to fire the runs of the downtime and a later one", caught_up, 180, interval=2)
    finally:
        # Delete the job between two of its runs (it fires at :00, :20 and :40), so that the history read just
        # before is final and no later run adds DAG runs to the rest of the suite.
        wait_for("a moment between two runs", lambda: 3 <= datetime.now(UTC).second % 20 <= 14, 30, interval=0.5)
        history = hook.get_job_history(REPO, JOB, size=100)
        hook.delete_job(REPO, JOB)
        runs = _successes(hook, history)
        ends = _ends(hook, history)
        print(f"the job's history (newest first): {[(r.run_id, r.status.value) for r in history]}")
        with contextlib.suppress(TimeoutError):  # the watcher's last look (every 2 s): the assertions say what is off
            wait_for("every run to fire", lambda: set(ends) <= set(_fired(_events(dep, asset_id))), 20, interval=2)
        events = _events(dep, asset_id)
        fired = _fired(events)
        print(f"asset events fired for runs {fired}")
    assert all(r.status.is_terminal for r in history), history

    # No run fired twice; every event is a successful run of the job, with its record.
    assert len(fired) == len(set(fired)), f"a run fired twice: {fired}"
    assert set(fired) <= set(runs)
    for event in events:
        record = event["extra"]["payload"]
        run = runs[record["run"]["run_id"]]
        assert (record["repo"], record["job"], record["status"]) == (REPO, JOB, "Success")
        assert record["run"]["end_time"] == ends[run.run_id].isoformat()  # type: ignore[index]
    # Nothing missed: every run fired (the downtime's included), but a run whose event the killed triggerer had
    # yielded and not yet stored (the documented loss).
    missed = [i for i, end in ends.items() if i not in fired and created <= end]
    in_flight = [i for i in missed if killed - IN_FLIGHT <= ends[i] <= killed]
    assert missed == in_flight, f"runs {missed} never fired ({in_flight} ended as the triggerer was killed)"
    assert set(down) <= set(fired), f"the runs of the downtime {down} were not fired after the restart"
    if missed:
        print(f"run(s) {missed} ended within {IN_FLIGHT} before the SIGKILL and were lost (documented)")

    # The watermark is in the asset state store (Airflow 3.3+), readable through the public API.
    store = dep.request("GET", f"/assets/{asset_id}/state-store")
    assert store.status_code == 200, store.text[:500]
    assert STATE_KEY in store.text, store.text[:500]

    # One DAG run per job run: every asset event is in a DAG run (Airflow may put several events that arrive
    # together in one run), and the DAG runs together saw each job run exactly once.
    def mapping(now: list[dict[str, Any]]) -> dict[int, list[tuple[str, bool]]]:
        return {
            int(e["extra"]["payload"]["run"]["run_id"]): [(r["run_id"], r["triggering"]) for r in e["created_dagruns"]]
            for e in now
        }

    last: dict[str, Any] = {}

    def consumed() -> list[dict[str, Any]]:
        now = _events(dep, asset_id)
        last["mapping"] = mapping(now)
        return now if all(e["created_dagruns"] for e in now) else []

    try:
        events = wait_for("every asset event to be in a DAG run", consumed, 30, interval=2)
    except TimeoutError:
        # Airflow 3.3 queues a DAG run per asset once (AssetDagRunQueue, insert on conflict do nothing) and the run
        # takes the events up to when it was queued: an event that came just after waits for the asset's next
        # event. With the job deleted there is none, so the test posts one by hand (it carries no run).
        print(f"events waiting for a later event: {last}; posting one through the REST API")
        posted = dep.request("POST", "/assets/events", json={"asset_id": asset_id, "extra": {"flush": True}})
        assert posted.status_code < 300, posted.text
        events = wait_for(lambda: f"every asset event to be in a DAG run ({last})", consumed, 120, interval=2)
    print(f"job run -> (DAG run, triggered it): {mapping(events)}")
    dagrun_ids = {r["run_id"] for e in events for r in e["created_dagruns"]}
    states = {r: dep.wait_run(DAG_ID, r, timeout=180) for r in sorted(dagrun_ids)}
    assert set(states.values()) == {"success"}, failure_report(dep, [(DAG_ID, r) for r in dagrun_ids])
    seen: list[int] = []
    for run_id in sorted(dagrun_ids):
        (ti,) = dep.task_instances(DAG_ID, run_id)
        seen += dep.xcom(ti)
    assert sorted(seen) == sorted(fired), f"DAG runs saw runs {seen}, the asset events were for {fired}"
    assert len(dagrun_ids) <= len(events)
    text = json.dumps(events)
    assert not [s for s in CANARIES if s in text]
    print(
        f"{len(fired)} job runs -> {len(events)} asset events -> {len(dagrun_ids)} DAG runs; "
        f"{time.monotonic() - started:.0f}s"
    )
