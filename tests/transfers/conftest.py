"""Fixtures for the transfer tests: an emulator as ``pandora_default`` with fast retries, a repo, a task context."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.transfers import _decode
from tests.common import SCHEMA

REPO = "clicks"


class StateStore:
    """Stands in for Airflow 3.3's ``task_state_store`` accessor (one task instance)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.sets = 0

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(json.dumps(self.values[key])) if key in self.values else default

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.values[key] = json.loads(json.dumps(value))
        self.sets += 1

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


@pytest.fixture
def pandora(pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch) -> PandoraEmulator:
    """A fresh emulator as ``pandora_default``; retries wait milliseconds, so fault tests stay fast."""
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_DEFAULT", pandora_emulator.connection_json(retry_delay=0.01, timeout=5))
    return pandora_emulator


@pytest.fixture
def repo(pandora: PandoraEmulator) -> str:
    PandoraHook().create_repo(REPO, schema=SCHEMA)
    return REPO


@pytest.fixture
def context() -> dict[str, Any]:
    return {"task_state_store": StateStore()}


def write_lines(path: Path, lines: Iterable[str | bytes], *, newline: bytes = b"\n") -> Path:
    data = b"".join((line.encode() if isinstance(line, str) else line) + newline for line in lines)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def jsonl(points: Iterable[Mapping[str, Any]]) -> list[str]:
    return [json.dumps(p, ensure_ascii=False) for p in points]


def users(emulator: PandoraEmulator, repo: str = REPO) -> list[str]:
    return [p["user"] for p in emulator.points(repo)]


DECODERS = [
    "stdlib",
    pytest.param("msgspec", marks=pytest.mark.skipif(not _decode.AVAILABLE, reason="msgspec is not installed")),
]
"""Both JSON decode paths of the ``jsonl`` reader (msgspec is absent on Airflow 2.11 without the fast extra)."""


@pytest.fixture(params=DECODERS)
def decoder(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once per JSON decoder (``_decode.using``; encoding processes inherit it)."""
    with _decode.using(request.param):
        yield request.param
