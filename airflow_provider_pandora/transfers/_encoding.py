"""Encoding: input lines to wire lines, and wire lines to batches.

Values go through :class:`~airflow_provider_pandora.wire.PointEncoder` and points into
:class:`~airflow_provider_pandora.wire.BatchBuilder`, as for ``PandoraPushDataOperator``; JSON lines
take :class:`~airflow_provider_pandora.transfers._fastencode.FastPointEncoder` in front of it (the
same bytes, property-tested), optionally in ``encode_processes`` worker processes. ``pandora`` lines
are passed through: a chunk of well-formed lines *is* the request body.

:class:`Batcher` is the one batching routine: the in-process path keeps one per source, an
encoding process uses one per block.
"""

from __future__ import annotations

import csv
import json
import json.scanner
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_pandora import wire
from airflow_provider_pandora.exceptions import BadLine, TransferError
from airflow_provider_pandora.transfers import _decode
from airflow_provider_pandora.transfers._batch import Batch
from airflow_provider_pandora.transfers._fastencode import FastPointEncoder
from airflow_provider_pandora.transfers._reading import BOM, CsvScanner, unterminated

Converter = Callable[[bytes, int], "bytes | None"]
"""``(raw line, line number) -> wire line`` (``None``: nothing to send); raises ``PointError``."""


@dataclass
class Encoded:
    """One block's encoded lines with their line numbers and start offsets, its bad lines, and which JSON
    decoder decoded how many of its lines."""

    lines: list[bytes] = field(default_factory=list)
    nos: list[int] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    decoded: dict[str, int] = field(default_factory=dict, compare=False)
    """``{"msgspec": n, "stdlib": m}``: lines whose JSON each decoder decided (empty when no JSON was read)."""


def encode_lines(
    convert: Converter,
    data: bytes,
    offset: int,
    line: int,
    max_line: int,
    stop: bool,
    fast: FastPointEncoder | None = None,
    source: str = "",
) -> Encoded:
    """Encode one block of whole lines of ``source``; with ``stop`` nothing after the first bad line is encoded.

    With ``fast`` (JSON lines), a line that parses to an object whose key order has a compiled
    encoder is encoded right here; anything else goes through ``convert``, which decides and explains.

    A converter with ``records`` (:class:`CsvRows`) gets whole records instead of lines: a record whose
    quoted cells span lines is numbered by its first line, and a quote still open at the end of the block
    (only the last block of a source can end so) makes its record a bad one.

    With a :func:`jsonl_converter`, ``decoded`` says which decoder decoded how many lines: counted once per
    block (lines read, less blank and overlong ones, less those the converter handed to the standard
    library), so nothing is added per line on the fast path.
    """
    result = Encoded()
    lines, nos, starts, bad = result.lines, result.nos, result.starts, result.bad
    end = offset + len(data)
    line_no = line
    shapes = fast.compiled_shapes() if fast is not None else None
    scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[attr-defined,arg-type]
    # the converter's decoder, so that both paths use the same one: msgspec when present; what it refuses,
    # the scanner below and then the converter decide
    decoding: _decode.Decoding | None = getattr(convert, "decoding", None)
    decode = decoding.decode if decoding is not None else _decode.fast_decoder()
    refused_before = decoding.refused if decoding is not None else 0
    skipped = 0  # blank and overlong lines: not decoded
    records: Callable[[bytes], tuple[list[bytes], int]] | None = getattr(convert, "records", None)
    if records is None:
        pieces, open_quote = data.split(b"\n"), -1
    else:
        pieces, open_quote = records(data)
    quote_line = line + 1 + data.count(b"\n", 0, open_quote) if open_quote >= 0 else 0
    for raw in pieces:
        start = offset
        offset += len(raw) + 1
        line_no += 1
        no = line_no  # a record's first line
        if records is not None and b"\n" in raw:
            line_no += raw.count(b"\n")
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw or raw.isspace():
            skipped += 1
            if offset > end:  # the empty piece after the final "\n"
                break
            continue
        if shapes is not None and len(raw) <= max_line:
            point = None
            if decode is not None:
                try:
                    point = decode(raw)
                except Exception:  # msgspec refused it: the convert() below decides (and explains)
                    point = None
            else:
                try:
                    decoded = raw.decode("utf-8")
                    point, stop_at = scan(decoded, 0)
                    if stop_at != len(decoded):
                        point = None
                except (ValueError, StopIteration, RecursionError):
                    point = None
            if type(point) is dict:
                compiled = shapes.get(tuple(point))
                if compiled is not None:
                    wire_text = compiled(point, b"\\" not in raw)
                    if wire_text is not None:
                        try:
                            lines.append(wire_text.encode("utf-8"))
                        except UnicodeEncodeError:  # a lone surrogate: convert() below names its field
                            pass
                        else:
                            nos.append(no)
                            starts.append(start)
                            continue
        try:
            if quote_line and offset > end:
                raise wire.PointError("line", f"is not a CSV record: {unterminated(quote_line)}")
            if len(raw) > max_line:
                skipped += 1
                raise wire.PointError("line", f"is longer than max_line_bytes={max_line}")
            encoded = convert(raw, no)
        except wire.PointError as err:
            bad.append(BadLine(source, no, err.problem, err.field, raw, start))
            if stop:
                break
            continue
        if encoded is not None:
            lines.append(encoded)
            nos.append(no)
            starts.append(start)
    if decoding is not None:
        # every line read and not skipped was decoded: by the converter's decoder, except those it handed on
        refused = decoding.refused - refused_before
        decided = line_no - line - skipped - refused
        result.decoded = {decoding.name: decided}
        if refused:
            result.decoded["stdlib"] = result.decoded.get("stdlib", 0) + refused
    return result


