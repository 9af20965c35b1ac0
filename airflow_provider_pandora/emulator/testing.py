"""Run the emulator inside a test: ``with PandoraEmulator() as emulator: ...`` (like moto's ``mock_aws``).

The server listens on a free loopback port on a background thread; :meth:`PandoraEmulator.connection_json`
gives the Airflow connection for it, and the inspection helpers (:meth:`~PandoraEmulator.points`,
:meth:`~PandoraEmulator.requests_log`, faults, :meth:`~PandoraEmulator.run_transforms`) read the
server's state directly, without HTTP.
"""

from __future__ import annotations

import json
import shutil
import ssl
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from airflow_provider_pandora.emulator.core.faults import Fault
from airflow_provider_pandora.emulator.delivery.export_allow import parse_allow
from airflow_provider_pandora.emulator.http.server import DEMO_ACCESS_KEY, DEMO_SECRET_KEY, EmulatorServer

__all__ = ["PandoraEmulator"]

DEFAULT_TICK = 0.05
"""Background pass interval in tests: exports deliver and schedules fire within ~50 ms."""


class PandoraEmulator:
    """An in-process Pandora emulator on a free port.

    :param host: interface to listen on (loopback by default).
    :param port: port; 0 picks a free one.
    :param data_dir: SQLite folder; a temporary one (deleted on ``stop``) when not given. Pass the same
        folder to a new emulator to see the points of a previous one.
    :param kodo_root: folder standing in for Kodo (``<kodo_root>/<bucket>/<key>``); ``<data_dir>/kodo`` by default.
    :param credentials: access key -> secret key; the demo pair by default. The first pair is the one
        :meth:`connection_json` uses.
    :param sink: count pushed points without storing them (benchmarks).
    :param clock: Unix seconds now, for transform intervals and job schedules (auth always uses real time).
    :param tick: seconds between background passes over transforms, exports and job schedules.
    :param ssl_context: a server-side context to serve HTTPS instead of HTTP (TLS settings of clients).
    :param admin_token: lets clients that are not on loopback call the ``/_emulator/...`` admin endpoints, sending
        it in ``X-Emulator-Admin-Token``; without it only loopback clients may (the helpers here need neither).
    :param export_allow: ``HOST[:PORT]`` destinations ``http`` exports may deliver to (``--export-allow``), such
        as ``["127.0.0.1:8080"]``; an entry without a port allows every port of the host. None by default, so an
        ``http`` export to a test's receiver needs its address here or in :meth:`allow_export`. The emulator's
        own address is refused always.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | Path | None = None,
        kodo_root: str | Path | None = None,
        credentials: Mapping[str, str] | None = None,
        sink: bool = False,
        clock: Callable[[], float] | None = None,
        tick: float = DEFAULT_TICK,
        ssl_context: ssl.SSLContext | None = None,
        admin_token: str | None = None,
        export_allow: Iterable[str] = (),
    ) -> None:
        self.host = host
        self.port = port
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="pandora-emulator-"))
        self.kodo_root = Path(kodo_root) if kodo_root is not None else self.data_dir / "kodo"
        self.credentials = dict(credentials or {DEMO_ACCESS_KEY: DEMO_SECRET_KEY})
        if not self.credentials:
            raise ValueError("credentials must hold at least one access key / secret key pair")
        self.sink = sink
        self.clock = clock
        self.tick = tick
        self.ssl_context = ssl_context
        self.admin_token = admin_token
        self.export_allow: list[str] = []
        self._server: EmulatorServer | None = None
        self.allow_export(*export_allow)

    # ---- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> PandoraEmulator:
        """Start the server (idempotent); returns ``self`` so ``PandoraEmulator().start()`` chains."""
        if self._server is None:
            self._server = EmulatorServer(
                host=self.host,
                port=self.port,
                data_dir=self.data_dir,
                kodo_root=self.kodo_root,
                credentials=self.credentials,
                sink=self.sink,
                clock=self.clock,
                tick=self.tick,
                ssl_context=self.ssl_context,
                admin_token=self.admin_token,
                export_allow=self.export_allow,
            )
            self._server.start()
        return self

    def stop(self) -> None:
        """Stop the server and its workers; the temporary data folder (if any) is removed."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> PandoraEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.url if self._server is not None else "stopped"
        return f"PandoraEmulator({state}, access_key={self.access_key!r})"

    @property
    def server(self) -> EmulatorServer:
        """The running server; raises ``RuntimeError`` when the emulator was not started."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() or use it as a context manager")
        return self._server

    # ---- connection ------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL of the running emulator, such as ``http://127.0.0.1:PORT``."""
        return self.server.url

    @property
    def access_key(self) -> str:
        """The first configured access key, the one ``connection_json`` uses."""
        return next(iter(self.credentials))

    @property
    def secret_key(self) -> str:
        """The secret key paired with ``access_key``."""
        return self.credentials[self.access_key]

    def connection_json(self, **extra: Any) -> str:
        """An Airflow connection (JSON form, for ``AIRFLOW_CONN_<ID>``) pointing at this emulator."""
        return json.dumps(
            {
                "conn_type": "pandora",
                "host": self.url,
                "login": self.access_key,
                "password": self.secret_key,
                "extra": {"region": "nb", **extra},
            }
        )

    def connection_uri(self, **extra: Any) -> str:
        """The same connection as a URI (``pandora://AK:SK@127.0.0.1:PORT?__extra__=...``)."""
        host_port = self.url.split("://", 1)[1]
        extras = json.dumps({"region": "nb", **extra})
        return (
            f"pandora://{quote(self.access_key, safe='')}:{quote(self.secret_key, safe='')}@{host_port}"
            f"/?__extra__={quote(extras, safe='')}"
        )

    def allow_export(self, *destinations: str) -> None:
        """Let ``http`` exports deliver to these ``HOST[:PORT]`` destinations too (``--export-allow``), at once
        when running (for a receiver started after the emulator); :class:`ValueError` for a malformed one."""
        entries = []
        for destination in destinations:
            try:
                entries.append(str(parse_allow(destination)))
            except ValueError as err:
                raise ValueError(f"export_allow: {err}") from None
        self.export_allow.extend(entry for entry in entries if entry not in self.export_allow)
        if self._server is not None:
            self._server.engine.export_policy.allow(*entries)

    # ---- inspection ------------------------------------------------------------------------------------
    def points(self, repo: str) -> list[dict[str, Any]]:
        """Every stored point of ``repo``, decoded to typed values (``datetime`` for dates), in arrival order."""
        return [point for _, point in self.server.engine.typed_points(repo)]

    def requests_log(self) -> list[dict[str, Any]]:
        """Recent requests: method, path, status, reqid, user_agent, time, duration_ms (never the signature)."""
        return self.server.engine.requests_log()

    def stats(self) -> dict[str, Any]:
        """Accepted pushes: points, bytes, batches; and requests served."""
        return self.server.engine.stats()

    def export_status(self, repo: str, export: str) -> dict[str, Any]:
        """An export's type and delivery state (``delivered``, ``undelivered`` points, ``status``: ``running``,
        ``retrying`` or ``refused``, ``lastError``, and ``refused``: the destination ``--export-allow`` refused);
        ``KeyError`` if it does not exist."""
        engine = self.server.engine
        doc = engine.store.get("export", export, scope=repo)
        if doc is None:
            raise KeyError(f"export {export!r} of repo {repo!r} does not exist")
        state = doc.get("state") or {}
        undelivered = engine.undelivered(repo, int(state.get("offset") or 0))
        return {"type": doc["type"], **state, "undelivered": undelivered}

    # ---- control ---------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every resource, point, fault and logged request."""
        self.server.engine.reset()

    def add_fault(
        self,
        action: str,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        count: int | None = None,
        rate: float | None = None,
        delay_s: float | None = None,
    ) -> dict[str, Any]:
        """Make matching requests fail: ``error``, ``drop``, ``delay`` or ``commit_then_error`` (see :mod:`.faults`)."""
        fault = Fault(action, method, path, status, count, rate, delay_s)
        return self.server.engine.faults.add(fault).to_dict()

    def clear_faults(self) -> None:
        """Remove every injected fault: requests are answered normally again."""
        self.server.engine.faults.clear()

    def run_transforms(self) -> int:
        """Run every transform now over the points that arrived since its last run (synchronously)."""
        return self.server.engine.runner.run_transforms()

    def deliver_exports(self) -> None:
        """Deliver every export's new points now (synchronously)."""
        self.server.engine.runner.deliver_exports()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no job run is running and every export has delivered what it can (one whose destination is
        refused can deliver nothing: see :meth:`export_status`); returns whether it got there."""
        engine = self.server.engine
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = bool(engine.store.running_runs())
            if not busy:
                for export in engine.store.docs("export"):
                    state = export.get("state") or {}
                    if state.get("status") == "refused":
                        continue
                    if state.get("lastError") or int(state.get("offset") or 0) < engine.store.max_seq(export["repo"]):
                        busy = True
                        break
            if not busy:
                return True
            time.sleep(0.02)
        return False
