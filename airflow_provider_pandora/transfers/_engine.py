"""The streaming core shared by the transfer operators: read lines, encode, batch, send, checkpoint.

Why it is shaped this way:

* **Bytes, not text.** Sources are read in large chunks and split on ``\\n`` as bytes (a chunk can end
  inside a UTF-8 character, and ``str.splitlines`` would also split on ``\\u2028``); ``\\r\\n`` is
  accepted; a line longer than ``max_line_bytes`` is discarded as it streams, so memory stays
  O(chunk + longest allowed line) whatever the input size.
* **One encoder, one batcher.** Values go through :class:`~airflow_provider_pandora.wire.PointEncoder`
  and points into :class:`~airflow_provider_pandora.wire.BatchBuilder`, as for ``PandoraPushDataOperator``;
  JSON lines take :class:`~airflow_provider_pandora.transfers._fastencode.FastPointEncoder` in front of it
  (the same bytes, property-tested), optionally in ``encode_processes`` worker processes.
  ``pandora`` lines are passed through: a chunk of well-formed lines *is* the request body.
* **Overlap.** Up to ``max_in_flight`` batches are posted (and gzipped) on worker threads while the
  main thread reads and encodes the next ones; results are settled in order on the main thread,
  which is the only one that checkpoints, logs and writes the dead-letter file.
* **At least once, resumable.** Each batch is retried with the hook's back-off on 5xx, 429, timeouts
  and dropped connections; a batch the server refuses for its content is bisected so good points
  still land. After every acknowledged batch the position (source, byte offset, line) is saved, so
  a retried task starts after the last acknowledged batch. A batch that failed after the server may
  have stored it (5xx, timeout, dropped connection) and then succeeded may be stored twice: its
  points are counted in ``possible_duplicates`` and logged. So are points the next try sends again
  because they landed beyond the checkpoint (a batch that landed after an earlier one failed, the
  good points of a batch whose bad point failed the task); the count travels with the checkpoint.
  Bad lines past the checkpoint are met again by the next try (counted, dead-lettered again).
"""

from __future__ import annotations

import gzip as gzip_module
import hashlib
import json
import json.scanner
import logging
import re
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

import requests
import tenacity

from airflow_provider_pandora import wire
from airflow_provider_pandora.exceptions import PandoraApiError, PandoraValidationError
from airflow_provider_pandora.transfers import _decode
from airflow_provider_pandora.transfers._fastencode import FastPointEncoder

FORMATS = ("jsonl", "csv", "pandora")
BAD_LINE_POLICIES = ("fail", "skip", "dead_letter")
READ_CHUNK = 1 << 20
"""Bytes read from a source at a time (the pass-through reads up to one batch instead)."""
PROCESS_BLOCK = 2 * 1024 * 1024
"""Bytes per block handed to an encoding process (about one batch once encoded)."""
DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024
"""Longer lines are bad lines, discarded while streaming (a point must stay below 2 MiB anyway)."""
DEFAULT_MAX_IN_FLIGHT = 3
MAX_IN_FLIGHT_LIMIT = 16
"""The hook's connection pool holds 16 connections."""
DEFAULT_ATTEMPTS = 5
PROGRESS_EVERY = 5.0
LOGGED_BAD_LINES = 10
"""The first bad lines are logged one by one; the rest only counted (and dead-lettered)."""
#: Codes meaning "this batch's content is refused": bisect to find the bad points.
CONTENT_CODES = frozenset({"E18005", "E18007", "E18008", "E18104", "E18106", "E18110", "E18111", "E18123"})
CHECKPOINT_VERSION = 1
_FIELD_RE = re.compile(r"(?:field key|field|key|line \d+\.)\s*'?\"?([A-Za-z_][A-Za-z0-9_]*)")

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# Sources and bad lines
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """One input. ``open(offset)`` returns a binary stream positioned at that (raw) byte offset.

    ``gzip`` sources are decompressed on the fly; offsets then count decompressed bytes and a resume
    re-reads the object from its start, discarding what was already delivered.
    """

    name: str
    open: Callable[[int], IO[bytes]]
    gzip: bool = False


@dataclass(frozen=True)
class BadLine:
    source: str
    line: int
    reason: str
    field: str | None = None
    text: bytes | None = None

    def describe(self) -> str:
        where = f"{self.source}, line {self.line}"
        return f"{where}, field {self.field!r}: {self.reason}" if self.field else f"{where}: {self.reason}"

    def to_json(self) -> str:
        text = None if self.text is None else self.text[:1_000_000].decode("utf-8", "replace")
        return json.dumps(
            {"source": self.source, "line": self.line, "field": self.field, "reason": self.reason, "text": text},
            ensure_ascii=False,
        )


