"""Emulator ingest speed: 2 MiB batches of 10-field points over HTTP into SQLite (target >= 100k points/s).

The emulator runs as its own process (``python -m airflow_provider_pandora.emulator``), as in ``make demo``,
so the pushing client and the server do not share a GIL; batches are encoded once, before timing.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import requests

from airflow_provider_pandora import wire
from airflow_provider_pandora.emulator.http.server import DEMO_ACCESS_KEY, DEMO_SECRET_KEY
from airflow_provider_pandora.hooks._transport import PandoraAuth
from airflow_provider_pandora.schema import parse_schema

TARGET_POINTS_PER_S = 100_000.0
BATCHES = 12
SCHEMA = [
    {"key": "user", "valtype": "string", "required": True},
    {"key": "path", "valtype": "string"},
    {"key": "agent", "valtype": "string"},
    {"key": "zone", "valtype": "string"},
    {"key": "hits", "valtype": "long"},
    {"key": "bytes", "valtype": "long"},
    {"key": "status", "valtype": "long"},
    {"key": "latency", "valtype": "float"},
    {"key": "ok", "valtype": "boolean"},
    {"key": "at", "valtype": "date"},
]


def _batches() -> list[tuple[int, bytes]]:
    encoder = wire.PointEncoder(parse_schema(SCHEMA))
    at = datetime(2024, 5, 1, tzinfo=UTC)
    out: list[tuple[int, bytes]] = []
    builder = wire.BatchBuilder()
    i = 0
    while len(out) < BATCHES:
        point = {
            "user": f"user{i % 5000}",
            "path": f"/api/v1/items/{i}",
            "agent": "Mozilla/5.0 (X11; Linux x86_64)",
            "zone": "nb",
            "hits": i,
            "bytes": i * 31,
            "status": 200,
            "latency": 0.001 * (i % 997),
            "ok": i % 7 != 0,
            "at": at,
        }
        full = builder.add(encoder.encode(point))
        if full:
            out.append((len(full), wire.body_of(full)))
        i += 1
    return out


@contextmanager
def _emulator(*args: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="pandora-bench-") as data_dir:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow_provider_pandora.emulator", "--port", "0", "--data-dir", data_dir, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            if not line.startswith("PANDORA_EMULATOR_URL="):
                raise RuntimeError(f"the emulator did not start: {line!r}")
            yield line.split("=", 1)[1]
        finally:
            process.terminate()
            process.wait(timeout=30)


def _ingest(url: str, batches: list[tuple[int, bytes]], *, create: bool) -> float:
    session = requests.Session()
    session.auth = PandoraAuth(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
    if create:
        created = session.post(f"{url}/v2/repos/bench", json={"region": "nb", "schema": SCHEMA}, timeout=30)
        created.raise_for_status()
    headers = {"Content-Type": "text/plain"}
    started = time.perf_counter()
    points = 0
    for count, body in batches:
        response = session.post(f"{url}/v2/repos/bench/data", data=body, headers=headers, timeout=60)
        if response.status_code != 200:
            raise RuntimeError(f"push failed: {response.status_code} {response.text[:200]}")
        points += count
    elapsed = time.perf_counter() - started
    session.close()
    return points / elapsed


def _row(name: str, value: float) -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value),
        "unit": "points/s",
        "baseline": TARGET_POINTS_PER_S,
        "ratio": round(value / TARGET_POINTS_PER_S, 2),
    }


def run() -> list[dict[str, Any]]:
    """Rows ``{"name", "value", "unit", "baseline", "ratio"}``; ``baseline`` is the issue's 100k points/s target."""
    batches = _batches()
    rows = []
    with _emulator() as url:
        rows.append(
            _row(
                "emulator ingest, 2 MiB batches of 10-field points, validated into SQLite",
                _ingest(url, batches, create=True),
            )
        )
    with _emulator("--sink") as url:
        rows.append(_row("emulator sink (signature + framing only)", _ingest(url, batches, create=False)))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