def jsonl_converter(fast: FastPointEncoder) -> Callable[[bytes, int], bytes | None]:
    """JSON line -> wire line: ``json``'s C scanner (skipping ``json.loads``' wrappers), then ``fast``.

    The function carries its :class:`~._decode.Decoding` as ``.decoding`` (the decoder, and the lines
    the ``msgspec`` path handed to the standard library), which :func:`encode_lines` counts from.
    """
    scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[attr-defined,arg-type]
    loads = json.loads
    encode = fast.encode
    decoding = _decode.decoding()
    decode = decoding.decode  # msgspec when present; what it refuses, json decides (and explains)

    def jsonl(raw: bytes, line_no: int) -> bytes:
        if decode is not None:
            try:
                point = decode(raw)
            except Exception:  # msgspec refused it: the standard library below gives the error
                point = None
            if type(point) is dict:
                return encode(point, b"\\" not in raw)
            decoding.refused += 1  # the slow path only: the standard library decides this line
        try:
            text = raw.decode("utf-8")
            if text[:1].isspace():
                point = loads(text)
            else:
                try:
                    point, end = scan(text, 0)
                except StopIteration as stop:
                    raise json.JSONDecodeError("Expecting value", text, stop.value) from None
                if end != len(text) and text[end:].strip():
                    raise json.JSONDecodeError("Extra data", text, end)
        except ValueError as err:
            raise wire.PointError("line", f"is not JSON: {err}{_bom_hint(raw)}") from None
        except RecursionError:  # e.g. thousands of "[": json recurses once per level
            raise wire.PointError("line", wire.NESTED_TOO_DEEPLY) from None
        if type(point) is not dict:
            raise wire.PointError("line", f"is JSON {type(point).__name__}, expected an object")
        return encode(point, b"\\" not in raw)  # no backslash: no string needs escaping

    jsonl.decoding = decoding  # type: ignore[attr-defined]
    return jsonl


def _bom_hint(raw: bytes) -> str:
    if raw.startswith(BOM):
        return " (the line starts with a UTF-8 byte order mark, skipped only at the very start of a source)"
    return ""