class BadLineError(PandoraValidationError):
    """A bad line with ``on_bad_line="fail"``: names the source, the line, the field and the reason."""

    def __init__(self, bad: BadLine) -> None:
        self.bad = bad
        super().__init__("on_bad_line", f"bad line in {bad.describe()} (on_bad_line='fail')")

    def __reduce__(self) -> tuple[Any, ...]:
        return (BadLineError, (self.bad,))


class TransferError(PandoraValidationError):
    """The transfer cannot start or continue (bad arguments, missing source, unreadable object)."""


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------
class CheckpointStore(Protocol):
    def load(self) -> dict[str, Any] | None: ...
    def save(self, state: dict[str, Any]) -> None: ...
    def clear(self) -> None: ...


class MemoryCheckpoints:
    """A dict-backed store (tests, benchmarks, direct use of :class:`Transfer`)."""

    def __init__(self) -> None:
        self.state: dict[str, Any] | None = None
        self.saves = 0

    def load(self) -> dict[str, Any] | None:
        return dict(self.state) if self.state else None

    def save(self, state: dict[str, Any]) -> None:
        self.state = dict(state)
        self.saves += 1

    def clear(self) -> None:
        self.state = None


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------
@dataclass
class _Block:
    """Complete lines (the last one may lack its ``\\n`` at the end of a source)."""

    data: bytes
    offset: int
    line: int  # number of lines before this block


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


def _skip(stream: IO[bytes], count: int) -> None:
    while count > 0:
        data = stream.read(min(count, READ_CHUNK))
        if not data:
            name = getattr(stream, "name", "the source")
            raise TransferError("source", f"{name} ended {count} bytes before the checkpointed offset")
        count -= len(data)


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
        buf = pending + data if pending else data
        cut = buf.rfind(b"\n")
        if cut < 0:
            pending = buf
        else:
            block = buf[: cut + 1] if cut + 1 < len(buf) else buf
            pending = buf[cut + 1 :]
            yield _Block(block, offset, line)
            offset += len(block)
            line += block.count(b"\n")
        if len(pending) > max_line:
            skipping = _TooLong(offset, line + 1, len(pending), 0)
            pending = b""
    if skipping is not None:
        skipping.end = skipping.offset + skipping.length
        yield skipping
    elif pending:
        yield _Block(pending, offset, line)


# --------------------------------------------------------------------------------------------
# Batches and their delivery
# --------------------------------------------------------------------------------------------
@dataclass
class _Batch:
    source_index: int
    source: str
    body: bytes
    points: int
    first_line: int
    line_nos: list[int] | None  # None: consecutive from first_line (pass-through blocks)
    end_offset: int
    end_line: int
    header: list[str] | None = None

    def lines(self) -> tuple[list[bytes], list[int]]:
        lines = self.body.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        nos = self.line_nos if self.line_nos is not None else list(range(self.first_line, self.first_line + len(lines)))
        return lines, nos


@dataclass
class _Sent:
    points: int = 0
    bytes: int = 0
    requests: int = 0
    retries: int = 0
    possible_duplicates: int = 0
    rejected: list[BadLine] = field(default_factory=list)


def _maybe_committed(exc: BaseException | None) -> bool:
    """Could the server have stored the batch although we saw a failure?"""
    if exc is None or isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, PandoraApiError):
        return exc.status_code >= 500
    return isinstance(exc, (requests.ConnectionError, requests.Timeout))


def _field_of(message: str) -> str | None:
    match = _FIELD_RE.search(message)
    return match.group(1) if match else None


