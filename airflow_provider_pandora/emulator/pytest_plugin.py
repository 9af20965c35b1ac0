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
    """A fresh emulator for one test, stopped (and its data removed) afterwards."""
    with PandoraEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def pandora_emulator_session() -> Iterator[PandoraEmulator]:
    """One emulator shared by the whole session: faster, but tests see each other's resources."""
    with PandoraEmulator() as emulator:
        yield emulator


@pytest.fixture
def pandora_conn(pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch) -> PandoraEmulator:
    """The function emulator, set as Airflow's ``pandora_default`` connection through the environment."""
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_DEFAULT", pandora_emulator.connection_json())
    return pandora_emulator
