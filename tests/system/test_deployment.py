"""Every example DAG on a real CeleryExecutor deployment, driven and read back through the REST API v2 only."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.system.deployment import (
    CANARIES,
    CANARY_AK,
    KODO_AK,
    TRIGGERER,
    WORKERS,
    Deployment,
    wait_for,
)
from tests.system.support import assert_runs_succeeded, example_confs, http_receiver, kodo_objects

EXAMPLES = {
    "example_pandora_pipeline",
    "example_pandora_exports",
    "example_pandora_push_data",
    "example_pandora_scheduled_job",
    "example_pandora_sensors",
    "example_pandora_plugin",
    "example_pandora_kodo_mapped",
}
JOB_TRIGGER = "airflow_provider_pandora.triggers.jobs.PandoraJobTrigger"
GROUP_TRIGGER = "airflow_provider_pandora.triggers.groups.PandoraGroupStatusTrigger"
# (dag, task, map index) -> the trigger it must have handed its wait to. The examples' other deferrable tasks
# mostly find their condition met on the first check (the emulator is fast) and finish without deferring.
MUST_DEFER = {
    ("system_pandora_deferred", "run_job", -1): JOB_TRIGGER,  # the deferrable job operator
    ("system_pandora_deferred", "job_done", 0): JOB_TRIGGER,
    ("system_pandora_deferred", "job_done", 1): JOB_TRIGGER,
    ("system_pandora_deferred", "group_idle", -1): GROUP_TRIGGER,
    ("example_pandora_sensors", "job_done_deferred", -1): JOB_TRIGGER,
}
KODO_OBJECTS, KODO_LINES = 6, 50
RUNS: dict[str, str] = {}


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    with http_receiver() as received:
        yield received


def watch_runs(dep: Deployment, runs: dict[str, str], timeout: float) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Wait for every run to finish, noting each task instance seen deferred: its trigger and triggerer job."""
    deferred: dict[tuple[str, str, int], dict[str, Any]] = {}
    pending = dict(runs)

    def step() -> bool:
        for dag_id, run_id in list(pending.items()):
            for ti in dep.task_instances(dag_id, run_id):
                if ti["state"] == "deferred" and ti.get("trigger"):
                    deferred[(dag_id, ti["task_id"], ti["map_index"])] = {
                        "classpath": ti["trigger"]["classpath"],
                        "triggerer_job": ti.get("triggerer_job") or {},
                        "worker": ti["hostname"],
                    }
            if dep.get(f"/dags/{dag_id}/dagRuns/{run_id}")["state"] in ("success", "failed"):
                del pending[dag_id]
        return not pending

    wait_for(lambda: f"runs to finish: {sorted(pending)}", step, timeout, interval=1.5)
    return deferred


def test_every_example_dag_succeeds(deployment: Deployment, receiver: tuple[str, list[bytes]]) -> None:
    dep = deployment
    dep.wait_dags({*EXAMPLES, "system_pandora_deferred"})
    url, bodies = receiver
    confs: dict[str, dict[str, Any]] = {
        # a job long enough for the deferrable sensor to find it still running
        **example_confs(dep, "s", url, sensors=120, sensor_job_seconds=15),
        "example_pandora_kodo_mapped": {"prefix": "skm", "bucket": kodo_objects(dep, "sys", KODO_OBJECTS, KODO_LINES)},
        "system_pandora_deferred": {"prefix": "sd", "sleep": 20, "sensors": 2},
    }
    for dag_id, conf in confs.items():
        # No logical date: Airflow 3's default for runs triggered through the UI or the REST API.
        RUNS[dag_id] = dep.trigger(dag_id, conf)
    deferred = watch_runs(dep, RUNS, timeout=480)
    assert_runs_succeeded(dep, RUNS)
    assert sum(b.count(b"\n") for b in bodies) >= 300  # the pipeline's HTTP export delivered its points

    print("task instances seen deferred:", {f"{d}.{t}[{m}]": v["classpath"] for (d, t, m), v in deferred.items()})
    for (dag_id, task_id, map_index), trigger in MUST_DEFER.items():
        name = f"{dag_id}.{task_id}[{map_index}]"
        seen = deferred.get((dag_id, task_id, map_index))
        assert seen is not None, f"{name} was never seen deferred"
        assert seen["classpath"] == trigger, (name, seen)
        # the trigger was assigned to the triggerer process, not run inline
        assert seen["triggerer_job"].get("job_type") == "TriggererJob", (name, seen)
        assert seen["triggerer_job"].get("hostname") == TRIGGERER, (name, seen)
        (ti,) = [
            t
            for t in dep.task_instances(dag_id, RUNS[dag_id])
            if t["task_id"] == task_id and t["map_index"] == map_index
        ]
        assert ti["state"] == "success"
        assert ti["hostname"] in WORKERS, f"{name} resumed on {ti['hostname']!r}, not a Celery worker"
        log = dep.task_log(ti, ti["try_number"])
        # What Airflow 3.3 writes: the worker pauses the task, the triggerer's own log file (merged in by the
        # API) says the trigger started and fired our event, then a worker runs the task again.
        assert "Pausing task as DEFERRED" in log, f"{name}: no deferral in its log:\n{log[-3000:]}"
        assert ".trigger." in log, f"{name}: no triggerer log in its log:\n{log[-3000:]}"
        assert "Trigger fired event" in log, f"{name}: the trigger never fired:\n{log[-3000:]}"
        fired = log.index("Trigger fired event")
        assert "'status': 'success'" in log[fired : fired + 400], log[fired : fired + 400]
        assert log.count("Pre Execute") >= 2, f"{name}: not resumed on a worker:\n{log[-3000:]}"
    trigger_files = sorted(dep.logs.rglob("*.trigger.*.log"))
    assert len(trigger_files) >= len(MUST_DEFER), trigger_files


