"""A triggerer and a worker lost mid-wait and mid-transfer: the deployment recovers, the provider resumes.

Both read and act through the public surface only: the REST API for states, hostnames, logs and XComs, the
emulator's HTTP admin endpoints for what the repo holds, and signals to the components' process groups.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from tests.system.deployment import WORKERS, Deployment, wait_for
from tests.system.support import failure_report

SENSORS = 50
LINES = 300_000


def _tis(dep: Deployment, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
    return [t for t in dep.task_instances(dag_id, run_id) if t["task_id"] == task_id]


def test_triggerer_restart_keeps_every_deferred_sensor(deployment: Deployment) -> None:
    dep = deployment
    dag_id = "system_pandora_deferred"
    dep.wait_dags({dag_id})
    # The job runs long enough for all 50 sensors to defer, the triggerer to die and a new one to take over.
    run_id = dep.trigger(dag_id, {"prefix": "tr", "sleep": 150, "sensors": SENSORS})

    def all_deferred() -> bool:
        states = Counter(str(t["state"]) for t in _tis(dep, dag_id, run_id, "job_done"))
        all_deferred.states = states  # type: ignore[attr-defined]
        if states.get("failed") or states.get("up_for_retry"):
            report = failure_report(dep, {dag_id: run_id})
            pytest.fail(f"sensors failed before the triggerer was touched: {dict(states)}\n{report}")
        return states.get("deferred", 0) == SENSORS

    all_deferred.states = Counter()  # type: ignore[attr-defined]
    started = time.monotonic()
    wait_for(
        lambda: f"{SENSORS} job_done sensors to defer (states: {dict(all_deferred.states)})",  # type: ignore[attr-defined]
        all_deferred,
        300,
        interval=2,
    )
    print(f"{SENSORS} sensors deferred after {time.monotonic() - started:.0f}s")
    (run_job,) = _tis(dep, dag_id, run_id, "run_job")
    assert run_job["state"] == "deferred", f"the job ended before the triggerer was killed: {run_job['state']}"
    old = {t["triggerer_job"]["id"] for t in _tis(dep, dag_id, run_id, "job_done") if t.get("triggerer_job")}

    dep.kill_hard("triggerer")
    print(f"killed the triggerer (SIGKILL) holding triggerer jobs {old}; starting a new one")
    dep.start_triggerer()

    def taken_over() -> bool:
        jobs = {t["triggerer_job"]["id"] for t in _tis(dep, dag_id, run_id, "job_done") if t.get("triggerer_job")}
        return bool(jobs - old)

    wait_for("the new triggerer to take over the deferred sensors", taken_over, 120, interval=2)
    state = dep.wait_run(dag_id, run_id, timeout=420)
    states = Counter(str(t["state"]) for t in _tis(dep, dag_id, run_id, "job_done"))
    print(f"after the restart: run {state}, job_done states {dict(states)}")
    assert states == {"success": SENSORS}, failure_report(dep, {dag_id: run_id})
    assert state == "success", failure_report(dep, {dag_id: run_id})


def test_worker_loss_resumes_from_the_checkpoint(deployment: Deployment) -> None:
    dep = deployment
    dag_id, repo = "system_pandora_worker_loss", "wl_events"
    dep.wait_dags({dag_id})
    source = dep.base / "worker-loss.jsonl"
    with source.open("w") as out:
        for n in range(LINES):
            out.write(json.dumps({"n": n, "user": f"u{n % 97}", "pad": "x" * 40}) + "\n")
    # ~21 MB in 2 MB batches; each push is held 2.5 s, so the transfer is still running when the kill comes.
    dep.add_fault(method="POST", path=f"/v2/repos/{repo}/data", action="delay", delay_s=2.5)
    try:
        run_id = dep.trigger(dag_id, {"prefix": "wl", "source_path": str(source)})

        def running_with_points() -> str:
            (ti,) = _tis(dep, dag_id, run_id, "load")
            if ti["state"] == "running" and ti["hostname"] in WORKERS and dep.repo_total(repo) > 0:
                return str(ti["hostname"])
            return ""

        host = wait_for("the transfer to be running with points delivered", running_with_points, 240, interval=1)
        at_kill = dep.repo_total(repo)
        dep.kill_hard(host)
        print(f"killed {host} (SIGKILL, whole process group) with {at_kill} of {LINES} points in the repo")
        dep.start_worker(host, dep.ports["w1log" if host == WORKERS[0] else "w2log"])
        state = dep.wait_run(dag_id, run_id, timeout=420)
    finally:
        dep.clear_faults()
    (ti,) = _tis(dep, dag_id, run_id, "load")
    assert state == "success", failure_report(dep, {dag_id: run_id})
    assert ti["try_number"] == 2, ti
    result = dep.xcom(ti)
    counts = Counter(int(p["n"]) for p in dep.repo_points(repo))
    duplicates = sum(counts.values()) - len(counts)
    print(
        f"retry ran on {ti['hostname']}; repo holds {sum(counts.values())} points, {len(counts)} distinct; "
        f"duplicates {duplicates}, reported possible_duplicates {result['possible_duplicates']}"
    )
    assert set(counts) == set(range(LINES)), f"{LINES - len(counts)} points missing"
    log = dep.task_log(ti, 2)
    assert "resuming from the checkpoint" in log, log[-3000:]
    assert duplicates <= int(result["possible_duplicates"]), (duplicates, result)
