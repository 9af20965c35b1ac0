"""The byte line reader: whatever the read sizes, every line comes out once, with its number and offset."""

from __future__ import annotations

import io
from typing import IO, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_pandora.transfers._reading import _Block, _TooLong, read_blocks


class Trickle(io.RawIOBase):
    """A stream that answers each read with at most ``step`` bytes (as sockets and gzip streams do)."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data = data
        self.pos = 0
        self.step = step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        end = min(len(self.data), self.pos + min(self.step, size if size >= 0 else self.step))
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk


@settings(max_examples=300, deadline=None)
@given(
    data=st.lists(st.sampled_from([b"a", b"bb", b"\n", b"\r\n", b"\xc3\xbc", b"x" * 9]), max_size=60).map(b"".join),
    step=st.integers(1, 17),
    chunk=st.integers(1, 23),
    max_line=st.integers(1, 30),
    start=st.integers(0, 3),
)
def test_lines_numbers_and_offsets_survive_any_chunking(
    data: bytes, step: int, chunk: int, max_line: int, start: int
) -> None:
    pieces = data.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    offsets, position = [], 0
    for piece in pieces:
        offsets.append(position)
        position += len(piece) + 1

    seen: dict[int, tuple[bytes | None, int]] = {}
    offset = 0
    for item in read_blocks(cast(IO[bytes], Trickle(data, step)), 0, 0, max_line=max_line, chunk=chunk):
        if isinstance(item, _TooLong):
            assert item.offset == offset
            assert item.length > max_line
            seen[item.line] = (None, item.offset)
            offset = item.end
            continue
        assert isinstance(item, _Block)
        assert item.offset == offset
        lines = item.data.split(b"\n")
        if item.data.endswith(b"\n"):
            lines.pop()
        for n, line in enumerate(lines, start=item.line + 1):
            seen[n] = (line, offset)
            offset += len(line) + 1
        offset = item.offset + len(item.data)
    assert offset == len(data)
    assert sorted(seen) == list(range(1, len(pieces) + 1))
    for n, piece in enumerate(pieces, start=1):
        text, at = seen[n]
        assert at == offsets[n - 1]
        assert text == piece or (text is None and len(piece) > max_line)

    # resuming at any line start gives the same lines from there on
    if pieces:
        k = min(start, len(pieces) - 1)
        stream = cast(IO[bytes], Trickle(data[offsets[k] :], step))
        again = [
            item.data
            for item in read_blocks(stream, offsets[k], k, max_line=max_line, chunk=chunk)
            if isinstance(item, _Block)
        ]
        found = [seen[n][0] for n in range(k + 1, len(pieces) + 1)]
        tail = [text for text in found if text is not None]
        rebuilt = b"".join(again).split(b"\n")
        if rebuilt and rebuilt[-1] == b"":
            rebuilt.pop()
        assert [x for x in rebuilt if len(x) <= max_line] == [x for x in tail if len(x) <= max_line]