class CsvRows:
    """CSV record -> wire line; the first record of a source is its header (kept for the checkpoint).

    A record is what :meth:`records` cuts out of a block (:class:`~._reading.CsvScanner`): one line, or
    several when a quoted cell holds newlines; :func:`encode_lines` hands over records, not lines.
    """

    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter
        self.header: list[str] | None = None
        self.encode: Callable[[Mapping[str, Any]], bytes] | None = None
        self._scanner: CsvScanner | None = None

    def records(self, data: bytes) -> tuple[list[bytes], int]:
        """A block's records, and where a quote still open at its end opened (``-1``: none)."""
        if self._scanner is None:
            self._scanner = CsvScanner(self.delimiter)
        return self._scanner.records(data)

    def __call__(self, raw: bytes, line_no: int) -> bytes | None:
        assert self.encode is not None
        try:
            text = raw.decode("utf-8")  # a byte order mark at the source's start is skipped by the reader
        except UnicodeDecodeError as err:
            raise wire.PointError("line", f"is not UTF-8: {err}") from None
        try:
            cells = next(csv.reader([text], delimiter=self.delimiter))
        except (csv.Error, StopIteration) as err:
            raise wire.PointError("line", f"is not a CSV row: {err}") from None
        if self.header is None:
            if line_no != 1:
                raise TransferError("csv", "the header row is unknown (resumed without it)")
            self.header = [cell.strip() for cell in cells]
            return None
        header = self.header
        if len(cells) > len(header):
            raise wire.PointError("line", f"has {len(cells)} cells but the header has {len(header)} columns")
        return self.encode({key: value for key, value in zip(header, cells, strict=False) if value != ""})


def passes_through(data: bytes) -> bool:
    """Can this ``pandora`` block be sent as it is (no CR, no blank line, no line over 100 KB)?

    Whole-block scans in C, no per-line work: ``rfind`` of ``"\\n\\n"`` (its reverse search runs about
    twice as fast as ``in`` on lines this full of ``"\\n"``), and the length check looks for the last
    ``"\\n"`` within each window of ``MAX_FIELD_BYTES + 1`` bytes: if one has none, a line is longer.
    """
    if b"\r" in data or data.rfind(b"\n\n") >= 0 or data.startswith(b"\n"):
        return False
    return _lines_within(data, wire.MAX_FIELD_BYTES)


def _lines_within(data: bytes, limit: int) -> bool:
    """Is every ``\\n``-separated line of ``data`` at most ``limit`` bytes long?

    From each line start ``p``, the last ``"\\n"`` in ``data[p : p + limit + 1]`` ends only lines of at
    most ``limit`` bytes; none there means the line at ``p`` is longer. About two ``rfind`` per
    ``limit`` bytes.
    """
    start, size = 0, len(data)
    while size - start > limit:
        newline = data.rfind(b"\n", start, start + limit + 1)
        if newline < 0:
            return False
        start = newline + 1
    return True


