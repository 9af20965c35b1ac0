"""The emulated service: its state plus credentials, injected faults, the request log and counters, and the
background :class:`~airflow_provider_pandora.emulator.core.background.Runner` that executes transforms,
exports and jobs (no HTTP here).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from airflow_provider_pandora.emulator.core.background import Runner
from airflow_provider_pandora.emulator.core.faults import FaultList
from airflow_provider_pandora.emulator.core.state import EmulatorState
from airflow_provider_pandora.emulator.delivery.export_allow import ExportPolicy

REQUEST_LOG_SIZE = int(os.environ.get("PANDORA_EMULATOR_REQUEST_LOG_SIZE", "10000"))
"""Requests kept for ``/_emulator/requests`` (benchmarks with thousands of pollers raise it)."""


class Engine(EmulatorState):
    """Everything the emulator knows; thread-safe.

    :param data_dir: folder of the SQLite database (``pandora.db``); reused across restarts.
    :param kodo_root: folder standing in for Kodo: ``<kodo_root>/<bucket>/<key>``.
    :param credentials: access key -> secret key.
    :param sink: count data pushes without storing them (benchmarks).
    :param clock: Unix seconds now (tests pass a fake clock to drive schedules).
    :param tick: seconds between background passes over transforms, exports and job schedules.
    :param export_allow: ``HOST[:PORT]`` destinations ``http`` exports may deliver to (nothing by default; see
        :mod:`~airflow_provider_pandora.emulator.delivery.export_allow`).
    """

    def __init__(
        self,
        data_dir: Path,
        kodo_root: Path,
        credentials: Mapping[str, str],
        *,
        sink: bool = False,
        clock: Callable[[], float] | None = None,
        tick: float = 0.5,
        export_allow: Iterable[str] = (),
    ) -> None:
        #: Where ``http`` exports may deliver; the server tells it its own port, which is refused always.
        self.export_policy = ExportPolicy(export_allow)  # first: a bad entry raises before the database opens
        super().__init__(data_dir, kodo_root, clock=clock)
        self.credentials = dict(credentials)
        self.sink = sink
        #: Checks of ``Date`` and token expiry use real time (clients sign with theirs); tests may pin it.
        self.auth_clock: Callable[[], float] = time.time
        self.faults = FaultList()
        self._log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self._stats_lock = threading.Lock()
        self._stats = {"points": 0, "bytes": 0, "batches": 0, "requests": 0}
        self.runner = Runner(self, tick=tick, export_policy=self.export_policy)
        self.runner.recover()

    # ---- observability ----------------------------------------------------------------------------------
    def record_request(self, entry: dict[str, Any]) -> None:
        """Append a request to the bounded log (``requests_log``) and count it."""
        with self._stats_lock:
            self._stats["requests"] += 1
            self._log.append(entry)

    def requests_log(self) -> list[dict[str, Any]]:
        """Copies of the most recent requests, oldest first (the log keeps a bounded number)."""
        with self._stats_lock:
            return [dict(entry) for entry in self._log]

    def count_push(self, points: int, size: int) -> None:
        """Count an accepted push of ``points`` points and ``size`` body bytes, for ``stats``."""
        with self._stats_lock:
            self._stats["points"] += points
            self._stats["bytes"] += size
            self._stats["batches"] += 1

    def stats(self) -> dict[str, Any]:
        """Totals of accepted points, bytes, batches and requests, and whether pushes are only counted (``sink``)."""
        with self._stats_lock:
            return {**self._stats, "sink": self.sink}

    def undelivered(self, repo: str, offset: int) -> int:
        """Points of ``repo`` after an export's ``offset``: not delivered yet (waiting, retrying or refused)."""
        try:
            return self.store.count(repo, after=offset)
        except sqlite3.Error:  # the repo went away meanwhile
            return 0

    # ---- groups -----------------------------------------------------------------------------------------
    def group_status(self, name: str) -> str:
        """``running`` when started (or allocated on start), or while a transform or job in it runs."""
        doc = self.existing("group", name)
        if doc.get("started"):
            return "running"
        members = {r["name"] for r in self.store.docs("repo") if r.get("group") == name}
        if not members:
            return "idle"
        if any(t.get("repo") in members for t in self.store.docs("transform")):
            return "running"
        if any(repo in members for _, repo, _, _ in self.store.running_runs()):
            return "running"
        return "idle"

    # ---- lifecycle -----------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every resource, point, fault, logged request and counter; running job runs are cancelled."""
        self.runner.cancel_all()
        self.store.reset()
        self.faults.clear()
        with self._stats_lock:
            self._log.clear()
            self._stats = dict.fromkeys(self._stats, 0)

    def close(self) -> None:
        """Stop the background runner, then close the database; the engine is unusable afterwards."""
        self.runner.stop()
        self.store.close()
