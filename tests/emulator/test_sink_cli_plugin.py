"""Sink mode, the ``pandora-emulator`` command and the pytest fixtures."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from airflow_provider_pandora import auth
from airflow_provider_pandora.emulator.http.server import DEMO_ACCESS_KEY, DEMO_SECRET_KEY
from airflow_provider_pandora.emulator.testing import PandoraEmulator
from tests.emulator.conftest import Api, error_code


# ---- sink ----------------------------------------------------------------------------------------------
def test_sink_counts_points_and_bytes_and_stores_nothing():
    with PandoraEmulator(sink=True) as sink:
        api = Api(sink)
        body = b"a=1\tb=x\na=2\tb=y\n"
        api.ok(api.push("any_repo", body))  # no repo needed
        api.ok(api.push("any_repo", gzip.compress(body), **{"Content-Encoding": "gzip"}))
        stats = requests.get(sink.url + "/_emulator/stats", timeout=10).json()
        assert (stats["points"], stats["bytes"], stats["batches"], stats["sink"]) == (4, 2 * len(body), 2, True)
        assert api.get("/v2/repos/any_repo").status_code == 404


def test_sink_still_checks_signatures_and_framing():
    with PandoraEmulator(sink=True) as sink:
        api = Api(sink)
        assert error_code(api.push("r", b"no-equals-sign\n")) == "E18007"
        assert error_code(api.push("r", b"")) == "E18006"
        assert api.push("r", b"k=" + b"v" * (2 * 1024 * 1024) + b"\n").status_code == 413
        assert api.push("r", b"k=" + b"v" * 102_400 + b"\n").status_code == 400
        unsigned = requests.post(sink.url + "/v2/repos/r/data", data=b"a=1\n", timeout=10)
        assert unsigned.status_code == 401
        assert sink.stats()["points"] == 0


# ---- command line -----------------------------------------------------------------------------------------
def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_pandora.emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    assert first.startswith("PANDORA_EMULATOR_URL=http://127.0.0.1:"), first
    return process, first.split("=", 1)[1]


def _get(url: str, ak: str, sk: str) -> requests.Response:
    return requests.get(
        url + "/v2/groups", headers=auth.sign_headers(ak, sk, "GET", url + "/v2/groups", {}), timeout=10
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_prints_its_url_serves_and_stops_cleanly(tmp_path: Path, stop_signal: int):
    process, url = _start("--data-dir", str(tmp_path / "d"), "--credentials", "ak1:sk1", "--credentials", "ak2:sk2")
    try:
        assert _get(url, "ak1", "sk1").status_code == 200
        assert _get(url, "ak2", "sk2").status_code == 200
        assert _get(url, DEMO_ACCESS_KEY, DEMO_SECRET_KEY).status_code == 401
    finally:
        process.send_signal(stop_signal)
        assert process.wait(timeout=15) == 0
    assert (tmp_path / "d" / "pandora.db").exists()  # a given data dir is kept


def test_cli_defaults_demo_keys_and_a_temporary_data_dir():
    process, url = _start("--sink")
    try:
        assert _get(url, DEMO_ACCESS_KEY, DEMO_SECRET_KEY).status_code == 200
        assert requests.get(url + "/_emulator/health", timeout=10).json() == {"ok": True, "sink": True}
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0
    assert process.stderr is not None
    data_dir = process.stderr.read().split("data dir ", 1)[1].split(",", 1)[0]
    assert not os.path.exists(data_dir)  # removed on shutdown


def test_cli_rejects_malformed_credentials():
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_pandora.emulator", "--credentials", "no-colon"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "AK:SK" in result.stderr


# ---- fixtures and the in-process API ----------------------------------------------------------------------
def test_pandora_conn_sets_the_default_connection(pandora_conn: PandoraEmulator):
    conn = json.loads(os.environ["AIRFLOW_CONN_PANDORA_DEFAULT"])
    assert conn == {
        "conn_type": "pandora",
        "host": pandora_conn.url,
        "login": DEMO_ACCESS_KEY,
        "password": DEMO_SECRET_KEY,
        "extra": {"region": "nb"},
    }


def test_session_emulator_is_shared(pandora_emulator_session: PandoraEmulator, request: pytest.FixtureRequest):
    assert request.getfixturevalue("pandora_emulator_session") is pandora_emulator_session
    assert Api(pandora_emulator_session).get("/v2/groups").status_code == 200


def test_connection_uri_and_repr():
    with PandoraEmulator(credentials={"a k": "s/k"}) as em:
        uri = em.connection_uri(timeout=5)
        assert uri.startswith("pandora://a%20k:s%2Fk@127.0.0.1:")
        assert "__extra__=" in uri
        assert "s/k" not in repr(em)
        assert json.loads(em.connection_json(timeout=5))["extra"] == {"region": "nb", "timeout": 5}
    assert "stopped" in repr(em)
    with pytest.raises(RuntimeError, match="not running"):
        em.points("x")


def test_stop_leaves_no_threads_and_removes_the_temporary_dir():
    import threading

    before = {t.ident for t in threading.enumerate()}
    em = PandoraEmulator().start()
    api = Api(em)
    api.repo("r", [{"key": "s", "valtype": "string"}])
    api.job("r", "j", "o", "-- emulator: sleep=30\nselect s from r")
    api.ok(api.post("/v2/repos/r/jobs/j/actions/start"))
    data_dir = em.data_dir
    started = time.monotonic()
    em.stop()  # with a keep-alive connection open and a job running
    assert time.monotonic() - started < 5
    api.session.close()
    leftover = [t for t in threading.enumerate() if t.ident not in before and t.name.startswith("pandora")]
    assert leftover == []
    assert not data_dir.exists()
