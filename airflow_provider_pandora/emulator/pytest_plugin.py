"""pytest fixtures for testing DAGs and code against the emulator (entry point ``pandora_emulator``).

* ``pandora_emulator``: a fresh :class:`~airflow_provider_pandora.emulator.testing.PandoraEmulator` per test;
* ``pandora_emulator_session``: one emulator for the whole session (call ``reset()`` where it matters);
* ``pandora_conn``: a fresh emulator whose connection is ``pandora_default`` (``AIRFLOW_CONN_PANDORA_DEFAULT``)
  for the test, so hooks and operators with default arguments talk to it.

Their ``http`` exports deliver only to the destinations listed with ``--pandora-export-allow HOST[:PORT]``
(repeatable) or the ``pandora_export_allow`` ini option (one per line), as ``pandora-emulator --export-allow``;
a test adds its own receiver with ``pandora_emulator.allow_export("127.0.0.1:PORT")``.

Only the emulator (standard library) is imported here, never Airflow.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_pandora.emulator.delivery.export_allow import parse_allow
from airflow_provider_pandora.emulator.testing import PandoraEmulator

EXPORT_ALLOW_OPTION = "--pandora-export-allow"
EXPORT_ALLOW_INI = "pandora_export_allow"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--pandora-export-allow`` and ``pandora_export_allow``: where the fixtures' ``http`` exports may deliver."""
    help_text = (
        "HOST[:PORT] the pandora_emulator fixtures' http exports may deliver to (as pandora-emulator --export-allow)"
    )
    parser.addoption(EXPORT_ALLOW_OPTION, action="append", default=[], metavar="HOST[:PORT]", help=help_text)
    parser.addini(EXPORT_ALLOW_INI, help_text + ", one per line", type="linelist", default=[])


def export_allow(config: pytest.Config) -> list[str]:
    """The destinations allowed by the ini option, then the command line; a malformed one stops the run."""
    allowed = []
    for source, values in (
        (EXPORT_ALLOW_INI, config.getini(EXPORT_ALLOW_INI)),
        (EXPORT_ALLOW_OPTION, config.getoption(EXPORT_ALLOW_OPTION)),
    ):
        for value in values:
            try:
                allowed.append(str(parse_allow(value)))
            except ValueError as err:
                raise pytest.UsageError(f"{source}: {err}") from None
    return allowed


@pytest.fixture
def pandora_emulator(request: pytest.FixtureRequest) -> Iterator[PandoraEmulator]:
    """A fresh emulator for one test, stopped (and its data removed) afterwards."""
    with PandoraEmulator(export_allow=export_allow(request.config)) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def pandora_emulator_session(request: pytest.FixtureRequest) -> Iterator[PandoraEmulator]:
    """One emulator shared by the whole session: faster, but tests see each other's resources."""
    with PandoraEmulator(export_allow=export_allow(request.config)) as emulator:
        yield emulator


@pytest.fixture
def pandora_conn(pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch) -> PandoraEmulator:
    """The function emulator, set as Airflow's ``pandora_default`` connection through the environment."""
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_DEFAULT", pandora_emulator.connection_json())
    return pandora_emulator
