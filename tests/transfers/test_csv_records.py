"""CSV records as the ``csv`` module reads them, cut out of a stream read in pieces of any size; the byte order mark.

The reference is the ``csv`` module itself, reading the same text line by line (lines end at ``\\n``, as the
reader's line numbers count them): the line after which each record ends, and whether the last one was cut
off by the end of the text inside a quote.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from typing import IO, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_pandora import wire
from airflow_provider_pandora.exceptions import TransferError
from airflow_provider_pandora.schema import parse_schema
from airflow_provider_pandora.transfers._encoding import CsvRows, encode_lines
from airflow_provider_pandora.transfers._reading import _QUOTED, BOM, CsvScanner, _Block, _TooLong, read_blocks
from tests.transfers.test_reader import Trickle

PIECES = ["a", "bc", "\u00fc", ",", "\u00a7", "|", '"', '""', "\n", "\r\n", "\r", " "]
texts = st.lists(st.sampled_from(PIECES), max_size=50).map("".join)
delimiters = st.sampled_from([",", "|", "\u00a7"])  # one byte (one a regex metacharacter), two bytes in UTF-8


def csv_module(text: str, delimiter: str) -> tuple[list[int], bool]:
    """The byte offsets after each ``\\n`` that ends a record, by the ``csv`` module; is the last quote open?"""
    lines = re.findall(r"[^\n]*\n|[^\n]+$", text)
    exhausted = False

    def feed() -> object:
        nonlocal exhausted
        yield from lines
        exhausted = True

    reader = csv.reader(feed(), delimiter=delimiter)  # type: ignore[arg-type]
    ends, open_quote = [], False
    while True:
        try:
            next(reader)
        except StopIteration:
            break
        except csv.Error:  # refused (a bare "\r"): the next record starts on the next line
            pass
        if exhausted:  # it asked for a line after the last: cut off inside a quoted cell
            open_quote = True
            break
        ends.append(reader.line_num)
    offsets, position = [], 0
    for line in lines:
        position += len(line.encode())
        offsets.append(position)
    return [offsets[n - 1] for n in ends if lines[n - 1].endswith("\n")], open_quote


def ends_of(pieces: list[bytes]) -> list[int]:
    ends, position = [], 0
    for piece in pieces[:-1]:
        position += len(piece) + 1
        ends.append(position)
    return ends


@settings(max_examples=600, deadline=None)
@given(text=texts, delimiter=delimiters)
def test_records_end_where_the_csv_module_ends_them(text: str, delimiter: str) -> None:
    data = text.encode()
    expected, open_quote = csv_module(text, delimiter)
    records, quote = CsvScanner(delimiter).records(data)
    assert b"".join(piece + b"\n" for piece in records)[:-1] == data
    assert ends_of(records) == expected
    assert (quote >= 0) == open_quote
    if open_quote:
        assert data[quote : quote + 1] == b'"'


@settings(max_examples=600, deadline=None)
@given(text=texts, delimiter=delimiters, cuts=st.lists(st.integers(0, 200), max_size=8))
def test_the_scanner_fed_in_any_pieces_finds_the_same_ends(text: str, delimiter: str, cuts: list[int]) -> None:
    data = text.encode()
    expected, open_quote = csv_module(text, delimiter)
    scanner = CsvScanner(delimiter)
    bounds = sorted({0, len(data), *(cut for cut in cuts if cut < len(data))})
    for start, stop in itertools.pairwise(bounds):
        first, last = scanner.feed(data[start:stop], start)
        inside = [end for end in expected if start < end <= stop]
        assert (first, last) == ((inside[0], inside[-1]) if inside else (-1, -1))
    assert (scanner.state == _QUOTED) == open_quote


@settings(max_examples=400, deadline=None)
@given(
    text=texts,
    step=st.integers(1, 17),
    chunk=st.integers(1, 23),
    max_line=st.integers(1, 40),
    bom=st.booleans(),
)
def test_csv_blocks_hold_whole_records_and_overlong_ones_are_skipped_whole(
    text: str, step: int, chunk: int, max_line: int, bom: bool
) -> None:
    data = text.encode()
    expected, open_quote = csv_module(text, ",")
    boundaries = {0, *expected, len(data)}
    stream = cast(IO[bytes], Trickle((BOM if bom else b"") + data, step))
    shift = len(BOM) if bom else 0
    offset = line = 0
    for item in read_blocks(stream, 0, 0, max_line=max_line, chunk=chunk, csv_delimiter=","):
        start = item.offset - shift
        assert start == offset
        assert line == data.count(b"\n", 0, start)
        if isinstance(item, _TooLong):
            end = item.end - shift
            assert end in boundaries
            assert not [b for b in expected if start < b < end]  # one record
            assert item.length > max_line
            assert item.line == line + 1
            body = data[start:end]
            assert item.end_line == item.line + body.count(b"\n") - (1 if body.endswith(b"\n") else 0)
            if end == len(data) and open_quote:
                _, quote = CsvScanner(",").records(data)
                opened = data.count(b"\n", 0, quote) + 1
                assert f"unterminated quote opened on line {opened}:" in item.note
            offset, line = end, item.end_line
        else:
            assert isinstance(item, _Block)
            assert item.data == data[start : start + len(item.data)]
            assert start + len(item.data) in boundaries
            assert item.line == line
            offset, line = item.end - shift, line + item.count
    assert offset == len(data)


def test_a_byte_order_mark_is_skipped_only_at_a_source_start() -> None:
    def blocks(data: bytes, offset: int = 0, csv_delimiter: str | None = None) -> list[tuple[bytes, int]]:
        stream = cast(IO[bytes], Trickle(data, 1))
        items = read_blocks(stream, offset, 0, max_line=100, chunk=4, csv_delimiter=csv_delimiter)
        return [(item.data, item.offset) for item in items if isinstance(item, _Block)]

    assert blocks(BOM + b"a\nb\n") == [(b"a\n", 3), (b"b\n", 5)]
    assert blocks(BOM + b'h\n"x\ny"\n', csv_delimiter=",") == [(b"h\n", 3), (b'"x\ny"\n', 5)]
    assert blocks(BOM + b"a\n", offset=7) == [(BOM + b"a\n", 7)]  # a resumed read is past any mark
    assert blocks(BOM[:2]) == [(BOM[:2], 0)]  # not a whole mark: data
    assert blocks(BOM) == []
    passthrough = read_blocks(io.BytesIO(BOM + b"x=1\n" * 40), 0, 0, max_line=100, block_bytes=64)
    assert [len(item.data) for item in passthrough if isinstance(item, _Block)] == [64, 64, 32]


def test_a_quote_or_a_newline_cannot_be_the_delimiter() -> None:
    for delimiter in ('"', "\n", "\r", ",,"):
        with pytest.raises(TransferError, match="csv_delimiter"):
            CsvScanner(delimiter)


SCHEMA = parse_schema([{"key": "user", "valtype": "string", "required": True}, {"key": "hits", "valtype": "long"}])


def rows() -> CsvRows:
    converter = CsvRows(",")
    converter.encode = wire.PointEncoder(SCHEMA).encode
    return converter


def test_the_converter_numbers_records_by_their_first_line() -> None:
    data = b'user,hits\n"a\nb",1\nc,x\n"d\r\n\r\n",2\n\n"e""\n",3\n'
    encoded = encode_lines(rows(), data, 10, 0, 1 << 20, False, None, "in.csv")
    assert encoded.lines == [b"user=a\\nb\thits=1", b"user=d\\r\\n\\r\\n\thits=2", b'user=e"\\n\thits=3']
    assert encoded.nos == [2, 5, 9]
    assert encoded.starts == [10 + data.index(b'"a'), 10 + data.index(b'"d'), 10 + data.index(b'"e')]
    assert [(bad.line, bad.field, bad.offset) for bad in encoded.bad] == [(4, "hits", 10 + data.index(b"c,x"))]


@pytest.mark.parametrize("stop", [False, True])
def test_an_unterminated_quote_is_a_bad_record_naming_the_line_it_opened_on(stop: bool) -> None:
    data = b'user,hits\nok,1\n"x\ny",2\nz,"3\nw,4\n'
    encoded = encode_lines(rows(), data, 0, 0, 1 << 20, stop, None, "in.csv")
    assert encoded.nos == [2, 3]
    (bad,) = encoded.bad
    assert (bad.line, bad.offset, bad.text) == (5, data.index(b"z,"), b'z,"3\nw,4\n')
    assert "unterminated quote opened on line 5: the record runs to the end of the source" in bad.reason
    # a quote opened on a later line of its record is named by that line
    late = encode_lines(rows(), b'user,hits\n"a\nb",x,"\n', 0, 0, 1 << 20, stop, None, "in.csv")
    assert "opened on line 3" in late.bad[0].reason
    assert late.bad[0].line == 2