def derived_forms(secret: str) -> list[str]:
    """The secret and encodings a leak would take (HMAC signatures are caught by the Authorization prefix)."""
    raw = secret.encode()
    forms = {secret, raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    return sorted(forms | {f.rstrip("=") for f in forms})


# Any Authorization value would carry these: the signature after "Pandora AK:" is derived from the SK.
SIGNED = [f"Pandora {CANARY_AK}:", "AWS4-HMAC-SHA256 Credential=", f"Credential={KODO_AK}"]
NEEDLES = [n for secret in CANARIES for n in derived_forms(secret)] + SIGNED


def test_no_secret_in_logs_task_logs_or_xcoms(deployment: Deployment) -> None:
    dep = deployment
    if not RUNS:
        pytest.skip("needs the example runs")
    leaks = []
    for path in dep.all_log_files():
        text = path.read_text(errors="replace")
        leaks += [f"{path}: {s}" for s in NEEDLES if s in text]
    checked_logs = checked_xcoms = 0
    for dag_id, run_id in RUNS.items():
        for ti in dep.task_instances(dag_id, run_id):
            leaks += [f"rendered fields {ti['task_id']}: {s}" for s in NEEDLES if s in json.dumps(ti)]
            for attempt in range(1, int(ti["try_number"] or 0) + 1):
                log = dep.task_log(ti, attempt)
                checked_logs += 1
                leaks += [f"task log {ti['task_id']}: {s}" for s in NEEDLES if s in log]
            base = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/xcomEntries"
            for entry in dep.get(base, map_index=ti["map_index"])["xcom_entries"]:
                value = dep.get(f"{base}/{entry['key']}", map_index=ti["map_index"], stringify="true")
                checked_xcoms += 1
                leaks += [f"xcom {ti['task_id']}/{entry['key']}: {s}" for s in NEEDLES if s in json.dumps(value)]
    print(
        f"checked {len(dep.all_log_files())} log files, {checked_logs} API task logs, {checked_xcoms} XComs "
        f"for {len(NEEDLES)} secret forms"
    )
    assert checked_logs > 40
    assert checked_xcoms > 5
    assert not leaks, leaks


def test_mapped_kodo_spreads_over_both_workers(deployment: Deployment) -> None:
    dep = deployment
    if "example_pandora_kodo_mapped" not in RUNS:
        pytest.skip("needs the example runs")
    tis = [
        t
        for t in dep.task_instances("example_pandora_kodo_mapped", RUNS["example_pandora_kodo_mapped"])
        if t["task_id"] == "load_object"
    ]
    hosts = {t["map_index"]: t["hostname"] for t in tis}
    print("mapped load_object hosts:", hosts)
    assert sorted(hosts) == list(range(KODO_OBJECTS))
    assert set(hosts.values()) == set(WORKERS), hosts
    points = dep.repo_points("skm_clicks")
    print(f"skm_clicks holds {len(points)} points")
    assert len(points) == KODO_OBJECTS * KODO_LINES
    expected = {f"u{n}-{i}" for n in range(KODO_OBJECTS) for i in range(KODO_LINES)}
    assert sorted(p["user"] for p in points) == sorted(expected)
