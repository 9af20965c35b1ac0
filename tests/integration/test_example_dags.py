"""Every example DAG imports cleanly and runs end to end in real Airflow against the emulator."""

from __future__ import annotations

import json
import sqlite3
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS
from tests.common import assert_succeeded, dag_test, write_clicks

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
    "example_pandora_assets_producer",
    "example_pandora_assets_consumer",
} | (
    # The AssetWatcher example (event-driven scheduling) is Airflow 3 only.
    {"example_pandora_assets_loop_job", "example_pandora_assets_job_runs"} if AIRFLOW_V_3_0_PLUS else set()
)


# Recognisable secrets: every example DAG runs with them, and none may surface anywhere a user can read.
CANARY_AK = "AK-canary-visible"
CANARY_SK = "SK-canary-7d41f0e2b9c8a6"
KODO_CANARY_SK = "KODO-SK-canary-3b8e5f1a"
CANARIES = (CANARY_SK, KODO_CANARY_SK)


@pytest.fixture
def pandora_conn(monkeypatch: pytest.MonkeyPatch) -> Iterator[PandoraEmulator]:
    """An emulator that only accepts the canary pair, as ``pandora_default`` (shadows the plugin fixture)."""
    with PandoraEmulator(credentials={CANARY_AK: CANARY_SK}) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_PANDORA_DEFAULT", emulator.connection_json())
        yield emulator


def _dagbag() -> Any:
    from airflow.models import DagBag

    # LOAD_EXAMPLES is off in conftest; Airflow 3.3 dropped DagBag's include_examples argument.
    return DagBag(dag_folder=str(EXAMPLES))


def test_example_dags_import_without_errors_or_warnings(airflow_db: str) -> None:
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
def receiver(pandora_conn: Any) -> Iterator[tuple[str, list[bytes]]]:
    """The HTTP export target, on a free port that the emulator's http exports are allowed to deliver to."""
    _Receiver.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pandora_conn.allow_export(f"127.0.0.1:{server.server_port}")
    yield f"http://127.0.0.1:{server.server_port}", _Receiver.bodies
    server.shutdown()


@pytest.fixture
def guard(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], airflow_db: str) -> Any:
    """Run a DAG and prove no secret reached its logs, XComs or rendered template fields."""
    caplog.set_level("DEBUG")

    def run(bag: Any, dag_id: str, conf: dict[str, Any], **test_kwargs: Any) -> dict[str, str]:
        dag = bag.get_dag(dag_id)
        dagrun = dag_test(dag, run_conf=conf, **test_kwargs)
        states = {
            ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): ti.state
            for ti in dagrun.get_task_instances()
        }
        out, err = capfd.readouterr()  # read away from the report: assert_succeeded shows what a task raised
        stored = _stored_values(airflow_db, dag_id, dagrun.run_id)
        for secret in CANARIES:  # failure paths may leak too: checked before the state
            assert secret not in caplog.text, f"{dag_id}: a secret reached a log record"
            assert secret not in _task_output(out + err), f"{dag_id}: a secret reached the task output"
            for table, values in stored.items():
                assert not [v for v in values if secret in v], f"{dag_id}: a secret reached {table}"
        assert_succeeded(dagrun)
        assert stored["rendered_task_instance_fields"], "no rendered fields were stored: the check would be empty"
        return {k: str(v) for k, v in states.items()}

    return run


def _task_output(output: str) -> str:
    """The task output that must hold no secret.

    Airflow 3.0's dag.test() runs the supervisor in-process, and its comms log every message a task sends at
    DEBUG, the value of a ``MaskSecret`` request included (``Sending request msg=MaskSecret(value=...)``): Airflow
    itself asks to mask the connection's password. Those lines are Airflow's, exist only in 3.0's in-process test
    comms (a deployment's task sends them over a socket, unlogged), and are the only lines dropped here.
    """
    if AIRFLOW_V_3_1_PLUS:
        return output
    return "\n".join(line for line in output.splitlines() if "msg=MaskSecret(value=" not in line)


def _stored_values(conn: str, dag_id: str, run_id: str) -> dict[str, list[str]]:
    """XCom values and rendered template fields of one run, read straight from the metadata DB."""
    path = conn.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return {
            table: [
                value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                for (value,) in db.execute(
                    f"SELECT {column} FROM {table} WHERE dag_id = ? AND run_id = ?", (dag_id, run_id)
                )
            ]
            for table, column in (("xcom", "value"), ("rendered_task_instance_fields", "rendered_fields"))
        }


def test_pipeline(bag: Any, guard: Any, pandora_conn: Any, receiver: tuple[str, list[bytes]], tmp_path: Path):
    source = write_clicks(tmp_path / "clicks.jsonl")
    url, bodies = receiver
    states = guard(
        bag,
        "example_pandora_pipeline",
        {"prefix": "it", "source_path": str(source), "export_host": url, "export_uri": "/in", "poll_interval": 0.2},
    )
    assert states["run_job"] == "success"
    assert states["delete_group"] == "success"
    assert sum(b.count(b"\n") for b in bodies) == 300  # the HTTP export delivered every point once


def test_exports(bag: Any, guard: Any, pandora_conn: Any, receiver: tuple[str, list[bytes]]):
    url, _ = receiver
    guard(bag, "example_pandora_exports", {"prefix": "ex", "http_host": url, "kodo_bucket": "exports"})


def test_push_data(bag: Any, guard: Any, pandora_conn: Any):
    guard(bag, "example_pandora_push_data", {"prefix": "px", "sensors": 120})


def test_scheduled_job(bag: Any, guard: Any, pandora_conn: Any):
    states = guard(bag, "example_pandora_scheduled_job", {"prefix": "sj", "poll_interval": 0.2})
    assert states["run_for_interval"] == "success"