# --------------------------------------------------------------------------------------------
# Options and the transfer itself
# --------------------------------------------------------------------------------------------
@dataclass
class TransferOptions:
    repo: str
    format: str = "jsonl"
    schema: Sequence[Any] | None = None
    field_map: Mapping[str, str | None] | None = None
    on_bad_line: str = "fail"
    dead_letter_path: str | None = None
    gzip: bool = False
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    csv_delimiter: str = ","
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    attempts: int | None = None
    progress_every: float = PROGRESS_EVERY
    max_batch_bytes: int = wire.MAX_BATCH_BYTES
    """Smaller batches only for tests; bodies always stay below 2 MiB."""
    encode_processes: int = 0
    """``jsonl`` only: parse and encode in this many worker processes (spawned) instead of this one."""

    def validate(self) -> None:
        def choice(value: str, allowed: Sequence[str], name: str) -> None:
            if value not in allowed:
                raise TransferError(name, f"must be one of {', '.join(map(repr, allowed))}, got {value!r}")

        choice(self.format, FORMATS, "format")
        choice(self.on_bad_line, BAD_LINE_POLICIES, "on_bad_line")
        if self.on_bad_line == "dead_letter" and not self.dead_letter_path:
            raise TransferError("dead_letter_path", "is required when on_bad_line='dead_letter'")
        if not 1 <= self.max_in_flight <= MAX_IN_FLIGHT_LIMIT:
            raise TransferError(
                "max_in_flight", f"must be between 1 and {MAX_IN_FLIGHT_LIMIT}, got {self.max_in_flight}"
            )
        if self.format == "pandora" and self.field_map:
            raise TransferError(
                "field_map", "cannot apply to format='pandora': its lines are passed through as they are"
            )
        if len(self.csv_delimiter) != 1:
            raise TransferError("csv_delimiter", f"must be one character, got {self.csv_delimiter!r}")
        if self.max_line_bytes < 1:
            raise TransferError("max_line_bytes", "must be positive")
        if not 0 <= self.encode_processes <= 64:
            raise TransferError("encode_processes", f"must be between 0 and 64, got {self.encode_processes}")
        if not 64 <= self.max_batch_bytes <= wire.MAX_BATCH_BYTES:
            raise TransferError("max_batch_bytes", f"must be between 64 and {wire.MAX_BATCH_BYTES}")

    def fingerprint(self, sources_spec: str) -> str:
        """What a checkpoint belongs to: a checkpoint of other inputs is ignored."""
        text = json.dumps([self.repo, self.format, sources_spec], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_Lines = tuple[list[bytes], list[int], list[int], list[tuple[int, int, str, str | None, bytes | None]]]
"""Encoded lines, their line numbers and start offsets, and bad lines ``(line, start, reason, field, text)``."""


def encode_lines(
    convert: Callable[[bytes, int], bytes | None],
    data: bytes,
    offset: int,
    line: int,
    max_line: int,
    stop: bool,
    fast: FastPointEncoder | None = None,
) -> _Lines:
    """Encode one block of whole lines; with ``stop`` nothing after the first bad line is encoded.

    With ``fast`` (JSON lines), a line that parses to an object whose key order has a compiled
    encoder is encoded right here; anything else goes through ``convert``, which decides and explains.
    """
    lines: list[bytes] = []
    nos: list[int] = []
    starts: list[int] = []
    bad: list[tuple[int, int, str, str | None, bytes | None]] = []
    end = offset + len(data)
    line_no = line
    shapes = fast.compiled_shapes() if fast is not None else None
    scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[attr-defined,arg-type]
    decode = _decode.fast_decoder()  # msgspec when present; what it refuses, the scanner below decides
    for raw in data.split(b"\n"):
        start = offset
        offset += len(raw) + 1
        line_no += 1
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw or raw.isspace():
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
                except (ValueError, StopIteration):
                    point = None
            if type(point) is dict:
                compiled = shapes.get(tuple(point))
                if compiled is not None:
                    wire_text = compiled(point, b"\\" not in raw)
                    if wire_text is not None:
                        lines.append(wire_text.encode("utf-8"))
                        nos.append(line_no)
                        starts.append(start)
                        continue
        try:
            if len(raw) > max_line:
                raise wire.PointError("line", f"is longer than max_line_bytes={max_line}")
            encoded = convert(raw, line_no)
        except wire.PointError as err:
            bad.append((line_no, start, err.problem, err.field, raw))
            if stop:
                break
            continue
        if encoded is not None:
            lines.append(encoded)
            nos.append(line_no)
            starts.append(start)
    return lines, nos, starts, bad


def jsonl_converter(fast: FastPointEncoder) -> Callable[[bytes, int], bytes | None]:
    """JSON line -> wire line: ``json``'s C scanner (skipping ``json.loads``' wrappers), then ``fast``."""
    scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[attr-defined,arg-type]
    loads = json.loads
    encode = fast.encode
    decode = _decode.fast_decoder()  # msgspec when present; what it refuses, json decides (and explains)

    def jsonl(raw: bytes, line_no: int) -> bytes:
        if decode is not None:
            try:
                point = decode(raw)
            except Exception:  # msgspec refused it: the standard library below gives the error
                point = None
            if type(point) is dict:
                return encode(point, b"\\" not in raw)
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
            raise wire.PointError("line", f"is not JSON: {err}") from None
        if type(point) is not dict:
            raise wire.PointError("line", f"is JSON {type(point).__name__}, expected an object")
        return encode(point, b"\\" not in raw)  # no backslash: no string needs escaping

    return jsonl


_worker_convert: Callable[[bytes, int], bytes | None] | None = None
_worker_fast: FastPointEncoder | None = None


def _worker_init(schema: Any, field_map: Any) -> None:
    """Encoding process: build the same encoder as the parent (encoders hold closures, not picklable)."""
    global _worker_convert, _worker_fast
    _worker_fast = FastPointEncoder(wire.PointEncoder(schema, field_map=field_map))
    _worker_convert = jsonl_converter(_worker_fast)


_Batches = tuple[list[tuple[bytes, list[int], int, int]], list[tuple[int, int, str, str | None, bytes | None]]]
"""Batches ``(body, line numbers, end offset, end line)`` cut within one block, and its bad lines."""


def _worker_batches(data: bytes, offset: int, line: int, max_line: int, stop: bool, max_batch: int) -> _Batches:
    """Encoding process: encode a block and cut it into batches, so the parent only posts them.

    Batches do not span blocks here (the parent would otherwise touch every line again).
    """
    assert _worker_convert is not None
    lines, nos, starts, bad = encode_lines(_worker_convert, data, offset, line, max_line, stop, _worker_fast)
    builder = wire.BatchBuilder(max_batch)
    batches: list[tuple[bytes, list[int], int, int]] = []
    current: list[int] = []
    for wire_line, line_no, start in zip(lines, nos, starts, strict=True):
        try:
            full = builder.add(wire_line)
        except wire.PointError as err:  # a point of 2 MiB or more
            too_big = (line_no, start, err.problem, err.field, None)
            if stop:
                bad = [too_big]
                break
            bad.append(too_big)
            continue
        if full is not None:
            batches.append((wire.body_of(full), current, start, line_no - 1))
            current = []
        current.append(line_no)
    if len(builder):
        if stop and bad:
            end_offset, end_line = bad[0][1], bad[0][0] - 1
        else:
            end_offset, end_line = offset + len(data), line + data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        batches.append((wire.body_of(builder.take()), current, end_offset, end_line))
    bad.sort(key=lambda item: item[0])
    return batches, bad


class Transfer:
    """Stream ``sources`` into ``options.repo`` through ``hook``; see the module docstring.

    :param hook: a :class:`~airflow_provider_pandora.hooks.pandora.PandoraHook` (its session, signing,
        retry predicate and back-off are used).
    :param checkpoints: where progress is saved after each acknowledged batch (``None``: nowhere).
    :param sources_spec: a description of the inputs (path, bucket/prefix) for the checkpoint fingerprint.
    :param on_ack: called on the main thread after each settled batch with the running result (tests).
    """

    def __init__(
        self,
        hook: Any,
        options: TransferOptions,
        *,
        checkpoints: CheckpointStore | None = None,
        sources_spec: str = "",
        logger: logging.Logger | Any | None = None,
        on_ack: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        options.validate()
        self.hook = hook
        self.options = options
        self.checkpoints = checkpoints
        self.fingerprint = options.fingerprint(sources_spec)
        self.log = logger or log
        self.on_ack = on_ack
        self.encoder: wire.PointEncoder | None = None
        self._dead_letter: IO[str] | None = None
        # running totals (carried over from a checkpoint)
        self.points = self.bytes = self.batches = self.bad_lines = self.retries = 0
        self.possible_duplicates = 0
        self.sources_done = 0
        self._started = 0.0
        self._last_log = 0.0
        self._inflight: deque[tuple[_Batch, _Sent, Future[None]]] = deque()
        self._last_state: dict[str, Any] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._broken = False
        # the batch being built (encoded formats)
        self._builder = wire.BatchBuilder(options.max_batch_bytes)
        self._nos: list[int] = []
        self._header: list[str] | None = None
        self._max_line = options.max_line_bytes
        self._fast: FastPointEncoder | None = None
        self._procs: Any = None  # a ProcessPoolExecutor with encode_processes
        self._pending: deque[Future[_Batches]] = deque()

    # ---- public ------------------------------------------------------------------------------
    def run(self, sources: Sequence[Source]) -> dict[str, Any]:
        """Deliver every source; returns :meth:`result` (totals, carried over from a checkpoint)."""
        opts = self.options
        self._started = self._last_log = time.monotonic()
        start_index, offset, line = self._resume(sources)
        if opts.format != "pandora":
            self.encoder = self.hook.encoder_for(opts.repo, opts.schema, opts.field_map)
        self._convert = self._converter()
        self.hook.get_conn()  # build the shared session (and read the connection) before the threads start
        if opts.encode_processes and opts.format == "jsonl":
            self._procs = self._process_pool(opts.encode_processes)
        self._pool = ThreadPoolExecutor(max_workers=opts.max_in_flight, thread_name_prefix="pandora-push")
        try:
            for index in range(start_index, len(sources)):
                self._read_source(index, sources[index], offset, line)
                offset, line = 0, 0
                self._header = None
                self.sources_done = index + 1
            self._drain()
        except BaseException:
            self._drain(quiet=True)
            raise
        finally:
            self._pool.shutdown(wait=True)
            if self._procs is not None:
                self._procs.shutdown(wait=True, cancel_futures=True)
            if self._dead_letter is not None:
                self._dead_letter.close()
        result = self.result()
        if self.checkpoints is not None:
            self.checkpoints.clear()
        self.log.info(
            "transfer into repo %r done: %d points, %d bytes in %d batches, %d bad lines, %d retries, %.1f s",
            opts.repo,
            self.points,
            self.bytes,
            self.batches,
            self.bad_lines,
            self.retries,
            result["seconds"],
        )
        if self.possible_duplicates:
            self.log.warning(
                "%d points were in batches that failed after the server may have stored them and were sent "
                "again; they may be stored twice (delivery is at least once)",
                self.possible_duplicates,
            )
        return result

    def result(self) -> dict[str, Any]:
        return {
            "points": self.points,
            "bytes": self.bytes,
            "batches": self.batches,
            "bad_lines": self.bad_lines,
            "retries": self.retries,
            "seconds": round(time.monotonic() - self._started, 3),
            "sources": self.sources_done,
            "possible_duplicates": self.possible_duplicates,
        }

    # ---- checkpoints -------------------------------------------------------------------------
    def _resume(self, sources: Sequence[Source]) -> tuple[int, int, int]:
        index, offset, line = self._load(sources)
        if self.checkpoints is not None and sources:
            self._last_state = self._state(sources[index].name, offset, line, self._header)
        return index, offset, line

    def _load(self, sources: Sequence[Source]) -> tuple[int, int, int]:
        if self.checkpoints is None:
            return 0, 0, 0
        state = self.checkpoints.load()
        if not state:
            return 0, 0, 0
        if state.get("version") != CHECKPOINT_VERSION or state.get("fingerprint") != self.fingerprint:
            self.log.warning("ignoring a checkpoint saved for other inputs; starting from the beginning")
            return 0, 0, 0
        names = [s.name for s in sources]
        name = state.get("source")
        if name not in names:
            self.log.warning("the checkpointed source %r is no longer listed; starting from the beginning", name)
            return 0, 0, 0
        index = names.index(name)
        for key in ("points", "bytes", "batches", "bad_lines", "retries", "possible_duplicates"):
            setattr(self, key, int(state.get(key) or 0))
        self._header = state.get("header")
        offset, line = int(state.get("offset") or 0), int(state.get("line") or 0)
        self.sources_done = index
        self.log.info(
            "resuming from the checkpoint: source %r at byte %d (line %d); %d points already delivered",
            name,
            offset,
            line,
            self.points,
        )
        return index, offset, line

    def _save(self, batch: _Batch) -> None:
        if self.checkpoints is None:
            return
        self._last_state = self._state(batch.source, batch.end_offset, batch.end_line, batch.header)
        self.checkpoints.save(self._last_state)

    def _state(self, source: str, offset: int, line: int, header: list[str] | None) -> dict[str, Any]:
        return {
            "version": CHECKPOINT_VERSION,
            "fingerprint": self.fingerprint,
            "source": source,
            "offset": offset,
            "line": line,
            "header": header,
            "points": self.points,
            "bytes": self.bytes,
            "batches": self.batches,
            "bad_lines": self.bad_lines,
            "retries": self.retries,
            "possible_duplicates": self.possible_duplicates,
        }

    # ---- bad lines -----------------------------------------------------------------------------
    def _bad(self, bad: BadLine) -> None:
        """Apply ``on_bad_line``; ``fail`` raises (callers settle what came before first)."""
        policy = self.options.on_bad_line
        if policy == "fail":
            raise BadLineError(bad)
        self.bad_lines += 1
        if policy == "dead_letter":
            if self._dead_letter is None:
                path = str(self.options.dead_letter_path)
                self._dead_letter = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in run()
            self._dead_letter.write(bad.to_json() + "\n")
            self._dead_letter.flush()
        if self.bad_lines <= LOGGED_BAD_LINES:
            self.log.warning(
                "bad line (%s): %s%s",
                policy,
                bad.describe(),
                "; later ones are only counted" if self.bad_lines == LOGGED_BAD_LINES else "",
            )

    def _fail_before(self, index: int, source: Source, bad: BadLine, offset: int, line: int) -> None:
        """``fail``: deliver everything before the bad line, checkpoint at it, then raise."""
        self._flush(index, source, offset, line)
        self._drain()
        raise BadLineError(bad)

    # ---- reading and encoding --------------------------------------------------------------------
    def _open(self, source: Source, offset: int) -> tuple[IO[bytes], IO[bytes]]:
        """The (decompressed) stream at ``offset`` and the raw one under it (both closed by the caller)."""
        if source.gzip:
            raw = source.open(0)
            gz: IO[bytes] = gzip_module.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
            stream = _Named(gz, source.name)
            try:
                _skip(stream, offset)  # type: ignore[arg-type]
            except BaseException:
                raw.close()
                raise
            return stream, raw  # type: ignore[return-value]
        raw = source.open(offset)
        return _Named(raw, source.name), raw  # type: ignore[return-value]

    def _read_source(self, index: int, source: Source, offset: int, line: int) -> None:
        opts = self.options
        passthrough = opts.format == "pandora"
        budget = opts.max_batch_bytes - 2  # a block plus a final "\n" stays below max_batch_bytes
        max_line = min(opts.max_line_bytes, budget) if passthrough else opts.max_line_bytes
        self.log.info("reading %s%s", source.name, f" from byte {offset} (line {line})" if offset else "")
        stream, raw = self._open(source, offset)
        end_offset, end_line = offset, line
        try:
            for block in read_blocks(
                stream,
                offset,
                line,
                max_line=max_line,
                block_bytes=budget if passthrough else None,
                chunk=PROCESS_BLOCK if self._procs is not None else READ_CHUNK,
            ):
                if isinstance(block, _TooLong):
                    self._apply_pending(index, source, 0)
                    limit = f"max_line_bytes={max_line}" + (
                        ", and a point must stay below 2 MiB" if passthrough else ""
                    )
                    bad = BadLine(source.name, block.line, f"is longer than {limit}")
                    if opts.on_bad_line == "fail":
                        self._fail_before(index, source, bad, block.offset, block.line - 1)
                    self._bad(bad)
                    end_offset, end_line = block.end, block.line
                    continue
                if passthrough and self._fast_block(block.data):
                    self._flush(index, source, block.offset, block.line)
                    body = block.data if block.data.endswith(b"\n") else block.data + b"\n"
                    count = body.count(b"\n")
                    self._submit(
                        _Batch(
                            index,
                            source.name,
                            body,
                            count,
                            block.line + 1,
                            None,
                            block.offset + len(block.data),
                            block.line + count,
                        )
                    )
                elif self._procs is not None:
                    stop = opts.on_bad_line == "fail"
                    args = (block.data, block.offset, block.line, self._max_line, stop)
                    self._pending.append(self._procs.submit(_worker_batches, *args, opts.max_batch_bytes))
                    self._apply_pending(index, source, 2 * opts.encode_processes)
                else:
                    self._lines(index, source, block)
                end_offset = block.offset + len(block.data)
                end_line = block.line + block.data.count(b"\n") + (0 if block.data.endswith(b"\n") else 1)
                self._maybe_log(source.name)
            self._apply_pending(index, source, 0)
        finally:
            for future in self._pending:
                future.cancel()
            self._pending.clear()
            stream.close()
            raw.close()
        self._flush(index, source, end_offset, end_line)

    @staticmethod
    def _fast_block(data: bytes) -> bool:
        """Can this pass-through block be sent as it is (no CR, no blank line, no field over 100 KB)?"""
        if b"\r" in data or b"\n\n" in data or data.startswith(b"\n"):
            return False
        if len(data) <= wire.MAX_FIELD_BYTES:
            return True
        return all(len(line) <= wire.MAX_FIELD_BYTES for line in data.split(b"\n"))

    def _process_pool(self, count: int) -> Any:
        """Worker processes for parsing and encoding (spawned: forking a process with threads is unsafe)."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        assert self.encoder is not None
        return ProcessPoolExecutor(
            max_workers=count,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(self.encoder.schema, self.encoder.field_map),
        )

    def _apply_pending(self, index: int, source: Source, limit: int) -> None:
        """Batch what the encoding processes returned, in source order, keeping ``limit`` blocks queued."""
        while len(self._pending) > limit or (self._pending and self._pending[0].done()):
            batches, bad = self._pending.popleft().result()
            for body, nos, end_offset, end_line in batches:
                self._submit(_Batch(index, source.name, body, len(nos), nos[0], nos, end_offset, end_line))
            self._apply_bad(index, source, bad)

    def _lines(self, index: int, source: Source, block: _Block) -> None:
        """The per-line path in this process: decode, convert and encode each line, then batch."""
        stop = self.options.on_bad_line == "fail"
        self._feed(
            index,
            source,
            encode_lines(self._convert, block.data, block.offset, block.line, self._max_line, stop, self._fast),
        )

    def _feed(self, index: int, source: Source, encoded: _Lines) -> None:
        """Batch encoded lines (in source order), then apply ``on_bad_line`` to the bad ones."""
        lines, nos, starts, bad = encoded
        add = self._builder.add
        name = source.name
        for wire_line, line_no, start in zip(lines, nos, starts, strict=True):
            try:
                full = add(wire_line)
            except wire.PointError as err:  # a point of 2 MiB or more
                bad.insert(0, (line_no, start, err.problem, err.field, None))
                if self.options.on_bad_line == "fail":
                    break
                continue
            if full is not None:
                done, self._nos = self._nos, []
                self._submit(self._encoded_batch(index, name, full, done, start, line_no - 1))
            self._nos.append(line_no)
        self._apply_bad(index, source, bad)

    def _apply_bad(self, index: int, source: Source, bad: list[tuple[int, int, str, str | None, bytes | None]]) -> None:
        for line_no, start, problem, field_name, raw in bad:
            found = BadLine(source.name, line_no, problem, field_name, raw)
            if self.options.on_bad_line == "fail":
                self._fail_before(index, source, found, start, line_no - 1)
            self._bad(found)

    def _encoded_batch(
        self, index: int, name: str, lines: list[bytes], nos: list[int], end_offset: int, end_line: int
    ) -> _Batch:
        return _Batch(index, name, wire.body_of(lines), len(lines), nos[0], nos, end_offset, end_line, self._header)

    def _flush(self, index: int, source: Source, end_offset: int, end_line: int) -> None:
        if len(self._builder):
            nos, self._nos = self._nos, []
            self._submit(self._encoded_batch(index, source.name, self._builder.take(), nos, end_offset, end_line))

    def _converter(self) -> Callable[[bytes, int], bytes | None]:
        fmt = self.options.format
        if fmt == "pandora":
            return _check_pandora_line
        encoder = self.encoder
        assert encoder is not None
        encode = encoder.encode
        if fmt == "jsonl":
            self._fast = FastPointEncoder(encoder)  # same bytes as encoder.encode, faster
            return jsonl_converter(self._fast)
        return self._csv_converter(encode)

    def _csv_converter(self, encode: Callable[..., bytes]) -> Callable[[bytes, int], bytes | None]:
        import csv

        delimiter = self.options.csv_delimiter

        def row(raw: bytes, line_no: int) -> bytes | None:
            try:
                text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError as err:
                raise wire.PointError("line", f"is not UTF-8: {err}") from None
            try:
                cells = next(csv.reader([text], delimiter=delimiter))
            except (csv.Error, StopIteration) as err:
                raise wire.PointError("line", f"is not a CSV row: {err}") from None
            if self._header is None:
                if line_no != 1:
                    raise TransferError("csv", "the header row is unknown (resumed without it)")
                self._header = [cell.strip() for cell in cells]
                return None
            header = self._header
            if len(cells) > len(header):
                raise wire.PointError("line", f"has {len(cells)} cells but the header has {len(header)} columns")
            return encode({key: value for key, value in zip(header, cells, strict=False) if value != ""})

        return row

    # ---- sending ---------------------------------------------------------------------------------
    def _submit(self, batch: _Batch) -> None:
        assert self._pool is not None
        while self._inflight and (len(self._inflight) >= self.options.max_in_flight or self._inflight[0][2].done()):
            self._settle(*self._inflight.popleft())
        sent = _Sent()
        self._inflight.append((batch, sent, self._pool.submit(self._send, batch, sent)))

    def _drain(self, quiet: bool = False) -> None:
        """Settle every batch in flight, in order.

        ``quiet`` (after an error): batches that landed before the first failed one are still
        acknowledged and checkpointed; batches that landed after it are not (the next try sends them
        again) and count as possible duplicates, saved with the checkpoint.
        """
        while self._inflight:
            batch, sent, future = self._inflight.popleft()
            if not quiet:
                self._settle(batch, sent, future)
                continue
            try:
                self._settle(batch, sent, future)
            except BaseException as exc:
                self.log.debug("batch of %s failed while stopping: %s", batch.source, exc)
        if quiet and self._broken and self._last_state is not None and self.checkpoints is not None:
            self._last_state["possible_duplicates"] = self.possible_duplicates
            self._last_state["retries"] = self.retries
            self.checkpoints.save(self._last_state)

    def _settle(self, batch: _Batch, sent: _Sent, future: Future[None]) -> None:
        try:
            future.result()
            if self._broken:  # landed after a failed batch: beyond the checkpoint, so sent again next try
                self.retries += sent.retries
                self.possible_duplicates += sent.points + sent.possible_duplicates
                self.log.warning(
                    "batch of %s lines %d-%d landed after an earlier batch failed; the next try sends its %d "
                    "points again",
                    batch.source,
                    batch.first_line,
                    batch.end_line,
                    sent.points,
                )
                return
            for bad in sent.rejected:
                self._bad(bad)  # "fail" raises here, before this batch's end is checkpointed
        except BaseException:
            self._broken = True
            self.retries += sent.retries
            # what landed of this batch (good points around a refused one, copies stored before an
            # error answer) is sent again by the next try
            self.possible_duplicates += sent.points + sent.possible_duplicates
            raise
        self.retries += sent.retries
        self.points += sent.points
        self.bytes += sent.bytes
        self.batches += sent.requests
        self.possible_duplicates += sent.possible_duplicates
        if sent.possible_duplicates:
            self.log.warning(
                "batch of %s lines %d-%d failed after the server may have stored it and was sent again: "
                "%d points may be stored twice",
                batch.source,
                batch.first_line,
                batch.end_line,
                sent.possible_duplicates,
            )
        self._save(batch)
        if self.on_ack is not None:
            self.on_ack(self.result())
        self._maybe_log(batch.source)

    def _maybe_log(self, source: str) -> None:
        now = time.monotonic()
        if now - self._last_log < self.options.progress_every:
            return
        self._last_log = now
        elapsed = max(now - self._started, 1e-9)
        self.log.info(
            "progress: %d points, %.1f MiB, %.0f points/s, %.1f MiB/s, %d bad lines, %d retries (reading %s)",
            self.points,
            self.bytes / 1048576,
            self.points / elapsed,
            self.bytes / 1048576 / elapsed,
            self.bad_lines,
            self.retries,
            source,
        )

    def _send(self, batch: _Batch, sent: _Sent) -> None:
        """Worker thread: post the batch with retries; bisect it when its content is refused."""
        try:
            self._post(batch.body, batch.points, sent)
        except PandoraApiError as err:
            if err.code not in CONTENT_CODES:
                raise
            lines, nos = batch.lines()
            self._bisect(batch.source, lines, nos, err, sent)

    def _bisect(self, source: str, lines: list[bytes], nos: list[int], err: PandoraApiError, sent: _Sent) -> None:
        if len(lines) == 1:
            reason = f"refused by the server: {err.message}"
            sent.rejected.append(BadLine(source, nos[0], reason, _field_of(err.message), lines[0]))
            return
        mid = len(lines) // 2
        for part, part_nos in ((lines[:mid], nos[:mid]), (lines[mid:], nos[mid:])):
            try:
                self._post(wire.body_of(part), len(part), sent)
            except PandoraApiError as sub:
                if sub.code not in CONTENT_CODES:
                    raise
                self._bisect(source, part, part_nos, sub, sent)

    def _post(self, body: bytes, points: int, sent: _Sent) -> None:
        """One body, retried with the hook's back-off on what :meth:`PandoraHook.is_retryable` accepts.

        Every failed attempt that the server may have stored anyway (5xx, timeout, dropped
        connection) adds the body's points to ``possible_duplicates``.
        """
        hook = self.hook
        ambiguous = 0

        def note(state: tenacity.RetryCallState) -> None:
            nonlocal ambiguous
            exc = state.outcome.exception() if state.outcome else None
            sent.retries += 1
            ambiguous += _maybe_committed(exc)
            self.log.warning(
                "push of %d points failed (%s); retrying, attempt %d", points, exc, state.attempt_number + 1
            )

        config = hook.config
        attempts = self.options.attempts or max(DEFAULT_ATTEMPTS, config.retry_limit)
        kwargs = hook._retry_kwargs(config, attempts)
        kwargs["before_sleep"] = note
        try:
            tenacity.Retrying(**kwargs)(hook.push_batch, self.options.repo, body, gzip=self.options.gzip, retry=False)
        except BaseException as exc:
            ambiguous += _maybe_committed(exc)
            raise
        finally:
            sent.possible_duplicates += points * ambiguous
        sent.points += points
        sent.bytes += len(body)
        sent.requests += 1


def _check_pandora_line(raw: bytes, line_no: int) -> bytes:
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


__all__ = [
    "BAD_LINE_POLICIES",
    "FORMATS",
    "BadLine",
    "BadLineError",
    "CheckpointStore",
    "MemoryCheckpoints",
    "Source",
    "Transfer",
    "TransferError",
    "TransferOptions",
    "read_blocks",
]
