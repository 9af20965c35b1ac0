"""One batch and where it ends in its source, apart from delivery so that encoding processes import no HTTP stack.

An encoding process (spawned) imports :mod:`._encoding`; importing ``requests`` and ``tenacity`` there
through :mod:`._delivery` cost each process about 0.3 s of start-up CPU for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Batch:
    """One request body and where it ends in its source (what the checkpoint saves once it lands)."""

    source_index: int
    source: str
    body: bytes
    points: int
    first_line: int
    line_nos: list[int] | None  # None: consecutive from first_line (no bad or blank line inside)
    end_offset: int
    end_line: int
    header: list[str] | None = None

    def lines(self) -> tuple[list[bytes], list[int]]:
        lines = self.body.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        nos = self.line_nos if self.line_nos is not None else list(range(self.first_line, self.first_line + len(lines)))
        return lines, nos
