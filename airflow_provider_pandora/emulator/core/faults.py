"""Injected failures, so tests can watch a client retry, time out or see an error after a commit.

A fault matches requests by method and path (a prefix, or a regular expression when it is not a
prefix of the path) and acts on the next ``count`` matches (or on a ``rate`` fraction of them, or on
all of them until cleared):

* ``error``: answer ``status`` (default 503) with an ``E9000`` body, without doing anything;
* ``drop``: close the connection without an answer;
* ``delay``: wait ``delay_s`` seconds, then handle the request normally;
* ``commit_then_error``: handle the request (it takes effect), then answer ``status`` (default 503).
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

ACTIONS = ("error", "drop", "delay", "commit_then_error")


@dataclass
class Fault:
    """One injected failure: ``action`` on requests matching ``method``/``path``, ``count`` times or at ``rate``."""

    action: str
    method: str | None = None
    path: str | None = None
    status: int | None = None
    count: int | None = None
    rate: float | None = None
    delay_s: float | None = None
    id: int = 0

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action {self.action!r} must be one of {', '.join(ACTIONS)}")
        if self.method is not None:
            self.method = self.method.upper()
        if self.status is not None and not (100 <= int(self.status) <= 599):
            raise ValueError(f"status {self.status!r} must be an HTTP status")
        if self.count is not None and int(self.count) < 1:
            raise ValueError(f"count {self.count!r} must be at least 1")
        if self.rate is not None and not (0.0 < float(self.rate) <= 1.0):
            raise ValueError(f"rate {self.rate!r} must be in (0, 1]")
        if self.action == "delay" and (self.delay_s is None or float(self.delay_s) < 0):
            raise ValueError("delay faults need delay_s >= 0")
        self._regex: re.Pattern[str] | None = None
        if self.path:
            try:
                self._regex = re.compile(self.path)
            except re.error:
                self._regex = None

    def matches(self, method: str, path: str) -> bool:
        """Whether a request hits this fault: ``path`` matches as a prefix or as a full regular expression."""
        if self.method is not None and self.method != method:
            return False
        if not self.path:
            return True
        if path.startswith(self.path):
            return True
        return bool(self._regex is not None and self._regex.fullmatch(path))

    def to_dict(self) -> dict[str, Any]:
        """The fault as JSON for ``GET /_emulator/faults`` (unset fields left out)."""
        return {k: v for k, v in asdict(self).items() if v is not None and not k.startswith("_")}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """A fault from a ``POST /_emulator/faults`` body; raises ``ValueError`` saying which field is wrong."""

        def num(key: str, kind: type) -> Any:
            value = data.get(key)
            if value is None:
                return None
            try:
                return kind(value)
            except (TypeError, ValueError):
                raise ValueError(f"{key} {value!r} is not a number") from None

        return cls(
            action=str(data.get("action") or ""),
            method=data.get("method") or None,
            path=data.get("path") or None,
            status=num("status", int),
            count=num("count", int),
            rate=num("rate", float),
            delay_s=num("delay_s", float),
        )


class FaultList:
    """Thread-safe list of faults; :meth:`take` consumes one match."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._next_id = 1

    def add(self, fault: Fault) -> Fault:
        """Register ``fault`` and give it the next id; returns it."""
        with self._lock:
            fault.id = self._next_id
            self._next_id += 1
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault: requests are answered normally again."""
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        """The registered faults as JSON dicts, in the order they were added."""
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault that fires for this request (decrementing its count), or ``None``."""
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method, path):
                    continue
                if fault.rate is not None and random.random() >= fault.rate:
                    continue
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                return fault
        return None
