"""What the emulator stores and how it reads it: the SQLite store, the clock, repos' schemas and typed points.

:class:`EmulatorState` is the part of the emulator the background :class:`~.background.Runner` works on;
:class:`~.service.Engine` adds credentials, faults, the request log and the runner itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow_provider_pandora.emulator.core.errors import api_error
from airflow_provider_pandora.emulator.core.store import Store
from airflow_provider_pandora.schema import Field, parse_schema, schema_to_json
from airflow_provider_pandora.wire import PointDecoder

#: The code the service answers when a resource does not exist, by kind.
NOT_FOUND_CODES = {
    "repo": "E18102",
    "group": "E18120",
    "plugin": "E18216",
    "transform": "E18202",
    "export": "E18302",
    "job": "E18606",
}


def rfc3339(timestamp: float) -> str:
    """Unix seconds as RFC 3339 UTC text with milliseconds, e.g. ``2024-05-01T08:00:00.123Z``."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class EmulatorState:
    """The store, the clock and the Kodo folder; thread-safe.

    :param data_dir: folder of the SQLite database (``pandora.db``); reused across restarts.
    :param kodo_root: folder standing in for Kodo: ``<kodo_root>/<bucket>/<key>``.
    :param clock: Unix seconds now (tests pass a fake clock to drive schedules).
    """

    def __init__(self, data_dir: Path, kodo_root: Path, *, clock: Callable[[], float] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.kodo_root = Path(kodo_root)
        self.kodo_root.mkdir(parents=True, exist_ok=True)
        self.clock = clock or time.time
        self.store = Store(self.data_dir / "pandora.db")
        self._decoders: dict[str, PointDecoder] = {}

    # ---- time --------------------------------------------------------------------------------------------
    def now(self) -> float:
        """Unix seconds from the emulator's clock (a fake clock in tests), not necessarily wall time."""
        return float(self.clock())

    def now_text(self) -> str:
        """The clock's now as RFC 3339 text, the form the service writes in ``createTime`` and ``updateTime``."""
        return rfc3339(self.now())

    # ---- repos and points ------------------------------------------------------------------------------
    def existing(self, kind: str, name: str, *, repo: str | None = None) -> dict[str, Any]:
        """The stored ``kind`` called ``name`` (of ``repo``, which must exist, for transforms, exports and jobs),
        or the service's "does not exist" answer for that kind."""
        if repo is not None:
            self.repo(repo)
        doc = self.store.get(kind, name, scope=repo or "")
        if doc is None:
            of = f" of repo {repo!r}" if repo is not None else ""
            raise api_error(NOT_FOUND_CODES[kind], f"{kind} {name!r}{of} does not exist")
        return doc

    def repo(self, name: str) -> dict[str, Any]:
        """The stored repo ``name``, or the service's "repo does not exist" answer."""
        return self.existing("repo", name)

    def forget(self, kind: str, name: str, *, repo: str | None = None) -> dict[str, Any]:
        """Delete the stored ``kind`` called ``name`` (the "does not exist" answer when it is not there), in one
        transaction with whatever the caller deletes alongside; returns what was stored."""
        with self.store.atomic():
            doc = self.existing(kind, name, repo=repo)
            self.store.delete(kind, name, scope=repo or "")
        return doc

    def children(self, kind: str, repo: str) -> list[dict[str, Any]]:
        """The repo's transforms, exports or jobs in creation order (the repo must exist)."""
        self.repo(repo)
        return self.store.docs(kind, scope=repo)

    @staticmethod
    def fields(doc: Mapping[str, Any]) -> tuple[Field, ...]:
        """The parsed schema of a stored repo document (an empty schema allowed)."""
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
