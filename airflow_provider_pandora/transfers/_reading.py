"""Reading: sources as byte streams, cut into blocks of whole lines.

Sources are read in large chunks and split on ``\\n`` as bytes (a chunk can end inside a UTF-8
character, and ``str.splitlines`` would also split on ``\\u2028``); a line longer than
``max_line`` is discarded as it streams, so memory stays O(chunk + longest allowed line)
whatever the input size.
"""

from __future__ import annotations

import gzip as gzip_module
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, cast

from airflow_provider_pandora.exceptions import TransferError

READ_CHUNK = 1 << 20
"""Bytes read from a source at a time (the pass-through reads up to one batch instead)."""
PROCESS_BLOCK = 2 * 1024 * 1024
"""Bytes per block handed to an encoding process (about one batch once encoded)."""


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
    line: int  # the overlong line's own number
    length: int
    end: int  # offset after it


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
) -> Iterator[_Block | _TooLong]:
    """Blocks of whole lines from ``stream`` (already at ``offset``), and markers for overlong lines.

    With ``block_bytes`` each block stays within that size (pass-through: one request body).
    """
    pending = b""
    skipping: _TooLong | None = None
    while True:
        want = chunk if block_bytes is None else max(1, block_bytes - len(pending))
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
        # ``pending`` (the tail after the last "\n" so far) holds no "\n", so the cut is in ``data``; the
        # block is built with one copy at most (none when ``data`` ends a line and nothing is pending)
        cut = data.rfind(b"\n") + 1
        if not cut:
            pending = pending + data if pending else data
        else:
            if pending:
                block = pending + data if cut == len(data) else b"".join((pending, memoryview(data)[:cut]))
            else:
                block = data if cut == len(data) else data[:cut]
            pending = data[cut:]
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
