"""`make demo`: the emulator plus the end-to-end example DAG through `airflow dags test`, summarised.

Everything runs under a throwaway AIRFLOW_HOME in `.demo/`; the emulator and the HTTP-export receiver are
started here on free loopback ports and stopped on the way out, even when the run fails. The exit status is
non-zero when anything failed.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
DAG_ID = "example_pandora_pipeline"
POINTS = 2_000
#: Airflow loggers that say, at INFO, what `airflow dags test` does with its database and the execution API (about
#: 190 of the log's 260 lines); their warnings and errors still show.
AIRFLOW_CHATTER = (
    "airflow.api_fastapi",
    "airflow.dag_processing",
    "airflow.models",
    "airflow.serialization",
    "task",
)


class _Receiver(BaseHTTPRequestHandler):
    """Stands in for the user's HTTP endpoint that the pipeline's HTTP export delivers to."""

    protocol_version = "HTTP/1.1"
    received: list[bytes] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            self.received.append(body)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


def _write_input(path: Path) -> None:
    users = ["ann", "bob", "chen", "dana", "eve"]
    with path.open("w") as fh:
        for i in range(POINTS):
            point = {
                "user": users[i % len(users)],
                "hits": i % 17,
                "latency": round(0.5 + (i % 13) / 10, 2),
                "ok": i % 11 != 0,
                "at": f"2024-05-01T{(i // 120) % 24:02d}:{i % 60:02d}:00Z",
                "tags": ["web", "cn"] if i % 2 else ["app"],
                "meta": {"zone": "nb", "device": {"os": "linux" if i % 3 else "ios", "version": i % 5}},
            }
            fh.write(json.dumps(point) + "\n")


def _start_emulator(env: dict[str, str], export_allow: str) -> tuple[subprocess.Popen[str], str]:
    cmd = [
        sys.executable,
        "-m",
        "airflow_provider_pandora.emulator",
        "--port",
        "0",
        "--data-dir",
        str(DEMO / "pandora-data"),
        "--kodo-root",
        str(DEMO / "kodo"),
        "--export-allow",  # where the pipeline's HTTP export may deliver: the receiver, nothing else
        export_allow,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()
    if not first.startswith("PANDORA_EMULATOR_URL="):
        proc.kill()
        raise SystemExit(f"emulator did not start: {first!r}")
    threading.Thread(target=lambda: [None for _ in proc.stdout or []], daemon=True).start()  # drain its log
    return proc, first.split("=", 1)[1]


def _airflow(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    airflow = str(Path(sys.executable).with_name("airflow"))
    return subprocess.run([airflow, *args], env=env, text=True, capture_output=True, check=check)


def _summary(db: Path, run_ok: bool, receiver_bodies: list[bytes], seconds: float) -> bool:
    con = sqlite3.connect(db)
    tis = con.execute(
        "select task_id, state from task_instance where dag_id = ? order by start_date", (DAG_ID,)
    ).fetchall()
    xcoms = {
        task: value
        for task, key, value in con.execute(
            "select task_id, key, value from xcom where dag_id = ? and key = 'return_value'", (DAG_ID,)
        )
    }
    con.close()
    print(f"\n=== {DAG_ID}: {'success' if run_ok else 'FAILED'} in {seconds:.1f}s ===")
    width = max((len(t) for t, _ in tis), default=10)
    for task, state in tis:
        print(f"  {task:<{width}}  {state}")
    failed = [t for t, s in tis if s not in ("success", "skipped")]

    def value(task: str) -> Any:
        raw = xcoms.get(task)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except (TypeError, ValueError):
            return raw

    load = value("load_jsonl")
    if isinstance(load, dict):
        print(f"\n  points loaded: {load.get('points')} in {load.get('batches')} batch(es), {load.get('bytes')} bytes")
    job = value("run_job")
    if isinstance(job, dict):
        final = job.get("final_run") or job.get("run") or job
        print(f"  offline job run: {json.dumps(final, default=str)}")
    lines = sum(body.count(b"\n") for body in receiver_bodies)
    print(f"  HTTP export delivered: {len(receiver_bodies)} request(s), {lines} point(s)")
    if failed:
        print(f"\n  not successful: {', '.join(failed)}")
    return run_ok and not failed and bool(tis)


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)
    (DEMO / "kodo").mkdir(parents=True)
    input_file = DEMO / "clicks.jsonl"
    _write_input(input_file)

    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(DEMO / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "example_dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        # The full log (.demo/dags-test.log; the terminal gets the summary alone): every operator's INFO lines
        # (what it did, with the request id) and each task's start and end, without Airflow's own INFO chatter.
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
        AIRFLOW__LOGGING__NAMESPACE_LEVELS=" ".join(f"{name}=WARNING" for name in AIRFLOW_CHATTER),
    )
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    emulator, url = _start_emulator(env, f"127.0.0.1:{receiver.server_port}")
    started = time.monotonic()
    ok = False
    try:
        from airflow_provider_pandora.emulator.http.server import DEMO_ACCESS_KEY, DEMO_SECRET_KEY

        conn = {"conn_type": "pandora", "host": url, "login": DEMO_ACCESS_KEY, "password": DEMO_SECRET_KEY}
        env["AIRFLOW_CONN_PANDORA_DEFAULT"] = json.dumps(conn)
        print(f"emulator: {url}   HTTP export receiver: http://127.0.0.1:{receiver.server_port}/ingest")
        _airflow(env, "db", "migrate")
        conf = {
            "source_path": str(input_file),
            "export_host": f"http://127.0.0.1:{receiver.server_port}",
            "export_uri": "/ingest",
        }
        print(f"running: airflow dags test {DAG_ID} --conf '{json.dumps(conf)}'")
        result = _airflow(env, "dags", "test", DAG_ID, "--conf", json.dumps(conf), check=False)
        log = result.stdout + result.stderr
        (DEMO / "dags-test.log").write_text(log)
        if result.returncode != 0:
            print(log[-4000:])
        ok = _summary(
            DEMO / "airflow" / "airflow.db",
            result.returncode == 0,
            list(_Receiver.received),
            time.monotonic() - started,
        )
        lines = log.count("\n")
        print(f"\nfull log: {DEMO / 'dags-test.log'} ({lines} lines: each task, and what each operator did)")
    finally:
        emulator.terminate()
        try:
            emulator.wait(10)
        except subprocess.TimeoutExpired:
            emulator.kill()
        receiver.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
