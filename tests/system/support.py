"""What the system tests of both Airflow lines share: the deployment's life, the report that explains a failed run,
an HTTP receiver, Kodo objects."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from tests.common import write_clicks
from tests.system.deployment import KEEP_ENV, KODO_AK, KODO_CANARY_SK, Deployment, keep_folder

D = TypeVar("D", bound=Deployment)


@contextlib.contextmanager
def running(dep: D, label: str) -> Iterator[D]:
    """Start ``dep`` (printing every component's log tail if it cannot), and stop it whatever happens."""
    started = time.monotonic()
    try:
        try:
            dep.start()
        except BaseException:
            print(dep.tails())
            raise
        print(f"\n{label} up in {time.monotonic() - started:.0f}s under {dep.base}")
        yield dep
    finally:
        stopping = time.monotonic()
        if dep.crashes:
            print(f"\ncomponents that died by themselves and were restarted: {dep.crashes}")
        dep.stop()
        print(f"\n{label} stopped in {time.monotonic() - stopping:.0f}s, nothing left running")
        if keep_folder():
            print(f"{KEEP_ENV} is set: the deployment folder is kept at {dep.base} (its logs in {dep.logs})")


# ---- why a run failed --------------------------------------------------------------------------------------
TASK_LOG_LINES = 40
COMPONENT_ERROR_LINES = 20
BAD_STATES = ("failed", "upstream_failed", "up_for_retry")  # up_for_retry: its last try failed


def keep_hint(dep: Deployment) -> str:
    """Where the deployment's full logs are, and how to keep them past the end of the tests."""
    if keep_folder():
        return f"{KEEP_ENV} is set: the deployment folder {dep.base} is kept after the tests (logs in {dep.logs})"
    return (
        f"the deployment folder {dep.base} (every component's and task's full log) is deleted when the tests end; "
        f"run again with {KEEP_ENV}=1 to keep it"
    )


def run_report(dep: Deployment, dag_id: str, run_id: str) -> str:
    """One run's state, its task instances' states, and for each failed, upstream_failed or up_for_retry one the last
    :data:`TASK_LOG_LINES` lines of its log (the API's, or the logs folder's when the API cannot serve it)."""
    state = dep.get(f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
    tis = sorted(dep.task_instances(dag_id, run_id), key=lambda t: (t["task_id"], t["map_index"]))
    out = [f"===== run {dag_id} / {run_id}: {state} =====", "task states: " + ", ".join(_states(tis))]
    for ti in (t for t in tis if t["state"] in BAD_STATES):
        name = f"{dag_id}.{ti['task_id']}[{ti['map_index']}]"
        tries = int(ti["try_number"] or 0)
        if not tries:
            why = "an upstream task failed" if ti["state"] == "upstream_failed" else "no log"
            out.append(f"----- {name}: {ti['state']}, never ran ({why}) -----")
            continue
        try:
            log = dep.task_log_lines(ti, tries)[-TASK_LOG_LINES:]
        except Exception as exc:  # the report must not hide the failure it reports
            log = [f"(its log could not be read: {exc!r})"]
        out.append(
            f"----- {name}: {ti['state']} on {ti['hostname'] or '?'}, try {tries}: last {len(log)} log lines -----"
        )
        out += log
    return "\n".join(out)


def components_report(dep: Deployment) -> str:
    """The last :data:`COMPONENT_ERROR_LINES` error lines (tracebacks whole) of every component's log."""
    out = []
    for name in dep.components:
        lines = dep.error_lines(name, COMPONENT_ERROR_LINES)
        out.append(f"----- {name}: " + (f"last {len(lines)} error lines -----" if lines else "no error lines -----"))
        out += lines
    return "\n".join(out)


def unsuccessful(dep: Deployment, runs: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(d, r) for d, r in runs.items() if dep.get(f"/dags/{d}/dagRuns/{r}")["state"] != "success"]


def failure_report(dep: Deployment, runs: Mapping[str, str] | list[tuple[str, str]]) -> str:
    """What a failure message says about ``runs`` (dag id -> run id, or pairs), whatever their state: each run's
    :func:`run_report`, the last error lines of every component's log and :func:`keep_hint`."""
    pairs = list(runs.items()) if isinstance(runs, Mapping) else runs
    parts = []
    for dag_id, run_id in pairs:
        try:
            parts.append(run_report(dep, dag_id, run_id))
        except Exception as exc:  # the API server is down: the components' logs below still say why
            parts.append(f"===== run {dag_id} / {run_id}: the REST API could not say ({exc!r}) =====")
    parts += [f"===== components (logs in {dep.logs}) =====", components_report(dep), keep_hint(dep)]
    return "\n".join(parts)


def assert_runs_succeeded(dep: Deployment, runs: Mapping[str, str]) -> None:
    """Fail with the :func:`failure_report` of the runs that did not succeed, if any."""
    failed = unsuccessful(dep, runs)
    if failed:
        raise AssertionError(f"{len(failed)} of {len(runs)} runs did not succeed\n{failure_report(dep, failed)}")


def _states(tis: list[dict[str, Any]]) -> list[str]:
    return [f"{t['task_id']}[{t['map_index']}]: {t['state']}" for t in tis]


FAILURE_DAG = "system_pandora_failure"  # tests/system/dags/system_pandora_failure.py
FAILURE_MESSAGE = "deliberate failure 7f3a"


def check_failure_explains_itself(dep: Deployment, logical_date: str | None = None) -> str:
    """Run the deliberately failing DAG once and check what :func:`assert_runs_succeeded` says about it: the
    exception, the traceback line in the DAG file, the downstream task and how to keep the logs. Returns the text."""
    dep.wait_dags({FAILURE_DAG})
    run_id = dep.trigger(FAILURE_DAG, {}, logical_date=logical_date)
    assert dep.wait_run(FAILURE_DAG, run_id, timeout=180) == "failed"
    try:
        assert_runs_succeeded(dep, {FAILURE_DAG: run_id})
    except AssertionError as exc:
        report = str(exc)
    else:
        raise AssertionError(f"{FAILURE_DAG} failed, but assert_runs_succeeded passed")
    print(f"\nthe failure message of a deliberately failed run:\n{report}")
    assert f"RuntimeError: {FAILURE_MESSAGE}" in report
    assert re.search(rf'File ".*/{FAILURE_DAG}\.py", line \d+, in explode', report), "no traceback line of the DAG"
    assert f"{FAILURE_DAG}.explode[-1]: failed" in report
    assert f"{FAILURE_DAG}.never_runs[-1]: upstream_failed, never ran" in report
    assert "----- scheduler: " in report, "no component section"
    assert KEEP_ENV in report
    return report


@contextlib.contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` behind a threaded HTTP server on a free loopback port, for the ``with`` block: its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextlib.contextmanager
def http_receiver() -> Iterator[tuple[str, list[bytes]]]:
    """An HTTP export target on a free port: its URL and the bodies it was posted (answered 200)."""
    bodies: list[bytes] = []

    class Receiver(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    with serve(Receiver) as url:
        yield url, bodies


def kodo_objects(dep: Deployment, prefix: str, objects: int, lines: int) -> str:
    """A fresh bucket on the deployment's moto server with ``objects`` JSONL files of ``lines`` clicks under
    ``clicks/2024-05-01/``, plus one file outside that prefix that a transfer must not read."""
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
    bucket = f"{prefix}-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "cn-east-1"})
    for n in range(objects):
        body = "".join(
            json.dumps({"user": f"u{n}-{i}", "hits": i, "at": "2024-05-01T00:00:00+08:00"}) + "\n" for i in range(lines)
        )
        s3.put_object(Bucket=bucket, Key=f"clicks/2024-05-01/part-{n}.jsonl", Body=body.encode())
    s3.put_object(Bucket=bucket, Key="other/ignored.jsonl", Body=b'{"user": "x"}\n')
    return bucket


def example_confs(
    dep: Deployment, tag: str, url: str, *, sensors: int, sensor_job_seconds: int | None = None
) -> dict[str, dict[str, Any]]:
    """Run confs for the example DAGs that need no Kodo bucket, with inputs written under the deployment's folder.

    :param tag: a letter that starts every resource prefix, so the two Airflow lines never share a name.
    :param url: the HTTP export target (:func:`http_receiver`).
    :param sensors: how many simulated sensors the push example sends.
    :param sensor_job_seconds: how long the sensors example's job runs (long enough to be found running).
    """
    source = write_clicks(dep.base / "clicks.jsonl")
    jar = dep.base / "parser.jar"
    jar.write_bytes(b"PK\x03\x04example-jar")
    sensors_conf: dict[str, Any] = {"prefix": f"{tag}sn", "poke_interval": 0.5}
    if sensor_job_seconds is not None:
        sensors_conf["job_seconds"] = sensor_job_seconds
    return {
        "example_pandora_pipeline": {
            "prefix": f"{tag}p",
            "source_path": str(source),
            "export_host": url,
            "export_uri": "/in",
            "poll_interval": 0.5,
        },
        "example_pandora_exports": {"prefix": f"{tag}x", "http_host": url, "kodo_bucket": "exports"},
        "example_pandora_push_data": {"prefix": f"{tag}px", "sensors": sensors},
        "example_pandora_scheduled_job": {"prefix": f"{tag}sj", "poll_interval": 0.5},
        "example_pandora_sensors": sensors_conf,
        "example_pandora_plugin": {"prefix": f"{tag}pl", "jar_path": str(jar), "plugin": "com.example.LogParser"},
    }
