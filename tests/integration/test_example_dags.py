"""Every example DAG imports cleanly and runs end to end in real Airflow against the emulator."""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "example_dags"
EXPECTED = {
    "example_pandora_pipeline",
    "example_pandora_exports",
    "example_pandora_push_data",
    "example_pandora_scheduled_job",
    "example_pandora_sensors",
    "example_pandora_plugin",
    "example_pandora_kodo_mapped",
}


def _dagbag() -> Any:
    from airflow.models import DagBag

    # LOAD_EXAMPLES is off in conftest; Airflow 3.3 dropped DagBag's include_examples argument.
    return DagBag(dag_folder=str(EXAMPLES))


def test_example_dags_import_without_errors_or_warnings():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = _dagbag()
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == EXPECTED
    ours = [w for w in caught if "example_dags" in str(w.filename) or "airflow_provider_pandora" in str(w.filename)]
    assert ours == [], [str(w.message) for w in ours]
    for dag_id in bag.dag_ids:
        dag = bag.get_dag(dag_id)
        assert dag.description, dag_id
        assert "pandora" in dag.tags, dag_id
        assert dag.doc_md is None or dag.doc_md


@pytest.fixture(scope="module")
def bag() -> Any:
    return _dagbag()


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


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[bytes]]]:
    _Receiver.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", _Receiver.bodies
    server.shutdown()


def _run(bag: Any, dag_id: str, conf: dict[str, Any]) -> dict[str, str]:
    dag = bag.get_dag(dag_id)
    dagrun = dag.test(run_conf=conf)
    states = {
        ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): ti.state for ti in dagrun.get_task_instances()
    }
    assert dagrun.state == "success", states
    return {k: str(v) for k, v in states.items()}


def test_pipeline(bag: Any, airflow_db: str, pandora_conn: Any, receiver: tuple[str, list[bytes]], tmp_path: Path):
    source = tmp_path / "clicks.jsonl"
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
    url, bodies = receiver
    states = _run(
        bag,
        "example_pandora_pipeline",
        {"prefix": "it", "source_path": str(source), "export_host": url, "export_uri": "/in", "poll_interval": 0.2},
    )
    assert states["run_job"] == "success"
    assert states["delete_group"] == "success"
    assert sum(b.count(b"\n") for b in bodies) == 300  # the HTTP export delivered every point once


def test_exports(bag: Any, airflow_db: str, pandora_conn: Any, receiver: tuple[str, list[bytes]]):
    url, _ = receiver
    _run(bag, "example_pandora_exports", {"prefix": "ex", "http_host": url, "kodo_bucket": "exports"})


def test_push_data(bag: Any, airflow_db: str, pandora_conn: Any):
    _run(bag, "example_pandora_push_data", {"prefix": "px", "sensors": 120})


def test_scheduled_job(bag: Any, airflow_db: str, pandora_conn: Any):
    states = _run(bag, "example_pandora_scheduled_job", {"prefix": "sj", "poll_interval": 0.2})
    assert states["run_for_interval"] == "success"


def test_sensors(bag: Any, airflow_db: str, pandora_conn: Any):
    _run(bag, "example_pandora_sensors", {"prefix": "sn", "poke_interval": 0.2})


def test_plugin(bag: Any, airflow_db: str, pandora_conn: Any, tmp_path: Path):
    jar = tmp_path / "parser.jar"
    jar.write_bytes(b"PK\x03\x04example-jar")
    _run(bag, "example_pandora_plugin", {"prefix": "pl", "jar_path": str(jar), "plugin": "com.example.LogParser"})