def test_sensors(bag: Any, guard: Any, pandora_conn: Any):
    guard(bag, "example_pandora_sensors", {"prefix": "sn", "poke_interval": 0.2})


def test_plugin(bag: Any, guard: Any, pandora_conn: Any, tmp_path: Path):
    jar = tmp_path / "parser.jar"
    jar.write_bytes(b"PK\x03\x04example-jar")
    guard(bag, "example_pandora_plugin", {"prefix": "pl", "jar_path": str(jar), "plugin": "com.example.LogParser"})


def test_kodo_mapped(bag: Any, guard: Any, pandora_conn: Any, kodo_conn: Any, monkeypatch: pytest.MonkeyPatch):
    kodo = json.loads(kodo_conn.connection_json())
    monkeypatch.setenv("AIRFLOW_CONN_KODO_DEFAULT", json.dumps({**kodo, "password": KODO_CANARY_SK}))
    for n in range(3):
        lines = [json.dumps({"user": f"u{n}-{i}", "hits": i, "at": "2024-05-01T00:00:00+08:00"}) for i in range(40)]
        kodo_conn.put(f"clicks/2024-05-01/part-{n}.jsonl", ("\n".join(lines) + "\n").encode())
    kodo_conn.put("other/ignored.jsonl", b'{"user": "x"}\n')
    states = guard(bag, "example_pandora_kodo_mapped", {"prefix": "km", "bucket": kodo_conn.bucket})
    assert sorted(k for k in states if k.startswith("load_object[")) == [f"load_object[{n}]" for n in range(3)]
    assert len(pandora_conn.points("km_clicks")) == 120


def _asset_rows(conn: str, uri: str) -> tuple[list[dict[str, Any]], list[str]]:
    """The extra of every event of the asset ``uri``, and the DAGs queued to run on it (Airflow 3 and 2.11 tables)."""
    kind = "asset" if AIRFLOW_V_3_0_PLUS else "dataset"
    with sqlite3.connect(conn.removeprefix("sqlite:///")) as db:
        extras = [
            json.loads(extra or "{}")
            for (extra,) in db.execute(
                f"SELECT e.extra FROM {kind}_event e JOIN {kind} a ON a.id = e.{kind}_id WHERE a.uri = ? ORDER BY e.id",
                (uri,),
            )
        ]
        queued = [
            dag_id
            for (dag_id,) in db.execute(
                f"SELECT q.target_dag_id FROM {kind}_dag_run_queue q JOIN {kind} a ON a.id = q.{kind}_id "
                "WHERE a.uri = ?",
                (uri,),
            )
        ]
    return extras, queued


def _sync(bag: Any) -> None:
    """Write the DAGs, their assets and schedules to the DB, as a deployment's DAG processor does (dag.test() on
    Airflow 2.11 and 3.0 leaves the assets unregistered, or inactive)."""
    try:
        from airflow.dag_processing.dagbag import sync_bag_to_db  # Airflow 3.2+
    except ImportError:
        try:
            from airflow.models.dagbag import sync_bag_to_db  # Airflow 3.1
        except ImportError:
            sync_bag_to_db = None
    if AIRFLOW_V_3_0_PLUS:
        from airflow.dag_processing.bundles.manager import DagBundlesManager

        DagBundlesManager().sync_bundles_to_db()  # the dags-folder bundle the DAG rows refer to
    if sync_bag_to_db is not None:
        sync_bag_to_db(bag, "dags-folder", None)
    elif AIRFLOW_V_3_0_PLUS:
        bag.sync_to_db("dags-folder", None)  # Airflow 3.0
    else:
        bag.sync_to_db()


def test_assets(guard: Any, pandora_conn: Any, airflow_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The producer's push emits the repo's asset event with what it wrote, which queues the consumer."""
    monkeypatch.setenv("AIRFLOW__PANDORA__ASSET_ENDPOINT", pandora_conn.url)
    bag = _dagbag()  # parsed now, so that the assets name this emulator
    _sync(bag)
    uri = f"pandora://{pandora_conn.url.removeprefix('http://')}/assets_clicks"
    guard(bag, "example_pandora_assets_producer", {"users": 12})
    guard(bag, "example_pandora_assets_consumer", {"poll_interval": 0.2})  # a manual run; it is now in the DB
    assert pandora_conn.points("assets_click_totals") == [{"users": 12, "hits": sum(i % 7 for i in range(12))}]
    guard(bag, "example_pandora_assets_producer", {"users": 3})
    extras, queued = _asset_rows(airflow_db, uri)
    assert [(e["points"], e["batches"], e["bytes"] > 0) for e in extras] == [(12, 1, True), (3, 1, True)]
    assert queued == ["example_pandora_assets_consumer"]


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="Airflow 2 runs always have a logical date")
@pytest.mark.parametrize(
    ("dag_id", "conf"),
    [
        ("example_pandora_exports", {"prefix": "exn", "kodo_bucket": "exports"}),
        ("example_pandora_sensors", {"prefix": "snn", "poke_interval": 0.2}),
        ("example_pandora_scheduled_job", {"prefix": "sjn", "poll_interval": 0.2}),
    ],
)
def test_dated_examples_run_without_a_logical_date(
    bag: Any, guard: Any, pandora_conn: Any, receiver: tuple[str, list[bytes]], dag_id: str, conf: dict[str, Any]
) -> None:
    """Airflow 3's UI and REST API trigger runs with no logical date: ds, ds_nodash, data_interval_start undefined."""
    if dag_id == "example_pandora_exports":
        conf = {**conf, "http_host": receiver[0]}
    guard(bag, dag_id, conf, logical_date=None)
