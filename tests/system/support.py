"""What the system tests of both Airflow lines share: the deployment's life, an HTTP receiver, Kodo objects."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from tests.common import write_clicks
from tests.system.deployment import KODO_AK, KODO_CANARY_SK, Deployment

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
