"""Every example DAG on Airflow 2.11 (LocalExecutor, Postgres, scheduler, triggerer, webserver) via ``/api/v1``.

Runs under the Airflow 2 virtualenv (``make system-test`` calls it with ``.venv-airflow2/bin/python``); under
Airflow 3 the module skips itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.system.deployment import CANARIES
from tests.system.support import (
    assert_runs_succeeded,
    check_failure_explains_itself,
    example_confs,
    http_receiver,
    kodo_objects,
    running,
)

airflow_version = pytest.importorskip("airflow.version").version
if not airflow_version.startswith("2."):
    pytest.skip("the Airflow 2.11 deployment runs under .venv-airflow2", allow_module_level=True)

from tests.system.deployment_af2 import Airflow2Deployment  # noqa: E402

# Deferrable tasks; each checks once before deferring, so only a wait that outlasts that check defers.
DEFERRABLE = (
    ("example_pandora_pipeline", "wait_group_running"),
    ("example_pandora_pipeline", "run_job"),
    ("example_pandora_sensors", "group_idle"),
    ("example_pandora_sensors", "job_done_deferred"),
)
LOGICAL_DATE = "2024-05-01T00:00:00Z"
RUNS: dict[str, str] = {}


@pytest.fixture(scope="module")
def deployment() -> Iterator[Airflow2Deployment]:
    """Overrides the Airflow 3 session fixture for this module (the failure hook still prints its log tails)."""
    with running(Airflow2Deployment(), f"Airflow {airflow_version} deployment") as dep:
        yield dep


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    with http_receiver() as received:
        yield received


def test_every_example_dag_succeeds_on_airflow2(
    deployment: Airflow2Deployment, receiver: tuple[str, list[bytes]]
) -> None:
    dep = deployment
    url, bodies = receiver
    confs: dict[str, dict[str, Any]] = {
        **example_confs(dep, "a", url, sensors=60, sensor_job_seconds=15),
        "example_pandora_kodo_mapped": {"prefix": "akm", "bucket": kodo_objects(dep, "af2", 4, 50)},
    }
    started = time.monotonic()
    dep.wait_dags(set(confs))
    parsed = time.monotonic()
    for dag_id, conf in confs.items():
        RUNS[dag_id] = dep.trigger(dag_id, conf, logical_date=LOGICAL_DATE)
    for dag_id, run_id in RUNS.items():
        dep.wait_run(dag_id, run_id, timeout=420)
    print(f"DAGs parsed in {parsed - started:.0f}s, all 7 runs finished {time.monotonic() - parsed:.0f}s later")
    assert_runs_succeeded(dep, RUNS)
    assert sum(body.count(b"\n") for body in bodies) >= 200  # the pipeline's HTTP export delivered its points
    mapped = [t for t in dep.task_instances("example_pandora_kodo_mapped", RUNS["example_pandora_kodo_mapped"])]
    assert sorted(t["map_index"] for t in mapped if t["task_id"] == "load_object") == [0, 1, 2, 3]


def test_deferrable_waits_ran_in_the_triggerer(deployment: Airflow2Deployment) -> None:
    """The job sensor waits on a 15 s job, so it must defer: its trigger starts and fires in the triggerer process
    (whose log names the task instance) and the task resumes in the scheduler's LocalExecutor."""
    dep = deployment
    if len(RUNS) < 7:
        pytest.skip("needs the example runs")
    triggerer = dep.log_text("triggerer").splitlines()
    deferred = {}
    for dag_id, task_id in DEFERRABLE:
        (ti,) = [t for t in dep.task_instances(dag_id, RUNS[dag_id]) if t["task_id"] == task_id]
        assert ti["state"] == "success"
        log = dep.task_log(ti, ti["try_number"])
        deferred[task_id] = "Pausing task as DEFERRED" in log
        if deferred[task_id]:
            assert "Resuming after deferral" in log, f"{dag_id}.{task_id} deferred but never resumed"
            ours = [line for line in triggerer if f"trigger {dag_id}/{RUNS[dag_id]}/{task_id}/" in line]
            assert any(line.endswith("starting") for line in ours), f"no trigger of {task_id} started: {ours}"
            assert any(line.endswith("completed") for line in ours), f"the trigger of {task_id} never completed"
            print(f"{task_id}: {ours[0][-160:]}")
    print("deferred:", deferred)
    assert deferred["job_done_deferred"], deferred


def test_no_secret_in_airflow2_logs(deployment: Airflow2Deployment) -> None:
    dep = deployment
    if len(RUNS) < 7:
        pytest.skip("needs the example runs")
    leaks = [f"{p}: {s}" for p in dep.all_log_files() for s in CANARIES if s in p.read_text(errors="replace")]
    served = 0
    for dag_id, run_id in RUNS.items():
        for ti in dep.task_instances(dag_id, run_id):
            if ti["try_number"]:
                log = dep.task_log(ti, ti["try_number"])
                served += 1
                leaks += [f"task log {dag_id}.{ti['task_id']}: {s}" for s in CANARIES if s in log]
    # the OpenLineage provider writes every task's events to a file here too (the deployment's transport)
    lines = dep.openlineage_file.read_text(errors="replace").splitlines() if dep.openlineage_file.exists() else []
    leaks += [f"OpenLineage events: {s}" for s in CANARIES for line in lines if s in line]
    outputs = {
        f"{out['namespace']}/{out['name']}"
        for event in map(json.loads, lines)
        if event.get("eventType") == "COMPLETE"
        for out in event.get("outputs") or ()
    }
    print(
        f"checked {len(dep.all_log_files())} log files, {served} task logs served by /api/v1 and {len(lines)} "
        f"OpenLineage events ({len(outputs)} datasets written)"
    )
    assert served > 20
    assert any(name.startswith("pandora://") for name in outputs), sorted(outputs)[:20]
    assert not leaks, leaks


def test_a_failed_run_explains_itself_on_airflow2(deployment: Airflow2Deployment) -> None:
    """A task that raises: the failure message shows its log tail with the exception and the traceback line."""
    check_failure_explains_itself(deployment, logical_date=LOGICAL_DATE)
