"""Input read right or refused loudly (issue 17 item 4): an unusable ``dead_letter_path``; through
``LocalFilesystemToPandoraOperator`` against the emulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.exceptions import TransferError
from airflow_provider_pandora.transfers.local_to_pandora import LocalFilesystemToPandoraOperator
from tests.transfers.conftest import REPO

pytestmark = pytest.mark.timeout(60)


def run(context: dict[str, Any], source: Path | str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("repo", REPO)
    op = LocalFilesystemToPandoraOperator(task_id="load", source_path=str(source), **kwargs)
    return op.execute(context)  # type: ignore[arg-type]


def dead_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ---- dead_letter_path ------------------------------------------------------------------------------------------
def test_a_dead_letter_folder_that_does_not_exist_is_created(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"user": "a"}\n{broken\n{"user": "b"}\n')
    dead = tmp_path / "not" / "yet" / "dead.jsonl"
    result = run(context, source, on_bad_line="dead_letter", dead_letter_path=str(dead))
    assert (result["points"], result["bad_lines"]) == (2, 1)
    assert [row["line"] for row in dead_rows(dead)] == [2]


def test_an_unusable_dead_letter_path_is_refused_before_anything_is_sent(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"user": "a"}\n{broken\n{"user": "b"}\n')
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for dead in (blocker / "dead.jsonl", tmp_path):  # a folder that is a file; a path that is a folder
        with pytest.raises(TransferError, match="dead_letter_path") as info:
            run(context, source, on_bad_line="dead_letter", dead_letter_path=str(dead))
        assert str(dead) in str(info.value)
    assert pandora.points(REPO) == []  # refused before the first batch, on every try
