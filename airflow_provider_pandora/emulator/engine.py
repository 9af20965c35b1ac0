"""The emulator's state and the helpers every resource handler shares (no HTTP here).

An :class:`Engine` owns the SQLite :class:`~airflow_provider_pandora.emulator.store.Store`, the
credentials, the injected faults, the request log and counters, and the background
:class:`~airflow_provider_pandora.emulator.runner.Runner` that executes transforms, exports and jobs.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from airflow_provider_pandora.emulator.common import ApiError, api_error, rfc3339
from airflow_provider_pandora.emulator.faults import FaultList
from airflow_provider_pandora.emulator.runner import Runner
from airflow_provider_pandora.emulator.store import Store
from airflow_provider_pandora.schema import Field, parse_schema, schema_to_json
from airflow_provider_pandora.wire import PointDecoder

REQUEST_LOG_SIZE = int(os.environ.get("PANDORA_EMULATOR_REQUEST_LOG_SIZE", "10000"))
"""Requests kept for ``/_emulator/requests`` (benchmarks with thousands of pollers raise it)."""


class Engine:
    """Everything the emulator knows; thread-safe.

    :param data_dir: folder of the SQLite database (``pandora.db``); reused across restarts.
    :param kodo_root: folder standing in for Kodo: ``<kodo_root>/<bucket>/<key>``.
    :param credentials: access key -> secret key.
    :param sink: count data pushes without storing them (benchmarks).
    :param clock: Unix seconds now (tests pass a fake clock to drive schedules).
    :param tick: seconds between background passes over transforms, exports and job schedules.
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
    ) -> None:
        self.data_dir = Path(data_dir)
        self.kodo_root = Path(kodo_root)
        self.kodo_root.mkdir(parents=True, exist_ok=True)
        self.credentials = dict(credentials)
        self.sink = sink
        self.clock = clock or time.time
        #: Checks of ``Date`` and token expiry use real time (clients sign with theirs); tests may pin it.
        self.auth_clock: Callable[[], float] = time.time
        self.store = Store(self.data_dir / "pandora.db")
        self.faults = FaultList()
        self._log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self._stats_lock = threading.Lock()
        self._stats = {"points": 0, "bytes": 0, "batches": 0, "requests": 0}
        self._decoders: dict[str, PointDecoder] = {}
        self.runner = Runner(self, tick=tick)
        self.runner.recover()

    # ---- time --------------------------------------------------------------------------------------------
    def now(self) -> float:
        return float(self.clock())

    def now_text(self) -> str:
        return rfc3339(self.now())

    # ---- observability ----------------------------------------------------------------------------------
    def record_request(self, entry: dict[str, Any]) -> None:
        with self._stats_lock:
            self._stats["requests"] += 1
            self._log.append(entry)

    def requests_log(self) -> list[dict[str, Any]]:
        with self._stats_lock:
            return [dict(entry) for entry in self._log]

    def count_push(self, points: int, size: int) -> None:
        with self._stats_lock:
            self._stats["points"] += points
            self._stats["bytes"] += size
            self._stats["batches"] += 1

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            return {**self._stats, "sink": self.sink}

    # ---- repos and points ------------------------------------------------------------------------------
    def repo(self, name: str) -> dict[str, Any]:
        doc = self.store.get("repo", name)
        if doc is None:
            raise api_error("E18102", f"repo {name!r} does not exist")
        return doc

    @staticmethod
    def fields(doc: Mapping[str, Any]) -> tuple[Field, ...]:
        return parse_schema(doc.get("schema") or [], "schema", allow_empty=True)

    def decoder(self, doc: Mapping[str, Any]) -> PointDecoder:
        """A decoder for the repo's current schema (cached per schema)."""
        key = json.dumps(doc.get("schema") or [], sort_keys=True)
        decoder = self._decoders.get(key)
        if decoder is None:
            decoder = PointDecoder(self.fields(doc))
            if len(self._decoders) > 256:
                self._decoders.clear()
            self._decoders[key] = decoder
        return decoder

    def typed_points(
        self, repo: str, *, after: int = 0, offset: int = 0, limit: int | None = None
    ) -> list[tuple[int, dict[str, Any]]]:
        """``(seq, typed point)`` of a repo in arrival order."""
        decoder = self.decoder(self.repo(repo))
        return [
            (seq, decoder.decode(line, where=f"{repo} point {seq}"))
            for seq, line in self.store.lines(repo, after=after, offset=offset, limit=limit)
        ]

    def extend_schema(self, repo: str, extra: Sequence[Field]) -> tuple[Field, ...]:
        """Add result fields a repo lacks (all optional); returns the repo's fields afterwards."""
        with self.store.atomic():
            doc = self.repo(repo)
            fields = list(self.fields(doc))
            known = {f.key for f in fields}
            added = [Field(f.key, f.valtype, False, f.elemtype, f.children) for f in extra if f.key not in known]
            if added:
                fields.extend(added)
                doc["schema"] = schema_to_json(fields)
                doc["updateTime"] = self.now_text()
                self.store.put("repo", repo, doc)
            return tuple(fields)

    # ---- groups -----------------------------------------------------------------------------------------
    def group_status(self, name: str) -> str:
        """``running`` when started (or allocated on start), or while a transform or job in it runs."""
        doc = self.store.get("group", name)
        if doc is None:
            raise api_error("E18120", f"group {name!r} does not exist")
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
        self.runner.cancel_all()
        self.store.reset()
        self.faults.clear()
        with self._stats_lock:
            self._log.clear()
            self._stats = dict.fromkeys(self._stats, 0)

    def close(self) -> None:
        self.runner.stop()
        self.store.close()


def not_found(code: str, what: str) -> ApiError:
    return api_error(code, f"{what} does not exist")
