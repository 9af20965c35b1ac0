"""The orchestrating transfer: read lines, encode, batch, send, checkpoint (the stages are modules).

* :mod:`._reading`: sources as byte streams, cut into blocks of whole lines (``\\r\\n`` accepted,
  overlong lines discarded while streaming);
* :mod:`._encoding`: lines to wire lines (in this process or in ``encode_processes`` workers) and
  the one :class:`~._encoding.Batcher`;
* :mod:`._delivery`: posting with retries and bisection;
* :mod:`._checkpoints`: where the position is saved.

Why the flow is shaped this way:

* **Overlap.** Up to ``max_in_flight`` batches are posted (and gzipped) on worker threads while the
  main thread reads and encodes the next ones; results are settled in order on the main thread,
  which is the only one that checkpoints, logs and writes the dead-letter file.
* **At least once, resumable.** A batch is retried on transient failures and bisected when the
  server refuses its content. After every acknowledged batch the position (source, byte offset,
  line) is saved, so a retried task starts after the last acknowledged batch. A batch that failed
  after the server may have stored it (5xx, timeout, dropped connection) and then succeeded may be
  stored twice: its points are counted in ``possible_duplicates`` and logged. So are points the next
  try sends again because they landed beyond the checkpoint (a batch that landed after an earlier
  one failed, the good points of a batch whose bad point failed the task); the count travels with
  the checkpoint. Bad lines past the checkpoint are met again by the next try (counted,
  dead-lettered again). A try that dies without settling (SIGKILL, a lost worker) may have posted batches past
  its checkpoint: every try saves, before it posts a batch and before it sends a body again after an ambiguous
  attempt, which points of which source are in flight (:class:`~._checkpoints.InFlight`), so the next try counts
  every copy of the points it sends again (tries killed one after another each add theirs).
* **Sources that change between tries.** The checkpoint keeps every source with its identity
  (:func:`~._checkpoints.plan_resume`): only a done, unchanged source is skipped and a byte offset is
  resumed only in the version it was taken in; a new source is read whole, and a changed one from its start
  with the points delivered from its earlier version counted as possible duplicates.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import IO, Any, Protocol

import requests

from airflow_provider_pandora import wire
from airflow_provider_pandora.exceptions import BadLine, BadLineError, TransferError
from airflow_provider_pandora.lineage import record_transfer
from airflow_provider_pandora.schema import check_choice
from airflow_provider_pandora.transfers._batch import Batch
from airflow_provider_pandora.transfers._checkpoints import (
    CHECKPOINT_VERSION,
    SOURCE_CHANGE_POLICIES,
    CheckpointStore,
    Entry,
    InFlight,
    Plan,
    Start,
    Totals,
    identity_key,
    plan_resume,
)
from airflow_provider_pandora.transfers._delivery import PushHook, Sender, Sent
from airflow_provider_pandora.transfers._encoding import (
    Batcher,
    Converter,
    CsvRows,
    _worker_batches,
    check_pandora_line,
    encode_lines,
    jsonl_converter,
    passes_through,
    process_pool,
)
from airflow_provider_pandora.transfers._fastencode import FastPointEncoder
from airflow_provider_pandora.transfers._reading import (
    PROCESS_BLOCK,
    READ_CHUNK,
    Source,
    _Block,
    _TooLong,
    open_source,
    read_blocks,
)

FORMATS = ("jsonl", "csv", "pandora")
BAD_LINE_POLICIES = ("fail", "skip", "dead_letter")
DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024
"""Longer lines are bad lines, discarded while streaming (a point must stay below 2 MiB anyway)."""
DEFAULT_MAX_IN_FLIGHT = 3
MAX_IN_FLIGHT_LIMIT = 16
"""The hook's connection pool holds 16 connections."""
PROGRESS_EVERY = 5.0
LOGGED_BAD_LINES = 10
"""The first bad lines are logged one by one; the rest only counted (and dead-lettered)."""

log = logging.getLogger(__name__)


