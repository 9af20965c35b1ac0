"""pytest fixtures for testing DAGs and code against the emulator (entry point ``pandora_emulator``).

* ``pandora_emulator``: a fresh :class:`~airflow_provider_pandora.emulator.testing.PandoraEmulator` per test;
* ``pandora_emulator_session``: one emulator for the whole session (call ``reset()`` where it matters);
* ``pandora_conn``: a fresh emulator whose connection is ``pandora_default`` (``AIRFLOW_CONN_PANDORA_DEFAULT``)
  for the test, so hooks and operators with default arguments talk to it.

Only the emulator (standard library) is imported here, never Airflow.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_pandora.emulator.testing import PandoraEmulator


@pytest.fixture
def pandora_emulator() -> Iterator[PandoraEmulator]:
    with PandoraEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def pandora_emulator_session() -> Iterator[PandoraEmulator]:
    with PandoraEmulator() as emulator:
        yield emulator


@pytest.fixture
def pandora_conn(pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch) -> PandoraEmulator:
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_DEFAULT", pandora_emulator.connection_json())
    return pandora_emulator
