"""Reading: sources as byte streams, cut into blocks of whole lines (``csv``: of whole records).

Sources are read in large chunks and split on ``\\n`` as bytes (a chunk can end inside a UTF-8
character, and ``str.splitlines`` would also split on ``\\u2028``); a line longer than
``max_line`` is discarded as it streams, so memory stays O(chunk + longest allowed line)
whatever the input size. A UTF-8 byte order mark at a source's start is skipped (offsets still count
its three bytes).

CSV is cut where :class:`CsvScanner` says records end: a ``\\n`` inside a quoted cell does not end one,
by the rules of the ``csv`` module. So a block, a checkpoint offset and a bad record always start at a
record's start, and line numbers stay physical (a record is numbered by its first line). A record longer
than ``max_line`` is discarded as it streams, up to where those rules end it; a quote still open at the
end of the source makes its record run to that end (one bad record, naming the line the quote opened on).
"""

from __future__ import annotations

import gzip as gzip_module
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, cast

from airflow_provider_pandora.exceptions import TransferError

READ_CHUNK = 1 << 20
"""Bytes read from a source at a time (the pass-through reads up to one batch instead)."""
PROCESS_BLOCK = 2 * 1024 * 1024
"""Bytes per block handed to an encoding process (about one batch once encoded)."""
BOM = b"\xef\xbb\xbf"
"""The UTF-8 byte order mark, skipped at the start of a source."""


@dataclass(frozen=True)
class Source:
    """One input. ``open(offset)`` returns a binary stream positioned at that (raw) byte offset.

    ``gzip`` sources are decompressed on the fly; offsets then count decompressed bytes and a resume
    re-reads the object from its start, discarding what was already delivered.
    """

    name: str
    open: Callable[[int], IO[bytes]]
    gzip: bool = False
    identity: Mapping[str, Any] | None = None
    """What makes this the same source on the next try (a local file's size, ``mtime_ns``, device and inode;
    an object's ETag, size and LastModified): a checkpoint resumes a source only while it is unchanged, and
    ``open`` refuses a source that no longer matches. ``None``: unknown, the name alone is trusted."""


@dataclass
class _Block:
    """Complete lines (the last one may lack its ``\\n`` at the end of a source)."""

    data: bytes
    offset: int
    line: int  # number of lines before this block
    newlines: int = -1
    """``data.count(b"\\n")``, counted once by :func:`read_blocks` (``-1``: count on first use)."""

    @property
    def end(self) -> int:
        """The offset after this block."""
        return self.offset + len(self.data)

    @property
    def count(self) -> int:
        """The ``\\n`` in ``data`` (counting 2 MiB costs about a millisecond, so it is done once)."""
        if self.newlines < 0:
            self.newlines = self.data.count(b"\n")
        return self.newlines

    @property
    def end_line(self) -> int:
        """The number of the block's last line."""
        return self.line + self.count + (0 if self.data.endswith(b"\n") else 1)


@dataclass
class _TooLong:
    offset: int
    line: int  # the overlong line's own number (a CSV record's: its first line's)
    length: int
    end: int  # offset after it
    newlines: int = 0
    """``\\n`` inside it: a CSV record whose quoted cells span lines."""
    note: str = ""
    """What the reason adds (CSV: the lines the record spans, an unterminated quote)."""

    @property
    def end_line(self) -> int:
        """The number of its last line."""
        return self.line + self.newlines


class _Named:
    """A source stream whose read errors (truncated gzip, I/O) name the source."""

    def __init__(self, stream: IO[bytes], name: str) -> None:
        self.stream = stream
        self.name = name

    def read(self, size: int = -1) -> bytes:
        try:
            return self.stream.read(size)
        except (OSError, EOFError, zlib.error) as err:
            raise TransferError("source", f"{self.name} cannot be read: {err}") from err

    def close(self) -> None:
        self.stream.close()


def _skip(stream: IO[bytes] | _Named, count: int) -> None:
    while count > 0:
        data = stream.read(min(count, READ_CHUNK))
        if not data:
            name = getattr(stream, "name", "the source")
            raise TransferError("source", f"{name} ended {count} bytes before the checkpointed offset")
        count -= len(data)