class TransferHook(PushHook, Protocol):
    """What the transfer needs of :class:`~airflow_provider_pandora.hooks.pandora.PandoraHook`."""

    def encoder_for(
        self, repo: str, fields: Sequence[Any] | None = None, field_map: Mapping[str, str | None] | None = None
    ) -> wire.PointEncoder: ...

    def get_conn(self) -> requests.Session: ...


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
    on_source_change: str = "reread"
    """A source changed since an earlier try delivered from it: ``reread`` it from its start (counting what
    may be stored twice) or ``fail``."""

    def validate(self) -> None:
        check_choice(self.format, FORMATS, "format", error=TransferError)
        check_choice(self.on_bad_line, BAD_LINE_POLICIES, "on_bad_line", error=TransferError)
        check_choice(self.on_source_change, SOURCE_CHANGE_POLICIES, "on_source_change", error=TransferError)
        if self.on_bad_line == "dead_letter" and not self.dead_letter_path:
            raise TransferError("dead_letter_path", "is required when on_bad_line='dead_letter'")
        if self.on_bad_line == "dead_letter":
            check_dead_letter_path(str(self.dead_letter_path))  # before anything is sent, not at the first bad line
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


def check_dead_letter_path(path: str) -> None:
    """Create ``dead_letter_path``'s folder, or refuse a path no bad line could be appended to (a folder, a file
    under a file, no permission)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as err:
            raise TransferError(
                "dead_letter_path", f"{path!r}: its folder {folder!r} cannot be created: {err.strerror or err}"
            ) from None
    if os.path.isdir(path):
        raise TransferError("dead_letter_path", f"{path!r} is a folder; it must name the file bad lines go to")
    if not os.access(path if os.path.exists(path) else folder, os.W_OK):
        raise TransferError("dead_letter_path", f"{path!r} cannot be written (permission denied)")
    # open it for append as _bad will (a symlink by what it points to); a file created here is removed again
    existed = os.path.exists(path)
    try:
        open(path, "a", encoding="utf-8").close()
        if not existed:
            os.remove(os.path.realpath(path))
    except OSError as err:
        target = f" (a symlink to {os.path.realpath(path)!r})" if os.path.islink(path) else ""
        raise TransferError(
            "dead_letter_path", f"{path!r}{target} cannot be opened for append: {err.strerror or err}"
        ) from None


class Transfer:
    """Stream ``sources`` into ``options.repo`` through ``hook``; see the module docstring.

    :param hook: a :class:`~airflow_provider_pandora.hooks.pandora.PandoraHook` (its session, signing,
        retry predicate and back-off are used; :class:`TransferHook` names what is called).
    :param checkpoints: where progress is saved after each acknowledged batch (``None``: nowhere).
    :param sources_spec: a description of the inputs (path, bucket/prefix) for the checkpoint fingerprint.
    :param on_ack: called on the main thread after each settled batch with the running result (tests).
    """

    def __init__(
        self,
        hook: TransferHook,
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
        self.totals = Totals()
        """Running totals, carried over from a checkpoint."""
        self.sources_done = 0
        self._starts: list[Start] = []
        # per source of this try: name, identity digest, points acknowledged, done (saved with each checkpoint)
        self._ledger: list[Entry] = []
        self._read_whole: set[int] = set()  # sources this try read to their end
        self._current = 0
        self.decoded: Counter[str] = Counter()
        """``jsonl``: lines of this run each JSON decoder decoded, ``{"msgspec": n, "stdlib": m}``, counted by
        the reader once per block (in this process, or in the encoding processes and returned with their
        batches); a line ``msgspec`` refused counts for ``stdlib``, which decided it. Not part of
        :meth:`result` (the operators' return value) and not carried over from a checkpoint."""
        self._started = 0.0
        self._last_log = 0.0
        self._inflight: deque[tuple[Batch, Sent, Future[None]]] = deque()
        self._last_state: dict[str, Any] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._broken = False
        # what was posted past the checkpoint and never settled, by this try and killed earlier ones
        self._inflight_points = InFlight()
        # Checkpoints are saved by the main thread (before a batch is posted, after one settles) and by a worker
        # thread (before a body is sent again after an ambiguous attempt); the lock keeps the position and what is
        # in flight past it one consistent picture, and the store's calls one at a time.
        self._lock = threading.Lock()
        self._sender = Sender(hook, options.repo, gzip=options.gzip, attempts=options.attempts, log=self.log)
        # the batch being built (encoded formats, in this process)
        self._batcher = Batcher(options.max_batch_bytes)
        self._csv = CsvRows(options.csv_delimiter)  # its header travels with the checkpoint
        self._max_line = options.max_line_bytes
        self._fast: FastPointEncoder | None = None
        self._procs: ProcessPoolExecutor | None = None  # with encode_processes
        self._pending: deque[Future[tuple[list[Batch], list[BadLine], dict[str, int]]]] = deque()

    # ---- public ------------------------------------------------------------------------------
    def run(self, sources: Sequence[Source]) -> dict[str, Any]:
        """Deliver every source; returns :meth:`result` (totals, carried over from a checkpoint)."""
        opts = self.options
        self._started = self._last_log = time.monotonic()
        self._resume(sources)
        if opts.format != "pandora":
            self.encoder = self.hook.encoder_for(opts.repo, opts.schema, opts.field_map)
        self._convert = self._converter()
        self.hook.get_conn()  # build the shared session (and read the connection) before the threads start
        if opts.encode_processes and opts.format == "jsonl":
            assert self.encoder is not None
            self._procs = process_pool(opts.encode_processes, self.encoder.schema, self.encoder.field_map)
        self._pool = ThreadPoolExecutor(max_workers=opts.max_in_flight, thread_name_prefix="pandora-push")
        try:
            for index, (source, start) in enumerate(zip(sources, self._starts, strict=True)):
                if not start.skip:
                    self._current = index
                    self._csv.header = start.header
                    self._read_source(index, source, start.offset, start.line)
                    self._read_whole.add(index)  # done once its last batch settles
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
        record_transfer(self.hook, opts.repo, [source.name for source in sources])  # hook-level lineage
        if self.checkpoints is not None:
            self._finish(self.checkpoints)
        self.log.info("transfer into repo %r done: %s in %.1f s", opts.repo, self._progress(), result["seconds"])
        if self.decoded:
            decoded = ", ".join(f"{lines} by {name}" for name, lines in sorted(self.decoded.items()))
            self.log.info("JSON lines decoded: %s", decoded)
        if self.totals.possible_duplicates:
            self.log.warning(
                "%d points were sent again after the server may have stored them (a batch that failed late, a "
                "try that stopped, a source that changed); they may be stored twice (delivery is at least once)",
                self.totals.possible_duplicates,
            )
        return result

    def result(self) -> dict[str, Any]:
        """The totals over every try, with this try's ``seconds`` and the ``sources`` read."""
        return {
            **self.totals.as_dict(),
            "seconds": round(time.monotonic() - self._started, 3),
            "sources": self.sources_done,
        }

    def _progress(self) -> str:
        t = self.totals
        return (
            f"{t.points} points, {t.bytes / 1048576:.1f} MiB in {t.batches} batches, {t.bad_lines} bad lines, "
            f"{t.retries} retries, {t.possible_duplicates} possible duplicates"
        )

    # ---- checkpoints -------------------------------------------------------------------------
    def _resume(self, sources: Sequence[Source]) -> None:
        plan = (
            plan_resume(
                self.checkpoints.load(),
                sources,
                fingerprint=self.fingerprint,
                on_source_change=self.options.on_source_change,
            )
            if self.checkpoints is not None
            else Plan([Start() for _ in sources])
        )
        for warning in plan.warnings:
            self.log.warning(warning)
        self.totals = plan.totals
        self._starts = plan.starts
        self._inflight_points = plan.inflight
        self._ledger = [
            Entry(source.name, identity_key(source.identity), start.delivered, start.skip)
            for source, start in zip(sources, plan.starts, strict=True)
        ]
        first = next((index for index, start in enumerate(plan.starts) if not start.skip), len(sources))
        self.sources_done = first
        if plan.resumed:
            skipped = sum(start.skip for start in plan.starts)
            where = (
                f"source {sources[first].name} at byte {plan.starts[first].offset} (line {plan.starts[first].line})"
                if first < len(sources)
                else "the end"
            )
            self.log.info(
                "resuming from the checkpoint: %d source(s) done and unchanged, continuing with %s; %d points "
                "already delivered",
                skipped,
                where,
                self.totals.points,
            )
        if self.checkpoints is not None and first < len(sources):
            start = plan.starts[first]
            self._current = first
            self._last_state = self._state(first, start.offset, start.line, start.header)
            # saved before anything is sent: a try killed before its first answer leaves its own copies counted
            self.checkpoints.save(self._last_state)

    def _finish(self, checkpoints: CheckpointStore) -> None:
        """Clear the checkpoint, or, in a store that outlives the task (Airflow 3.3's task state store), mark it
        finished: a worker lost after this returns but before Airflow records the success is retried, and that
        try then counts what this one delivered (see :func:`~._checkpoints.plan_resume`)."""
        if not getattr(checkpoints, "keeps_finished", False):
            checkpoints.clear()
            return
        checkpoints.save(
            {
                "version": CHECKPOINT_VERSION,
                "fingerprint": self.fingerprint,
                "finished": True,
                "sources": self._entries(len(self._ledger), finished=True),
                "current": len(self._ledger),
                "totals": self.totals.as_dict(),
                "inflight": [],
            }
        )

    def _save(self, index: int, offset: int, line: int, header: list[str] | None, *, write: bool = True) -> None:
        """Save the position (the end of the last settled batch) with what is in flight past it (under the lock).

        ``write=False``: only remember it; :meth:`_submit` writes it with the batch it is about to post (one save
        per batch, not two)."""
        if self.checkpoints is None:
            return
        self._last_state = self._state(index, offset, line, header)
        if write:
            self.checkpoints.save(self._last_state)

    def _before_resend(self, batch: Batch, points: int) -> None:
        """On a worker thread: a body of ``batch`` may be stored already and is about to be sent again. Save that
        in the checkpoint first, so a try killed before ``batch`` settles leaves this copy counted."""
        with self._lock:
            self._inflight_points.repost(id(batch), points)
            self._resave()

    def _resave(self, **changed: Any) -> None:
        """Save the last position again with what is in flight past it now (and ``changed``); under the lock."""
        if self.checkpoints is None or self._last_state is None:
            return
        inflight = self._inflight_points.entries(int(self._last_state["current"]))
        self._last_state = {**self._last_state, **changed, "inflight": inflight}
        self.checkpoints.save(self._last_state)

    def _entries(self, index: int, *, finished: bool = False) -> list[list[Any]]:
        """The checkpoint's sources: those before the position ``index`` are done, and each keeps what its
        re-reading still has to count from its earlier versions."""
        pools = self._inflight_points.pools
        return [
            Entry(
                entry.name, entry.key, entry.delivered, finished or self._done(i, entry, index), pools.get(i, 0)
            ).as_list()
            for i, entry in enumerate(self._ledger)
        ]

    def _done(self, i: int, entry: Entry, index: int) -> bool:
        """Every batch of source ``i`` acknowledged: done before (kept whatever the next position is), before the
        position, or read to its end by this try with nothing of it in flight."""
        return entry.done or i < index or (i in self._read_whole and not self._inflight_points.posting(i))

    def _state(self, index: int, offset: int, line: int, header: list[str] | None) -> dict[str, Any]:
        """The checkpoint: every source of this try (done before ``index``), the position in ``index``, totals."""
        return {
            "version": CHECKPOINT_VERSION,
            "fingerprint": self.fingerprint,
            "sources": self._entries(index),
            "current": index,
            "source": self._ledger[index].name,
            "offset": offset,
            "line": line,
            "header": header,
            "totals": self.totals.as_dict(),
            # the points past this position that may be stored if this try dies now: this try's unsettled
            # batches (saved before each is posted) and what killed earlier tries posted that it has not re-sent
            "inflight": self._inflight_points.entries(index),
        }

    # ---- bad lines -----------------------------------------------------------------------------
    def _bad(self, bad: BadLine) -> None:
        """Apply ``on_bad_line``; ``fail`` raises (callers settle what came before first)."""
        policy = self.options.on_bad_line
        if policy == "fail":
            raise BadLineError(bad)
        self.totals.bad_lines += 1
        if policy == "dead_letter":
            path = str(self.options.dead_letter_path)
            try:
                if self._dead_letter is None:
                    self._dead_letter = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in run()
                self._dead_letter.write(bad.to_json() + "\n")
                self._dead_letter.flush()
            except OSError as err:  # ENOSPC, EIO, ...: say which parameter, not a bare OSError
                dead, self._dead_letter = self._dead_letter, None
                try:
                    if dead is not None:
                        dead.close()  # retries the failed flush, which fails again
                except OSError:
                    pass
                raise TransferError(
                    "dead_letter_path", f"{path!r}: a bad line could not be written: {err.strerror or err}"
                ) from err
        if self.totals.bad_lines <= LOGGED_BAD_LINES:
            self.log.warning(
                "bad line (%s): %s%s",
                policy,
                bad.describe(),
                "; later ones are only counted" if self.totals.bad_lines == LOGGED_BAD_LINES else "",
            )

    def _fail_before(self, bad: BadLine) -> None:
        """``fail``: deliver everything before the bad line, checkpoint at it, then raise."""
        self._flush(bad.offset, bad.line - 1)
        self._drain()
        raise BadLineError(bad)

    # ---- reading and encoding --------------------------------------------------------------------
    def _read_source(self, index: int, source: Source, offset: int, line: int) -> None:
        opts = self.options
        passthrough = opts.format == "pandora"
        budget = opts.max_batch_bytes - 2  # a block plus a final "\n" stays below max_batch_bytes
        max_line = min(opts.max_line_bytes, budget) if passthrough else opts.max_line_bytes
        self.log.info("reading %s%s", source.name, f" from byte {offset} (line {line})" if offset else "")
        stream, raw = open_source(source, offset)
        self._batcher = Batcher(opts.max_batch_bytes, index, source.name)
        end_offset, end_line = offset, line
        try:
            for block in read_blocks(
                stream,
                offset,
                line,
                max_line=max_line,
                block_bytes=budget if passthrough else None,
                chunk=PROCESS_BLOCK if self._procs is not None else READ_CHUNK,
                csv_delimiter=opts.csv_delimiter if opts.format == "csv" else None,
            ):
                if isinstance(block, _TooLong):
                    self._apply_pending(0)
                    limit = f"max_line_bytes={max_line}" + (
                        ", and a point must stay below 2 MiB" if passthrough else ""
                    )
                    bad = BadLine(source.name, block.line, f"is longer than {limit}{block.note}", offset=block.offset)
                    if opts.on_bad_line == "fail":
                        self._fail_before(bad)
                    self._bad(bad)
                    end_offset, end_line = block.end, block.end_line
                    continue
                if passthrough and passes_through(block.data):
                    self._flush(block.offset, block.line)
                    ends = block.data.endswith(b"\n")
                    body = block.data if ends else block.data + b"\n"  # no copy but of a last line
                    count = block.count + (0 if ends else 1)
                    self._submit(
                        Batch(
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
                    args = (block.data, block.offset, block.line, self._max_line, stop, opts.max_batch_bytes)
                    self._pending.append(self._procs.submit(_worker_batches, *args, index, source.name))
                    self._apply_pending(2 * opts.encode_processes)
                else:
                    self._lines(source, block)
                end_offset, end_line = block.end, block.end_line
                self._maybe_log(source.name)
            self._apply_pending(0)
        finally:
            for future in self._pending:
                future.cancel()
            self._pending.clear()
            stream.close()
            raw.close()
        self._flush(end_offset, end_line)

    def _apply_pending(self, limit: int) -> None:
        """Send what the encoding processes returned, in source order, keeping ``limit`` blocks queued."""
        while len(self._pending) > limit or (self._pending and self._pending[0].done()):
            batches, bad, decoded = self._pending.popleft().result()
            self.decoded.update(decoded)
            for batch in batches:
                self._submit(batch)
            self._apply_bad(bad)

    def _lines(self, source: Source, block: _Block) -> None:
        """The per-line path in this process: decode, convert and encode each line, then batch."""
        stop = self.options.on_bad_line == "fail"
        encoded = encode_lines(
            self._convert, block.data, block.offset, block.line, self._max_line, stop, self._fast, source.name
        )
        self.decoded.update(encoded.decoded)
        batches, bad = self._batcher.add(encoded, stop)
        for batch in batches:
            self._submit(batch)
        self._apply_bad(bad)

    def _apply_bad(self, bad: list[BadLine]) -> None:
        for found in bad:
            if self.options.on_bad_line == "fail":
                self._fail_before(found)
            self._bad(found)

    def _flush(self, end_offset: int, end_line: int) -> None:
        batch = self._batcher.take(end_offset, end_line)
        if batch is not None:
            self._submit(batch)

    def _converter(self) -> Converter:
        fmt = self.options.format
        if fmt == "pandora":
            return check_pandora_line
        encoder = self.encoder
        assert encoder is not None
        if fmt == "jsonl":
            self._fast = FastPointEncoder(encoder)  # same bytes as encoder.encode, faster
            return jsonl_converter(self._fast)
        self._csv.encode = encoder.encode
        return self._csv

    # ---- sending ---------------------------------------------------------------------------------
    def _submit(self, batch: Batch) -> None:
        assert self._pool is not None
        batch.header = self._csv.header  # the checkpoint after this batch needs it
        while self._inflight and (len(self._inflight) >= self.options.max_in_flight or self._inflight[0][2].done()):
            self._settle(*self._inflight.popleft(), write=False)  # written below, with the batch posted next
        sent = Sent(before_resend=partial(self._before_resend, batch))
        with self._lock:
            self._inflight_points.post(batch.source_index, id(batch), batch.points)
            self._resave()  # before it is posted: a try killed from now on leaves this batch's copy counted
        self._inflight.append((batch, sent, self._pool.submit(self._sender.send, batch, sent)))

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
        if quiet and self._last_state is not None and self.checkpoints is not None:
            # nothing of this try is in flight any more (what it sent past the checkpoint is in the totals): the
            # next try suspects only what a killed earlier try may have posted and this one has not re-sent
            with self._lock:
                self._inflight_points.forget_own()
                self._resave(totals=self.totals.as_dict())

    def _settle(self, batch: Batch, sent: Sent, future: Future[None], *, write: bool = True) -> None:
        try:
            future.result()
            if self._broken:  # landed after a failed batch: beyond the checkpoint, so sent again next try
                self.totals.retries += sent.retries
                self.totals.possible_duplicates += sent.points + sent.possible_duplicates
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
            self.totals.retries += sent.retries
            # what landed of this batch (good points around a refused one, copies stored before an
            # error answer) is sent again by the next try
            self.totals.possible_duplicates += sent.points + sent.possible_duplicates
            raise
        totals = self.totals
        with self._lock:
            totals.retries += sent.retries
            totals.points += sent.points
            totals.bytes += sent.bytes
            totals.batches += sent.requests
            totals.possible_duplicates += sent.possible_duplicates
            self._ledger[batch.source_index].delivered += sent.points
            earlier = self._inflight_points.settle(batch.source_index, id(batch), batch.points)
            totals.possible_duplicates += earlier
            self._save(batch.source_index, batch.end_offset, batch.end_line, batch.header, write=write)
        if earlier:
            self.log.warning(
                "batch of %s lines %d-%d: %d copies of its points may be stored already by earlier tries (a try "
                "that stopped before it settled, or the source's earlier version)",
                batch.source,
                batch.first_line,
                batch.end_line,
                earlier,
            )
        if sent.possible_duplicates:
            self.log.warning(
                "batch of %s lines %d-%d failed after the server may have stored it and was sent again: "
                "%d points may be stored twice",
                batch.source,
                batch.first_line,
                batch.end_line,
                sent.possible_duplicates,
            )
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
            "progress: %s; %.0f points/s, %.1f MiB/s (reading %s)",
            self._progress(),
            self.totals.points / elapsed,
            self.totals.bytes / 1048576 / elapsed,
            source,
        )


__all__ = ["BAD_LINE_POLICIES", "FORMATS", "Transfer", "TransferHook", "TransferOptions"]
