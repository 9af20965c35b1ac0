"""Every example DAG on Airflow 2.11 (LocalExecutor, Postgres, scheduler, triggerer, webserver) via ``/api/v1``.

Runs under the Airflow 2 virtualenv (``make system-test`` calls it with ``.venv-airflow2/bin/python``); under
Airflow 3 the module skips itself.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.system.deployment import CANARIES, KODO_AK, KODO_CANARY_SK

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
    dep = Airflow2Deployment()
    started = time.monotonic()
    try:
        try:
            dep.start()
        except BaseException:
            print(dep.tails())
            raise
        print(f"\nAirflow {airflow_version} deployment up in {time.monotonic() - started:.0f}s")
        yield dep
    finally:
        dep.stop()


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    lines = 0

    def do_POST(self) -> None:
        _Receiver.lines += self.rfile.read(int(self.headers.get("Content-Length") or 0)).count(b"\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _kodo_bucket(dep: Airflow2Deployment) -> str:
    import boto3
    from botocore.config import Config

    s3 = boto3.session.Session().client(
        "s3",
        endpoint_url=dep.moto_url,
        region_name="cn-east-1",
        aws_access_key_id=KODO_AK,
        aws_secret_access_key=KODO_CANARY_SK,
        config=Config(s3={"addressing_style": "path"}),
    )
    bucket = f"af2-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "cn-east-1"})
    for n in range(4):
        lines = [json.dumps({"user": f"u{n}-{i}", "hits": i, "at": "2024-05-01T00:00:00+08:00"}) for i in range(50)]
        s3.put_object(Bucket=bucket, Key=f"clicks/2024-05-01/part-{n}.jsonl", Body=("\n".join(lines) + "\n").encode())
    return bucket


def test_every_example_dag_succeeds_on_airflow2(deployment: Airflow2Deployment, receiver: str) -> None:
    dep = deployment
    source = dep.base / "clicks.jsonl"
    rows = ({"user": f"u{i % 7}", "hits": i, "latency": 0.5, "ok": i % 3 != 0, "at": LOGICAL_DATE} for i in range(200))
    source.write_text("".join(json.dumps({**r, "tags": ["a"], "meta": {"zone": "nb"}}) + "\n" for r in rows))
    jar = dep.base / "parser.jar"
    jar.write_bytes(b"PK\x03\x04example-jar")
    confs: dict[str, dict[str, Any]] = {
        "example_pandora_pipeline": {
            "prefix": "ap",
            "source_path": str(source),
            "export_host": receiver,
            "export_uri": "/in",
            "poll_interval": 0.5,
        },
        "example_pandora_exports": {"prefix": "ax", "http_host": receiver, "kodo_bucket": "exports"},
        "example_pandora_push_data": {"prefix": "apx", "sensors": 60},
        "example_pandora_scheduled_job": {"prefix": "asj", "poll_interval": 0.5},
        "example_pandora_sensors": {"prefix": "asn", "poke_interval": 0.5},
        "example_pandora_plugin": {"prefix": "apl", "jar_path": str(jar), "plugin": "com.example.LogParser"},
        "example_pandora_kodo_mapped": {"prefix": "akm", "bucket": _kodo_bucket(dep)},
    }
    started = time.monotonic()
    dep.wait_dags(set(confs))
    parsed = time.monotonic()
    for dag_id, conf in confs.items():
        RUNS[dag_id] = dep.trigger(dag_id, conf, logical_date=LOGICAL_DATE)
    failed = {}
    for dag_id, run_id in RUNS.items():
        if dep.wait_run(dag_id, run_id, timeout=420) != "success":
            tis = dep.task_instances(dag_id, run_id)
            failed[dag_id] = {f"{t['task_id']}[{t['map_index']}]": t["state"] for t in tis}
    print(f"DAGs parsed in {parsed - started:.0f}s, all 7 runs finished {time.monotonic() - parsed:.0f}s later")
    assert not failed, failed
    assert _Receiver.lines >= 200  # the pipeline's HTTP export delivered its points
    mapped = [t for t in dep.task_instances("example_pandora_kodo_mapped", RUNS["example_pandora_kodo_mapped"])]
    assert sorted(t["map_index"] for t in mapped if t["task_id"] == "load_object") == [0, 1, 2, 3]


def test_deferrable_waits_ran_in_the_triggerer(deployment: Airflow2Deployment) -> None:
    """The job sensor waits on a 2 s job, so it must defer: its trigger starts and fires in the triggerer process
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
    print(f"checked {len(dep.all_log_files())} log files and {served} task logs served by /api/v1")
    assert served > 20
    assert not leaks, leaks
