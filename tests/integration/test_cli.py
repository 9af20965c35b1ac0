"""The Airflow CLI sees the provider and can test a `pandora` connection (fresh processes, real HTTP)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_pandora import __version__
from airflow_provider_pandora.version_compat import AIRFLOW_V_3_3_PLUS

AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def _airflow(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "AIRFLOW__CORE__TEST_CONNECTION": "Enabled", **env}
    return subprocess.run([AIRFLOW, *args], env=full_env, text=True, capture_output=True, timeout=120, check=False)


def test_providers_get_lists_this_provider():
    result = _airflow("providers", "get", "airflow-provider-pandora", "--full", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert __version__ in result.stdout
    assert "airflow_provider_pandora.hooks.pandora.PandoraHook" in result.stdout


def test_connections_test_succeeds_and_names_the_key_pair_when_it_fails(pandora_emulator: Any):
    good = pandora_emulator.connection_json()
    ok = _airflow("connections", "test", "pandora_cli", AIRFLOW_CONN_PANDORA_CLI=good)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "success" in ok.stdout.lower()

    wrong = json.loads(good)
    wrong["password"] = "wrong-secret-key-value"
    bad = _airflow("connections", "test", "pandora_cli", AIRFLOW_CONN_PANDORA_CLI=json.dumps(wrong))
    if AIRFLOW_V_3_3_PLUS:  # before 3.3, Airflow's CLI prints the failure but exits 0
        assert bad.returncode != 0
    output = (bad.stdout + bad.stderr).lower()
    assert "connection failed" in output
    assert "secret key" in output
    assert "clock" in output
    assert "wrong-secret-key-value" not in output


@pytest.mark.parametrize("command", [("providers", "hooks"), ("providers", "links"), ("providers", "triggers")])
def test_provider_listings_work(command: tuple[str, ...]):
    result = _airflow(*command)
    assert result.returncode == 0, result.stderr
    assert "pandora" in result.stdout.lower()