def check_pandora_line(raw: bytes, line_no: int) -> bytes:
    """A ``pandora`` line that needs a closer look (the fast path found a CR, a blank or a long field)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise wire.PointError("line", f"is not UTF-8: {err}") from None
    for key, value in wire.split_fields(text, where="line"):
        if len(key) + len(value) + 1 > wire.MAX_FIELD_BYTES // 4 and len(raw) > wire.MAX_FIELD_BYTES:
            size = len(f"{key}={value}".encode())
            if size > wire.MAX_FIELD_BYTES:
                raise wire.PointError(
                    f"line.{key}", f"is {size} bytes; a field must be at most {wire.MAX_FIELD_BYTES}", field=key
                )
    return raw


class Batcher:
    """Encoded lines, in source order, into batches below ``max_batch`` bytes.

    The one batching routine of both paths: the in-process path keeps one per source (batches span
    blocks), an encoding process uses one per block (batches do not span blocks there, or the
    parent would touch every line again).
    """

    def __init__(self, max_batch: int, source_index: int = 0, source: str = "") -> None:
        self.source_index = source_index
        self.source = source
        self._builder = wire.BatchBuilder(max_batch)
        self._nos: list[int] = []

    def add(self, encoded: Encoded, stop: bool) -> tuple[list[Batch], list[BadLine]]:
        """Batch ``encoded``; returns the batches it filled and the block's bad lines, in line order.

        A point of 2 MiB or more is a bad line too. With ``stop`` nothing after the first bad line
        is batched, and only that one is returned.
        """
        batches: list[Batch] = []
        bad = list(encoded.bad)
        add = self._builder.add
        for wire_line, line_no, start in zip(encoded.lines, encoded.nos, encoded.starts, strict=True):
            try:
                full = add(wire_line)
            except wire.PointError as err:  # a point of 2 MiB or more
                too_big = BadLine(self.source, line_no, err.problem, err.field, None, start)
                if stop:
                    bad = [too_big]
                    break
                bad.append(too_big)
                continue
            if full is not None:
                done, self._nos = self._nos, []
                batches.append(self._batch(full, done, start, line_no - 1))
            self._nos.append(line_no)
        bad.sort(key=lambda item: item.line)
        return batches, bad

    def take(self, end_offset: int, end_line: int) -> Batch | None:
        """The batch being filled, ending at ``end_offset`` (after line ``end_line``); ``None`` if empty."""
        if not len(self._builder):
            return None
        nos, self._nos = self._nos, []
        return self._batch(self._builder.take(), nos, end_offset, end_line)

    def _batch(self, lines: list[bytes], nos: list[int], end_offset: int, end_line: int) -> Batch:
        # consecutive numbers (no bad or blank line inside) travel as None: an encoding process then
        # pickles one int, not one per line
        line_nos = None if nos[-1] - nos[0] == len(nos) - 1 else nos
        body = wire.body_of(lines)
        return Batch(self.source_index, self.source, body, len(lines), nos[0], line_nos, end_offset, end_line)


# ---- encoding processes ---------------------------------------------------------------------------
_worker_convert: Converter | None = None
_worker_fast: FastPointEncoder | None = None


def _worker_init(schema: Any, field_map: Any) -> None:
    """Encoding process: build the same encoder as the parent (encoders hold closures, not picklable)."""
    global _worker_convert, _worker_fast
    _worker_fast = FastPointEncoder(wire.PointEncoder(schema, field_map=field_map))
    _worker_convert = jsonl_converter(_worker_fast)


def _worker_batches(
    data: bytes, offset: int, line: int, max_line: int, stop: bool, max_batch: int, source_index: int, source: str
) -> tuple[list[Batch], list[BadLine], dict[str, int]]:
    """Encoding process: encode a block and cut it into batches, so the parent only posts them; with them
    the lines each JSON decoder decoded here (``Encoded.decoded``), for the parent's count."""
    assert _worker_convert is not None
    encoded = encode_lines(_worker_convert, data, offset, line, max_line, stop, _worker_fast, source)
    batcher = Batcher(max_batch, source_index, source)
    batches, bad = batcher.add(encoded, stop)
    if stop and bad:
        end_offset, end_line = bad[0].offset, bad[0].line - 1
    else:
        end_offset, end_line = offset + len(data), line + data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    last = batcher.take(end_offset, end_line)
    if last is not None:
        batches.append(last)
    return batches, bad, encoded.decoded


def process_pool(
    count: int, schema: Sequence[Any] | None, field_map: Mapping[str, str | None] | None
) -> ProcessPoolExecutor:
    """Worker processes for parsing and encoding (spawned: forking a process with threads is unsafe)."""
    import multiprocessing

    return ProcessPoolExecutor(
        max_workers=count,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_init,
        initargs=(schema, field_map),
    )