def open_source(source: Source, offset: int) -> tuple[IO[bytes], IO[bytes]]:
    """The (decompressed) stream at ``offset`` and the raw one under it (both closed by the caller)."""
    if source.gzip:
        raw = source.open(0)
        gz = cast("IO[bytes]", gzip_module.GzipFile(fileobj=raw, mode="rb"))
        stream = _Named(gz, source.name)
        try:
            _skip(stream, offset)
        except BaseException:
            raw.close()
            raise
        return cast("IO[bytes]", stream), raw
    raw = source.open(offset)
    return cast("IO[bytes]", _Named(raw, source.name)), raw


def read_blocks(
    stream: IO[bytes],
    offset: int,
    line: int,
    *,
    max_line: int,
    block_bytes: int | None = None,
    chunk: int = READ_CHUNK,
    csv_delimiter: str | None = None,
) -> Iterator[_Block | _TooLong]:
    """Blocks of whole lines from ``stream`` (already at ``offset``), and markers for overlong lines.

    With ``block_bytes`` each block stays within that size (pass-through: one request body). With
    ``csv_delimiter`` blocks hold whole CSV records (:class:`CsvScanner`), and a marker an overlong record.
    At offset 0 a UTF-8 byte order mark is skipped.
    """
    head = b""
    if offset == 0:
        head = _read_head(stream)
        if head == BOM:
            head, offset = b"", len(BOM)
    if csv_delimiter is not None:
        yield from _read_records(stream, offset, line, head, max_line, chunk, CsvScanner(csv_delimiter))
        return
    pending = b""
    skipping: _TooLong | None = None
    while True:
        want = chunk if block_bytes is None else max(1, block_bytes - len(pending))
        if head:  # the first bytes, read to look for a byte order mark
            data, head = head[:want], head[want:]
        else:
            data = stream.read(want)
        if not data:
            break
        if skipping is not None:
            newline = data.find(b"\n")
            if newline < 0:
                skipping.length += len(data)
                continue
            skipping.length += newline
            skipping.end = skipping.offset + skipping.length + 1
            yield skipping
            offset, line = skipping.end, skipping.line
            skipping = None
            data = data[newline + 1 :]
        # ``pending`` (the tail after the last "\n" so far) holds no "\n", so the cut is in ``data``
        cut = data.rfind(b"\n") + 1
        if not cut:
            pending = pending + data if pending else data
        else:
            block, pending = _split(pending, data, cut)
            newlines = block.count(b"\n")
            yield _Block(block, offset, line, newlines)
            offset += len(block)
            line += newlines
        if len(pending) > max_line:
            skipping = _TooLong(offset, line + 1, len(pending), 0)
            pending = b""
    if skipping is not None:
        skipping.end = skipping.offset + skipping.length
        yield skipping
    elif pending:
        yield _Block(pending, offset, line)


def _split(pending: bytes, data: bytes, cut: int) -> tuple[bytes, bytes]:
    """The block ``pending + data[:cut]`` and the new pending ``data[cut:]``: one copy at most, none when ``data``
    ends at the cut and nothing is pending (the common case of a large read)."""
    if pending:
        block = pending + data if cut == len(data) else b"".join((pending, memoryview(data)[:cut]))
    else:
        block = data if cut == len(data) else data[:cut]
    return block, data[cut:]


def _read_head(stream: IO[bytes]) -> bytes:
    """The first bytes of a source, as many as a byte order mark has (fewer only at its end)."""
    head = b""
    while len(head) < len(BOM):
        more = stream.read(len(BOM) - len(head))
        if not more:
            break
        head += more
    return head


