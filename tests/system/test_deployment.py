"""Every example DAG on a real CeleryExecutor deployment, driven and read back through the REST API v2 only."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.system.deployment import CANARIES, KODO_AK, KODO_CANARY_SK, WORKERS, Deployment

EXAMPLES = {
    "example_pandora_pipeline",
    "example_pandora_exports",
    "example_pandora_push_data",
    "example_pandora_scheduled_job",
    "example_pandora_sensors",
    "example_pandora_plugin",
    "example_pandora_kodo_mapped",
}
DEFERRED = {  # task -> the trigger it must have handed its wait to
    ("example_pandora_pipeline", "wait_group_running"): "PandoraGroupStatusTrigger",
    ("example_pandora_pipeline", "run_job"): "PandoraJob",
    ("example_pandora_sensors", "group_idle"): "PandoraGroupStatusTrigger",
    ("example_pandora_sensors", "job_done_deferred"): "PandoraJob",
}
RUNS: dict[str, str] = {}


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", _Receiver.bodies
    server.shutdown()


def _kodo_objects(dep: Deployment) -> str:
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
    bucket = f"sys-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "cn-east-1"})
    for n in range(6):
        lines = [json.dumps({"user": f"u{n}-{i}", "hits": i, "at": "2024-05-01T00:00:00+08:00"}) for i in range(50)]
        s3.put_object(Bucket=bucket, Key=f"clicks/2024-05-01/part-{n}.jsonl", Body=("\n".join(lines) + "\n").encode())
    s3.put_object(Bucket=bucket, Key="other/ignored.jsonl", Body=b'{"user": "x"}\n')
    return bucket


def test_every_example_dag_succeeds(deployment: Deployment, receiver: tuple[str, list[bytes]], tmp_path: Path) -> None:
    dep = deployment
    dep.wait_dags(EXAMPLES)
    source = dep.base / "clicks.jsonl"
    source.write_text(
        "".join(
            json.dumps(
                {
                    "user": f"u{i % 7}",
                    "hits": i,
                    "latency": 0.5,
                    "ok": i % 3 != 0,
                    "at": "2024-05-01T00:00:00Z",
                    "tags": ["a"],
                    "meta": {"zone": "nb", "device": {"os": "linux", "version": 2}},
                }
            )
            + "\n"
            for i in range(300)
        )
    )
    jar = dep.base / "parser.jar"
    jar.write_bytes(b"PK\x03\x04example-jar")
    url, bodies = receiver
    confs: dict[str, dict[str, Any]] = {
        "example_pandora_pipeline": {
            "prefix": "sp",
            "source_path": str(source),
            "export_host": url,
            "export_uri": "/in",
            "poll_interval": 0.5,
        },
        "example_pandora_exports": {"prefix": "sx", "http_host": url, "kodo_bucket": "exports"},
        "example_pandora_push_data": {"prefix": "spx", "sensors": 120},
        "example_pandora_scheduled_job": {"prefix": "ssj", "poll_interval": 0.5},
        "example_pandora_sensors": {"prefix": "ssn", "poke_interval": 0.5},
        "example_pandora_plugin": {"prefix": "spl", "jar_path": str(jar), "plugin": "com.example.LogParser"},
        "example_pandora_kodo_mapped": {"prefix": "skm", "bucket": _kodo_objects(dep)},
    }
    for dag_id, conf in confs.items():
        # A logical date, as a scheduled run has: the examples template ds_nodash / data_interval_start, which
        # are undefined in a run triggered without one (Airflow 3's default for API and UI triggers).
        RUNS[dag_id] = dep.trigger(dag_id, conf, logical_date="2024-05-01T00:00:00Z")
    failed = {}
    for dag_id, run_id in RUNS.items():
        state = dep.wait_run(dag_id, run_id, timeout=420)
        if state != "success":
            failed[dag_id] = {
                ti["task_id"] + f"[{ti['map_index']}]": ti["state"] for ti in dep.task_instances(dag_id, run_id)
            }
    assert not failed, failed
    assert sum(b.count(b"\n") for b in bodies) >= 300  # the pipeline's HTTP export delivered its points

    triggerer = dep.log_text("triggerer")
    for (dag_id, task_id), trigger in DEFERRED.items():
        (ti,) = [t for t in dep.task_instances(dag_id, RUNS[dag_id]) if t["task_id"] == task_id]
        assert ti["state"] == "success"
        assert ti["hostname"] in WORKERS, f"{task_id} resumed on {ti['hostname']!r}, not a Celery worker"
        log = dep.task_log(ti, ti["try_number"])
        assert "defer" in log.lower(), f"{dag_id}.{task_id} never deferred:\n{log[-2000:]}"
        assert trigger in log or trigger in triggerer, f"{trigger} of {task_id} did not run in the triggerer"
    assert RUNS["example_pandora_pipeline"] in triggerer or "wait_group_running" in triggerer, triggerer[-3000:]
    print("triggerer lines about our triggers:")
    print("\n".join(line for line in triggerer.splitlines() if "Pandora" in line or "trigger" in line.lower())[-3000:])


def test_no_secret_in_logs_task_logs_or_xcoms(deployment: Deployment) -> None:
    dep = deployment
    if not RUNS:
        pytest.skip("needs the example runs")
    leaks = []
    for path in dep.all_log_files():
        text = path.read_text(errors="replace")
        leaks += [f"{path}: {s}" for s in CANARIES if s in text]
    checked_logs = checked_xcoms = 0
    for dag_id, run_id in RUNS.items():
        for ti in dep.task_instances(dag_id, run_id):
            for attempt in range(1, int(ti["try_number"] or 0) + 1):
                log = dep.task_log(ti, attempt)
                checked_logs += 1
                leaks += [f"task log {ti['task_id']}: {s}" for s in CANARIES if s in log]
            base = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/xcomEntries"
            for entry in dep.get(base, map_index=ti["map_index"])["xcom_entries"]:
                value = dep.get(f"{base}/{entry['key']}", map_index=ti["map_index"], stringify="true")
                checked_xcoms += 1
                leaks += [f"xcom {ti['task_id']}/{entry['key']}: {s}" for s in CANARIES if s in json.dumps(value)]
    print(f"checked {len(dep.all_log_files())} log files, {checked_logs} API task logs, {checked_xcoms} XComs")
    assert checked_logs > 20
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
    assert sorted(hosts) == list(range(6))
    assert set(hosts.values()) == set(WORKERS), hosts
    # The exact point count needs the emulator's state; the mapped XComs report what each task pushed.
