"""Every operator, sensor and trigger inside real Airflow (dag.test()) against the emulator over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.hooks.runs import JobStatus
from tests.common import assert_succeeded, explain
from tests.common import run_module_dag as run_dag

pytestmark = pytest.mark.usefixtures("airflow_db")


def states(tis: dict[str, Any]) -> dict[str, str]:
    return {task_id: str(ti.state) for task_id, ti in tis.items()}


def xcom(ti: Any) -> Any:
    return ti.xcom_pull(task_ids=ti.task_id, key="return_value")


def start_requests(emulator: Any, job: str) -> int:
    return sum(
        1 for r in emulator.requests_log() if r["method"] == "POST" and r["path"].endswith(f"/jobs/{job}/actions/start")
    )


def test_resource_operators_are_idempotent_and_group_sensor_waits(pandora_conn: Any, tmp_path: Path) -> None:
    jar = tmp_path / "parser.jar"
    jar.write_bytes(b"PK\x03\x04not-really-a-jar")
    dagrun, tis = run_dag("pandora_test_ops_resources", {"jar_path": str(jar)})
    assert_succeeded(dagrun)
    assert xcom(tis["create_group"]) == {"group": "t_group", "action": "created"}
    assert xcom(tis["create_group_again"]) == {"group": "t_group", "action": "exists"}
    assert xcom(tis["upload_plugin_again"])["action"] == "exists"
    assert xcom(tis["push"]) == {
        "repo": "t_src_" + dagrun.logical_date.strftime("%Y%m%d"),
        "points": 2,
        "bytes": mock.ANY,
        "batches": 1,
    }
    assert xcom(tis["delete_src"])["deleted"] is True
    assert xcom(tis["delete_src_missing"])["deleted"] is False
    assert xcom(tis["delete_group_missing"])["deleted"] is False


def test_jobs_succeed_sync_deferred_and_sensed(
    pandora_conn: Any, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    dagrun, tis = run_dag("pandora_test_ops_jobs")
    assert_succeeded(dagrun)
    # Without a console URL the link still resolves (to nothing), so Airflow logs no "XCom not found" error.
    out, err = capfd.readouterr()
    assert "XCom not found" not in caplog.text + out + err
    assert xcom(tis["submit_again"])["action"] == "exists"
    sync = xcom(tis["run_sync"])
    assert sync["run"]["status"] == "Success"
    assert sync["reconnected"] is False
    assert xcom(tis["run_deferred"])["run"]["status"] == "Success"
    # The deferred waits went through the trigger: its async client polled the history.
    agents = {r.get("user_agent", "") for r in pandora_conn.requests_log() if r["path"].endswith("/history")}
    assert any("httpx" in a for a in agents), agents
    assert pandora_conn.points("j_out")


def test_failed_job_fails_the_task_with_its_message(pandora_conn: Any) -> None:
    dagrun, tis = run_dag("pandora_test_ops_job_fail")
    assert dagrun.state == "failed", explain(dagrun)
    assert states(tis) == {
        "create_repo": "success",
        "submit": "success",
        "run": "failed",
        "sensor": "failed",
        "sensor_soft": "skipped",
    }, explain(dagrun)
    latest = PandoraHook().get_latest_job_run("f_src", "f_job")
    assert latest is not None
    assert latest.status is JobStatus.FAIL
    assert "boom: disk on fire" in latest.message


def test_timeout_stops_the_job(pandora_conn: Any) -> None:
    dagrun, tis = run_dag("pandora_test_ops_job_timeout")
    assert dagrun.state == "failed", explain(dagrun)
    assert states(tis)["run_sync"] == "failed", explain(dagrun)
    assert states(tis)["run_deferred"] == "failed", explain(dagrun)
    runs = PandoraHook().get_job_history("o_src", "o_job")
    assert len(runs) == 2
    assert all(r.status is JobStatus.CANCEL for r in runs), [r.to_dict() for r in runs]


def test_retry_reconnects_to_the_running_run(pandora_conn: Any) -> None:
    dagrun, tis = run_dag("pandora_test_ops_job_retry")
    assert_succeeded(dagrun)
    result = xcom(tis["run"])
    assert result["reconnected"] is True
    assert result["run"]["status"] == "Success"
    assert start_requests(pandora_conn, "r_job") == 1
    assert len(PandoraHook().get_job_history("r_src", "r_job")) == 1
