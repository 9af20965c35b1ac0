"""The ``jsonl`` reader counts which JSON decoder really decoded each line, in this process and in encoding processes.

The count comes from the reader (``encode_lines``, per block), not from the setting, so a benchmark row
can prove which decoder it measured.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_pandora import wire
from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.schema import parse_schema
from airflow_provider_pandora.transfers import _decode, _encoding, _engine
from airflow_provider_pandora.transfers._encoding import CsvRows, encode_lines, jsonl_converter
from airflow_provider_pandora.transfers._engine import Transfer, TransferOptions
from airflow_provider_pandora.transfers._fastencode import FastPointEncoder
from airflow_provider_pandora.transfers.local_to_pandora import local_sources
from tests.common import SCHEMA
from tests.transfers.conftest import DECODERS, write_lines

pytestmark = pytest.mark.timeout(60)
needs_msgspec = pytest.mark.skipif(not _decode.AVAILABLE, reason="msgspec is not installed")
FIELDS = parse_schema(SCHEMA)

GOOD = [json.dumps({"user": f"u{i}", "hits": i}) for i in range(20)]
# lines the msgspec path hands to the standard library: NaN and 1e400 (msgspec refuses them, json takes
# them), broken JSON, a JSON array (not an object), and an object json accepts only with its leading space
HANDED_ON = ['{"user": "n", "ratio": NaN}', '{"user": "i", "ratio": 1e400}', "{broken", "[1, 2]", "\x0b{}"]


def _block() -> bytes:
    lines = [*GOOD[:10], "", "   ", *HANDED_ON, "x" * 300, *GOOD[10:]]  # two blank lines, one over max_line
    return ("\n".join(lines) + "\n").encode()


def _encode(data: bytes, *, field_map: dict[str, str | None] | None = None) -> _encoding.Encoded:
    fast = FastPointEncoder(wire.PointEncoder(FIELDS, field_map=field_map))
    return encode_lines(jsonl_converter(fast), data, 0, 0, 200, False, fast, "in.jsonl")


@needs_msgspec
@pytest.mark.parametrize("field_map", [None, {"nick": "user"}], ids=["compiled-shapes", "field-map"])
def test_msgspec_counts_its_lines_and_the_ones_it_handed_to_the_standard_library(
    field_map: dict[str, str | None] | None,
) -> None:
    """Blank and overlong lines are not decoded; lines msgspec refused are the standard library's."""
    with _decode.using("msgspec"):
        encoded = _encode(_block(), field_map=field_map)
    assert encoded.decoded == {"msgspec": len(GOOD), "stdlib": len(HANDED_ON)}
    assert len(encoded.lines) == len(GOOD)
    assert len(encoded.bad) == len(HANDED_ON) + 1  # json decoded NaN and 1e400; floats cannot hold them


@pytest.mark.parametrize("field_map", [None, {"nick": "user"}], ids=["compiled-shapes", "field-map"])
def test_forced_stdlib_counts_every_decoded_line_for_the_standard_library(
    field_map: dict[str, str | None] | None,
) -> None:
    with _decode.using("stdlib"):
        encoded = _encode(_block(), field_map=field_map)
    assert encoded.decoded == {"stdlib": len(GOOD) + len(HANDED_ON)}


def test_the_count_follows_the_converter_not_the_setting_at_encode_time() -> None:
    """A converter built under one setting decodes (and counts) with that decoder on both paths."""
    fast = FastPointEncoder(wire.PointEncoder(FIELDS))
    with _decode.using("stdlib"):
        convert = jsonl_converter(fast)
    data = ("\n".join(GOOD) + "\n").encode()
    encoded = encode_lines(convert, data, 0, 0, 1 << 20, False, fast)  # the setting is msgspec again, if present
    assert encoded.decoded == {"stdlib": len(GOOD)}


def test_csv_decodes_no_json_and_counts_nothing() -> None:
    rows = CsvRows(",")
    rows.encode = wire.PointEncoder(FIELDS).encode
    assert encode_lines(rows, b"user,hits\nu,1\nv,2\n", 0, 0, 1 << 20, False).decoded == {}


def test_an_encoding_process_returns_its_count_with_the_batches(decoder: str) -> None:
    """What a worker process runs, called here: the count travels back with the batches."""
    _encoding._worker_init(FIELDS, None)
    data = ("\n".join([*GOOD, "{broken"]) + "\n").encode()
    batches, bad, decoded = _encoding._worker_batches(data, 0, 0, 1 << 20, False, wire.MAX_BATCH_BYTES, 0, "in")
    assert sum(b.points for b in batches) == len(GOOD)
    assert len(bad) == 1
    assert decoded == ({"msgspec": len(GOOD), "stdlib": 1} if decoder == "msgspec" else {"stdlib": len(GOOD) + 1})


@pytest.mark.parametrize("processes", [0, 2], ids=["in-process", "encode-processes"])
@pytest.mark.parametrize("forced", DECODERS)
def test_a_transfer_reports_the_decoder_that_really_ran(
    repo: str, pandora: PandoraEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: int, forced: str
) -> None:
    """End to end, with the decoder forced as the benchmark forces it (inherited by spawned processes)."""
    # small reads: many blocks, so the count is a sum over blocks (and over processes)
    monkeypatch.setattr(_engine, "READ_CHUNK", 16 << 10)
    monkeypatch.setattr(_engine, "PROCESS_BLOCK", 16 << 10)
    lines = [json.dumps({"user": f"u{i}", "hits": i, "ok": i % 2 == 0}) for i in range(3000)]
    source = write_lines(tmp_path / "in.jsonl", [*lines[:1500], "", '{"user": "nan", "ratio": NaN}', *lines[1500:]])
    with _decode.using(forced):
        options = TransferOptions(
            repo=repo, format="jsonl", schema=SCHEMA, encode_processes=processes, on_bad_line="skip"
        )
        transfer = Transfer(PandoraHook(), options)
        result = transfer.run(local_sources(str(source)))
    assert (result["points"], result["bad_lines"]) == (len(lines), 1)
    expected = {"msgspec": len(lines), "stdlib": 1} if forced == "msgspec" else {"stdlib": len(lines) + 1}
    assert transfer.decoded == expected
