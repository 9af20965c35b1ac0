"""A local Pandora server for demos and tests: ``pandora-emulator`` or :class:`PandoraEmulator` in-process.

It serves every endpoint of the spec over real HTTP with the service's validation, error codes and
signature checks, stores points in SQLite, and runs transforms, offline jobs and exports. See
``testing.py`` for the in-process API and ``pytest_plugin.py`` for the fixtures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_pandora.emulator.http.server import DEMO_ACCESS_KEY, DEMO_SECRET_KEY
    from airflow_provider_pandora.emulator.testing import PandoraEmulator

__all__ = ["DEMO_ACCESS_KEY", "DEMO_SECRET_KEY", "PandoraEmulator"]


def __getattr__(name: str) -> Any:
    # Lazy, so importing a pure submodule (sql, delivery...) does not start up the server code.
    if name == "PandoraEmulator":
        from airflow_provider_pandora.emulator.testing import PandoraEmulator

        return PandoraEmulator
    if name in __all__:
        from airflow_provider_pandora.emulator.http import server

        return getattr(server, name)
    raise AttributeError(name)
