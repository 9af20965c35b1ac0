"""The one batching routine: an encoding process cuts a block exactly as the in-process path does."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_pandora import wire
from airflow_provider_pandora.schema import parse_schema
from airflow_provider_pandora.transfers import _encoding
from airflow_provider_pandora.transfers._batch import Batch
from airflow_provider_pandora.transfers._encoding import Batcher, encode_lines, jsonl_converter
from airflow_provider_pandora.transfers._fastencode import FastPointEncoder

SCHEMA = parse_schema([{"key": "user", "valtype": "string", "required": True}, {"key": "note", "valtype": "string"}])
MAX_BATCH = 256


def block() -> bytes:
    lines = [json.dumps({"user": f"u{i}", "note": "x" * (i % 7) * 10}) for i in range(40)]
    lines[5] = "{broken"
    lines[9] = json.dumps({"user": "big", "note": "y" * 400})  # encodes, but cannot fit in any batch
    lines[20] = json.dumps({"user": "huge", "note": "z" * 300})
    lines[31] = json.dumps({"note": "no user"})
    return "\n".join(lines).encode() + b"\n"


def _nos(batch: Batch) -> list[int]:
    """The batch's line numbers (``line_nos`` is ``None`` when they are consecutive)."""
    nos = (
        batch.line_nos if batch.line_nos is not None else list(range(batch.first_line, batch.first_line + batch.points))
    )
    assert batch.lines()[1] == nos
    return nos


def in_process(data: bytes, stop: bool) -> tuple[list[tuple[bytes, list[int] | None, int, int]], list[tuple[int, int]]]:
    fast = FastPointEncoder(wire.PointEncoder(SCHEMA))
    encoded = encode_lines(jsonl_converter(fast), data, 100, 7, 1 << 20, stop, fast, "in.jsonl")
    batcher = Batcher(MAX_BATCH, 2, "in.jsonl")
    batches, bad = batcher.add(encoded, stop)
    end = (bad[0].offset, bad[0].line - 1) if stop and bad else (100 + len(data), 7 + data.count(b"\n"))
    last = batcher.take(*end)
    batches += [last] if last is not None else []
    return [(b.body, _nos(b), b.end_offset, b.end_line) for b in batches], [(b.line, b.offset) for b in bad]


def in_worker(data: bytes, stop: bool) -> tuple[list[tuple[bytes, list[int] | None, int, int]], list[tuple[int, int]]]:
    _encoding._worker_init(SCHEMA, None)
    batches, bad, _ = _encoding._worker_batches(data, 100, 7, 1 << 20, stop, MAX_BATCH, 2, "in.jsonl")
    assert {(b.source_index, b.source) for b in batches} == {(2, "in.jsonl")}
    return [(b.body, _nos(b), b.end_offset, b.end_line) for b in batches], [(b.line, b.offset) for b in bad]


def test_both_paths_cut_the_same_batches_and_report_bad_lines_in_line_order() -> None:
    data = block()
    batches, bad = in_worker(data, stop=False)
    assert (batches, bad) == in_process(data, stop=False)
    assert [line for line, _ in bad] == [13, 17, 28, 39]  # a 2 MiB-class point is a bad line in its place
    assert all(len(body) < MAX_BATCH for body, *_ in batches)
    delivered = [no for _, nos, *_ in batches for no in nos or []]
    assert delivered == [no for no in range(8, 48) if no not in (13, 17, 28, 39)]


def test_with_stop_both_paths_end_the_block_before_the_first_bad_line() -> None:
    data = block()
    batches, bad = in_worker(data, stop=True)
    assert (batches, bad) == in_process(data, stop=True)
    assert [line for line, _ in bad] == [13]
    assert batches[-1][3] == 12  # the last batch ends just before it, so the checkpoint lands there
    assert batches[-1][2] == bad[0][1]


def _passes_through_per_line(data: bytes, limit: int) -> bool:
    """The check as it was written first (a Python loop over every line): the reference."""
    if b"\r" in data or b"\n\n" in data or data.startswith(b"\n"):
        return False
    return all(len(line) <= limit for line in data.split(b"\n"))


@settings(max_examples=500, deadline=None)
@given(
    pieces=st.lists(st.sampled_from([b"k=v", b"a" * 7, b"\t", b"\n", b"\r", b"b" * 13]), max_size=40),
    limit=st.integers(1, 30),
)
def test_the_whole_block_pass_through_check_matches_the_per_line_one(pieces: list[bytes], limit: int) -> None:
    """CR, blank lines and overlong lines send a block to the per-line path exactly as before."""
    data = b"".join(pieces)
    fast = _encoding._lines_within(data, limit) and not (b"\r" in data or b"\n\n" in data or data.startswith(b"\n"))
    assert fast == _passes_through_per_line(data, limit)
    assert _encoding.passes_through(data) == _passes_through_per_line(data, wire.MAX_FIELD_BYTES)


def test_a_line_over_100_kb_leaves_the_pass_through() -> None:
    line = b"k=" + b"x" * (wire.MAX_FIELD_BYTES - 2)
    assert _encoding.passes_through(line + b"\n" + line + b"\n")
    assert not _encoding.passes_through(line + b"\n" + line + b"x\n" + line + b"\n")
    assert not _encoding.passes_through(line + b"\n\n")