def _read_records(
    stream: IO[bytes], offset: int, line: int, head: bytes, max_line: int, chunk: int, scanner: CsvScanner
) -> Iterator[_Block | _TooLong]:
    """:func:`read_blocks` for CSV: blocks end where records end, by ``scanner`` (which sees each byte once)."""
    pending = b""
    skipping: _TooLong | None = None
    quote_line = 0  # while skipping: the line of the quote the scanner has open
    last_byte = b""
    base = offset  # the offset of the next byte read
    while True:
        data = stream.read(chunk)
        if head:
            data, head = head + data, b""
        if not data:
            break
        last_byte = data[-1:]
        at, base = base, base + len(data)
        first, last = scanner.feed(data, at)
        if skipping is not None:
            if first < 0:  # the overlong record goes on
                if scanner.state in (_QUOTED, _QUOTE_END) and scanner.quote_at >= at:
                    quote_line = skipping.end_line + data.count(b"\n", 0, scanner.quote_at - at)
                skipping.length += len(data)
                skipping.newlines += data.count(b"\n")
                continue
            cut = first - at  # after the "\n" that ends it
            skipping.length += cut - 1
            skipping.newlines += data.count(b"\n", 0, cut - 1)
            skipping.end = first
            skipping.note = _spans(skipping)
            yield skipping
            offset, line = first, skipping.end_line
            skipping = None
            data, at = data[cut:], first
        cut = last - at if last > at else 0
        if cut:
            block, pending = _split(pending, data, cut)
            newlines = block.count(b"\n")
            yield _Block(block, offset, line, newlines)
            offset += len(block)
            line += newlines
        else:
            pending = pending + data if pending else data
        if len(pending) > max_line:
            skipping = _TooLong(offset, line + 1, len(pending), 0, pending.count(b"\n"))
            if scanner.state in (_QUOTED, _QUOTE_END) and scanner.quote_at >= offset:
                quote_line = line + 1 + pending.count(b"\n", 0, scanner.quote_at - offset)
            pending = b""
    if skipping is not None:
        skipping.end = skipping.offset + skipping.length
        if last_byte == b"\n":  # it ends the last line, inside the open quote
            skipping.newlines -= 1
        if scanner.state == _QUOTED:
            skipping.note = f"; {unterminated(quote_line)}"
        else:
            skipping.note = _spans(skipping)
        yield skipping
    elif pending:
        yield _Block(pending, offset, line)


def _spans(skipped: _TooLong) -> str:
    if not skipped.newlines:
        return ""
    return f" (a CSV record over lines {skipped.line} to {skipped.end_line}: quoted cells span them)"


def unterminated(opened: int) -> str:
    """Why a CSV record whose quote is still open at the end of its source is a bad one."""
    return f"unterminated quote opened on line {opened}: the record runs to the end of the source"


# ---- CSV records -------------------------------------------------------------------------------------------
_RECORD, _START, _FIELD, _QUOTED, _QUOTE_END, _GARBAGE = range(6)
_BARE_CR = re.compile(rb"\r(?!\n)")


def _simple_lines(delimiter: bytes) -> re.Pattern[bytes] | None:
    """Consecutive lines that are whole records by themselves (no newline in a quoted cell, no bare ``\\r``):
    matched in C, so a block of them is passed over at regex speed; ``None`` for a delimiter of several bytes."""
    if len(delimiter) > 1:
        return None
    d = re.escape(delimiter)
    rest = b"[^" + d + rb"\n\r]*+"  # the rest of a cell: quotes in it are ordinary characters
    cell = rb'(?:"(?:[^"\n]++|"")*+"' + rest + b"|[^" + d + rb'\n\r"]' + rest + b"|)"
    return re.compile(b"(?:" + cell + b"(?:" + d + cell + rb")*+\r?\n)*+")


class CsvScanner:
    """Where CSV records end, in bytes fed in pieces of any size: the ``csv`` module's rules for its default
    dialect with ``delimiter`` (``"`` opens a quoted cell only at a cell's start, ``""`` is a quote inside
    one, no escape character, not strict).

    A ``\\n`` ends a record unless it is inside a quoted cell. A quote after the start of an unquoted cell
    is an ordinary character (``5'10"``), and so is the rest of a cell after its closing quote. A ``\\r``
    outside quotes but not before ``\\n`` makes the ``csv`` module refuse the record, and the next one
    starts on the next line. Records are checked by the ``csv`` module when they are converted; this class
    only finds where they end, in one pass over the bytes, mostly in C: a regular expression passes over lines
    that are records by themselves, ``find`` over quoted cells.
    """

    def __init__(self, delimiter: str) -> None:
        if len(delimiter) != 1 or delimiter in '"\r\n':
            raise TransferError(
                "csv_delimiter", f"must be one character other than a quote or a newline, got {delimiter!r}"
            )
        self.delimiter = delimiter.encode("utf-8")
        self._simple = _simple_lines(self.delimiter)
        self.state = _RECORD
        self.quote_at = -1
        """The offset of the last quote that opened a quoted cell."""
        self._carry = b""

    def feed(self, data: bytes, base: int, *, final: bool = False, joins: list[int] | None = None) -> tuple[int, int]:
        """Scan ``data``, the bytes from offset ``base`` on; returns the offsets after the first and after the
        last record end in it (``-1``: none). ``joins`` collects the offsets of ``\\n`` inside quoted cells.

        A delimiter of several bytes cut at the end of ``data`` waits for the next piece (unless ``final``).
        """
        if self._carry:
            data, base, self._carry = self._carry + data, base - len(self._carry), b""
        delimiter = self.delimiter
        if not final and len(delimiter) > 1:
            for size in range(len(delimiter) - 1, 0, -1):
                if data.endswith(delimiter[:size]):
                    data, self._carry = data[:-size], data[-size:]
                    break
        first = last = -1
        state, p, n = self.state, 0, len(data)
        has_cr = b"\r" in data
        while p < n:
            if state <= _START:  # at a cell's start
                if state == _RECORD and self._simple is not None:  # at a record's start
                    simple = self._simple.match(data, p).end()  # type: ignore[union-attr]
                    if simple > p:
                        if first < 0:
                            first = data.find(b"\n", p) + 1
                        last = p = simple
                        if p == n:
                            break
                if data[p] == 0x22:
                    self.quote_at = base + p
                    state, p = _QUOTED, p + 1
                else:
                    state = _FIELD
            elif state == _FIELD:  # in an unquoted cell: a quote opens a cell only after a delimiter or a newline
                quote = data.find(b'"', p)
                stop = n if quote < 0 else quote
                if self._simple is not None:  # up to the first record end, for the simple lines after it
                    newline = data.find(b"\n", p, stop)
                    if newline >= 0:
                        stop = newline + 1
                cr = _BARE_CR.search(data, p, stop) if has_cr else None
                if cr is not None:
                    stop = cr.start()
                newline = data.rfind(b"\n", p, stop)
                if newline >= 0:
                    last = newline + 1
                    if first < 0:
                        first = data.find(b"\n", p, stop) + 1
                if cr is not None:
                    state, p = _GARBAGE, stop + 1
                elif newline >= 0 and newline + 1 == stop:  # a record ended just here
                    state, p = _RECORD, stop
                elif quote < 0:
                    p = n
                    if data.endswith(delimiter):
                        state = _START
                elif quote and data.startswith(delimiter, quote - len(delimiter)) and quote >= len(delimiter):
                    self.quote_at = base + quote
                    state, p = _QUOTED, quote + 1
                else:
                    p = quote + 1
            elif state == _QUOTED:  # up to the closing quote ("" is a quote inside)
                quote = data.find(b'"', p)
                while 0 <= quote < n - 1 and data[quote + 1] == 0x22:
                    quote = data.find(b'"', quote + 2)
                stop = n if quote < 0 else quote
                if joins is not None:
                    newline = data.find(b"\n", p, stop)
                    while newline >= 0:
                        joins.append(base + newline)
                        newline = data.find(b"\n", newline + 1, stop)
                if quote < 0:
                    p = n
                else:  # closing, unless the next piece starts with another quote
                    state, p = _QUOTE_END, quote + 1
            elif state == _QUOTE_END:
                byte = data[p]
                if byte == 0x22:
                    state, p = _QUOTED, p + 1
                elif byte == 0x0A:
                    last = p + 1
                    if first < 0:
                        first = last
                    state, p = _RECORD, p + 1
                elif byte == 0x0D:
                    state, p = _GARBAGE, p + 1
                elif data.startswith(delimiter, p):
                    state, p = _START, p + len(delimiter)
                else:
                    state = _FIELD
            else:  # _GARBAGE: a bare "\r" outside quotes; the csv module refuses the record up to the line's end
                newline = data.find(b"\n", p)
                if newline < 0:
                    p = n
                else:
                    last = newline + 1
                    if first < 0:
                        first = last
                    state, p = _RECORD, newline + 1
        self.state = state
        return (base + first if first >= 0 else -1), (base + last if last >= 0 else -1)

    def records(self, data: bytes) -> tuple[list[bytes], int]:
        """``data`` (whole records from a record's start) cut into records, as ``data.split(b"\\n")`` but
        keeping a quoted cell's newlines inside its record; and where a quote still open at its end opened
        (``-1``: none; then the last record runs to the end of the source)."""
        if b'"' not in data:
            return data.split(b"\n"), -1
        self.state, self._carry = _RECORD, b""
        joins: list[int] = []
        self.feed(data, 0, final=True, joins=joins)
        open_quote = self.quote_at if self.state == _QUOTED else -1
        lines = data.split(b"\n")
        if not joins:
            return lines, open_quote
        records: list[bytes] = []
        joined = set(joins)
        start = end = 0  # the current record's start; the current line's end
        for piece in lines:
            end += len(piece)
            if end in joined:
                end += 1
                continue
            records.append(piece if start == end - len(piece) else data[start:end])
            end += 1
            start = end
        return records, open_quote
