"""The model, the world and the oracle of the stateful transfer suite (``test_stateful_transfers.py``, and
``benchmarks/bench_stateful.py`` for longer runs).

**The world** (:class:`World`): one emulator, one :class:`~tests.faultproxy.FaultProxy` in front of it, one moto S3
bucket standing in for Kodo, and a ``forkserver`` whose server process has Airflow and the transfer operators
imported already: each *try* of a transfer runs in a fresh process forked from it, so it can be SIGKILLed.

**A try** runs ``LocalFilesystemToPandoraOperator`` or ``KodoToPandoraOperator`` (subclassed only to make batches
small) through ``execute(context)`` with a ``task_state_store`` backed by a file, so the checkpoint outlives a
killed process, as Airflow 3.3's task state store does. The operator talks to the emulator through the proxy,
which applies the try's wire faults (keyed by the id of a point in the batch, so they hit the same batch whatever
order concurrent batches arrive in) and records every exchange. A try may also be killed: at its n-th checkpoint
save (before or after it is written) or while the proxy holds a given batch (before it is forwarded, or after the
emulator stored it).

**The model** (:class:`TransferMachine`, a hypothesis ``RuleBasedStateMachine``): a few ``jsonl`` or ``csv``
sources, local files or Kodo objects, each point carrying a unique ``id``; between tries they are appended to,
rewritten, truncated, deleted, or a new file is added before, between or after the others. Tries repeat until
one succeeds (one task instance, one fresh repo); then a new task instance starts over the same sources, in a
fresh repo. At the end of an example one more try runs with no faults and no kill.

**The oracle** (:func:`check_instance`), after every try:

* nothing corrupted: every stored row equals a row that some version of some source held;
and after every task instance that succeeded:
* nothing lost: every point of the sources as that last try saw them is stored;
* no phantom bad lines: the sources have none, so ``bad_lines`` must be 0;
* duplicates counted: the copies stored more than once (over all ids) are at most ``possible_duplicates``;
* no over-counting: ``possible_duplicates`` is at most what really was in flight when faults hit, from the
  proxy's records (:func:`in_flight_bound`);
and at the end of an example: a clean try (no faults, no kill, no changes) succeeds.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import gzip
import io
import itertools
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from airflow_provider_pandora.transfers.kodo_to_pandora import KodoToPandoraOperator
from airflow_provider_pandora.transfers.local_to_pandora import LocalFilesystemToPandoraOperator
from tests.faultproxy import BodySchedule, Exchange, Fault, FaultProxy

FIELDS = ("id", "a", "b", "c")
SCHEMA: list[dict[str, Any]] = [
    {"key": "id", "valtype": "string", "required": True},
    {"key": "a", "valtype": "string"},
    {"key": "b", "valtype": "string"},
    {"key": "c", "valtype": "string"},
]
TIMEOUT = 0.4
"""The connection's ``timeout`` during faulty tries (seconds): a trickled answer lasts well beyond it."""
TRICKLE_S = 0.005
"""Seconds between the bytes of a trickled answer (~1 s for the emulator's ~200-byte answer)."""
CLEAN_EXTRA: dict[str, Any] = {"timeout": 10, "retry_limit": 10, "retry_delay": 0.01}
"""The connection of the last, clean try: no faults, so a generous timeout and retries (a busy machine)."""
FAULTY_EXTRA: dict[str, Any] = {"timeout": TIMEOUT, "retry_delay": 0.01}
TRY_TIMEOUT = 120.0
"""A try that has not ended after this long is killed and reported as hung."""
KIND_FAULTS: dict[str, Fault] = {
    "drop_before_body": Fault("drop_before_body"),
    "drop_after_body": Fault("drop_after_body"),
    "cut_answer": Fault("cut_answer"),
    "trickle": Fault("trickle", trickle_s=TRICKLE_S),
    "status_503": Fault("status", status=503),
    "status_500": Fault("status", status=500),
    "status_429": Fault("status", status=429),
    "refuse": Fault("refuse", refuse_s=0.1),
}
KILL_FAULTS: dict[str, Fault] = {
    "request_before": Fault(kill="before_forward"),
    "request_after": Fault(kill="after_forward"),
}


# ---- the checkpoint store of a try: a file, so it outlives a killed process ----------------------------------
class FileStateStore:
    """Stands in for Airflow 3.3's ``task_state_store`` (one task instance), kept in a JSON file written atomically.

    ``kill_at``/``kill_when``: SIGKILL this process at the ``kill_at``-th ``set`` (checkpoint save), ``before``
    or ``after`` the value is written: a worker killed between batches.
    """

    def __init__(self, path: str | Path, *, kill_at: int | None = None, kill_when: str = "before") -> None:
        self.path = Path(path)
        self.kill_at = kill_at
        self.kill_when = kill_when
        self.sets = 0

    def _read(self) -> dict[str, Any]:
        try:
            value = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def _write(self, values: Mapping[str, Any]) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(values))
        os.replace(temporary, self.path)

    def get(self, key: str, default: Any = None) -> Any:
        return self._read().get(key, default)

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.sets += 1
        killing = self.kill_at is not None and self.sets == self.kill_at
        if killing and self.kill_when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        values = self._read()
        values[key] = json.loads(json.dumps(value))
        self._write(values)
        if killing:
            os.kill(os.getpid(), signal.SIGKILL)

    def delete(self, key: str) -> None:
        values = self._read()
        values.pop(key, None)
        self._write(values)


# ---- the operators, with small batches -------------------------------------------------------------------------
class SmallBatchLocal(LocalFilesystemToPandoraOperator):
    """The public operator with ``max_batch_bytes`` lowered (a test-only option of the engine), so a few tens of
    points make several batches."""

    def __init__(self, *, max_batch_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_batch_bytes = max_batch_bytes

    def transfer_options(self) -> Any:
        return dataclasses.replace(super().transfer_options(), max_batch_bytes=self.max_batch_bytes)


class SmallBatchKodo(KodoToPandoraOperator):
    """:class:`SmallBatchLocal` for Kodo objects."""

    def __init__(self, *, max_batch_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_batch_bytes = max_batch_bytes

    def transfer_options(self) -> Any:
        return dataclasses.replace(super().transfer_options(), max_batch_bytes=self.max_batch_bytes)


def _airflow2_thread_guard() -> None:
    """Airflow 2's ExecutorSafeguard keeps a thread-local set up on the importing thread only."""
    try:
        from airflow.models.baseoperator import ExecutorSafeguard
    except ImportError:  # Airflow 3
        return
    sentinel = ExecutorSafeguard._sentinel
    if not hasattr(sentinel, "callers"):
        sentinel.callers = {}


def child_try(spec: dict[str, Any]) -> None:
    """One try, in a process forked from the forkserver: run the operator, write the outcome to ``spec["result"]``."""
    log = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ["AIRFLOW_CONN_PANDORA_DEFAULT"] = spec["pandora_conn"]
    if spec.get("kodo_conn"):
        os.environ["AIRFLOW_CONN_KODO_DEFAULT"] = spec["kodo_conn"]
    outcome: dict[str, Any]
    try:
        _airflow2_thread_guard()
        store = FileStateStore(spec["store"], kill_at=spec.get("kill_at"), kill_when=spec.get("kill_when", "before"))
        common = {
            "task_id": "load",
            "repo": spec["repo"],
            "format": spec["format"],
            "schema": SCHEMA,
            "max_in_flight": spec["max_in_flight"],
            "on_bad_line": spec["on_bad_line"],
            "gzip": spec["gzip"],
            "max_batch_bytes": spec["max_batch_bytes"],
        }
        operator: Any
        if spec["backend"] == "kodo":
            operator = SmallBatchKodo(bucket=spec["bucket"], prefix=spec["prefix"], **common)
        else:
            operator = SmallBatchLocal(source_path=spec["source_path"], **common)
        result = operator.execute({"task_state_store": store})
        outcome = {"status": "ok", "result": result}
    except BaseException as exc:  # the outcome of the try, whatever it is
        outcome = {"status": "error", "type": type(exc).__name__, "message": str(exc)[:3000]}
    Path(spec["result"]).write_text(json.dumps(outcome, default=str))
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


# ---- the world: emulator, proxy, Kodo, forkserver ------------------------------------------------------------
@dataclass
class Kodo:
    """A moto S3 server's endpoint and keys, and the bucket the examples use (one prefix each)."""

    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str
    region: str = "cn-east-1"
    client: Any = None

    def connection_json(self) -> str:
        return json.dumps(
            {
                "conn_type": "kodo",
                "host": self.endpoint_url,
                "login": self.access_key,
                "password": self.secret_key,
                "extra": {"region": self.region},
            }
        )


@dataclass
class TryRun:
    """What one try did, as the parent saw it."""

    tag: str
    status: str
    """``ok``, ``error``, ``killed`` or ``hung``."""
    result: dict[str, Any] | None
    error: str | None
    records: list[Exchange]
    seconds: float
    log: str


class World:
    """Everything the examples share: the emulator, the proxy in front of it, Kodo, the forkserver."""

    def __init__(self, emulator: Any, kodo: Kodo | None, workdir: Path) -> None:
        self.emulator = emulator
        self.kodo = kodo
        self.workdir = workdir
        host, port = emulator.url.split("://", 1)[1].rsplit(":", 1)
        self.proxy = FaultProxy((host, int(port)), on_kill=self._kill)
        self._pid: int | None = None
        self._pid_ready = threading.Event()
        self._kills = 0
        self.context = multiprocessing.get_context("forkserver")
        self.examples = itertools.count(1)
        self.stats = Stats()
        self.log: list[dict[str, Any]] | None = None
        """Each example's steps and violations, when a caller wants them (the benchmark)."""

    def start(self) -> World:
        self.proxy.start()
        # the forkserver imports Airflow and the operators once; every try forks from it
        self.context.set_forkserver_preload(["tests.transfers.stateful_preload"])
        os.environ["AIRFLOW_CONN_PANDORA_STATEFUL_DIRECT"] = self.emulator.connection_json()
        return self

    def stop(self) -> None:
        self.proxy.stop()

    # ---- connections -------------------------------------------------------------------------------------
    def pandora_conn(self, extra: Mapping[str, Any]) -> str:
        return json.dumps(
            {
                "conn_type": "pandora",
                "host": self.proxy.url,
                "login": self.emulator.access_key,
                "password": self.emulator.secret_key,
                "extra": {"region": "nb", **extra},
            }
        )

    def direct_hook(self) -> Any:
        from airflow_provider_pandora.hooks.pandora import PandoraHook

        return PandoraHook("pandora_stateful_direct")

    # ---- one try ------------------------------------------------------------------------------------------
    def _kill(self, record: Exchange) -> None:
        if self._pid_ready.wait(10) and self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
                self._kills += 1

    def run_try(self, spec: dict[str, Any], schedule: BodySchedule | None, tag: str) -> TryRun:
        result_path = Path(spec["result"])
        result_path.unlink(missing_ok=True)
        self.proxy.wait_idle()
        self.proxy.take_records()
        self.proxy.tag = tag
        self.proxy.chooser = schedule
        self._pid, kills = None, self._kills
        self._pid_ready.clear()
        started = time.monotonic()
        process = self.context.Process(target=child_try, args=(spec,), name=f"try-{tag}")
        process.start()
        self._pid = process.pid
        self._pid_ready.set()
        process.join(TRY_TIMEOUT)
        hung = process.is_alive()
        if hung:
            process.kill()
            process.join(10)
        seconds = time.monotonic() - started
        self.proxy.wait_idle()  # a killed try's batches still in the proxy land (or not) now
        self.proxy.chooser = None
        records = [record for record in self.proxy.take_records() if record.tag == tag]
        self._pid_ready.clear()
        log = ""
        with contextlib.suppress(OSError):
            log = Path(spec["log"]).read_text(errors="replace")
        outcome: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            outcome = json.loads(result_path.read_text())
        if hung:
            status = "hung"
        elif outcome.get("status") == "ok":
            status = "ok"
        elif outcome.get("status") == "error":
            status = "error"
        else:
            status = "killed"
        error = f"{outcome.get('type')}: {outcome.get('message')}" if status == "error" else None
        if status == "killed" and self._kills == kills and process.exitcode != -signal.SIGKILL:
            error = f"the try's process ended with exit code {process.exitcode} without an outcome"
        return TryRun(tag, status, outcome.get("result"), error, records, seconds, log)


# ---- sources -----------------------------------------------------------------------------------------------------
@dataclass
class SourceFile:
    """One file (or object): its rows in order, and how it is written."""

    key: int
    rows: list[dict[str, str]]
    gz: bool = False
    header: tuple[str, ...] = FIELDS
    bom: bool = False
    crlf: bool = False

    def name(self, fmt: str) -> str:
        return f"f{self.key:06d}.{fmt}{'.gz' if self.gz else ''}"

    def plain(self, fmt: str) -> bytes:
        """The text as the reader sees it (decompressed)."""
        newline = "\r\n" if self.crlf else "\n"
        if fmt == "jsonl":
            text = "".join(json.dumps(row, ensure_ascii=False) + newline for row in self.rows)
        else:
            out = io.StringIO()
            writer = csv.writer(out, lineterminator=newline)
            writer.writerow(self.header)
            for row in self.rows:
                writer.writerow([row[column] for column in self.header])
            text = out.getvalue()
        data = text.encode("utf-8")
        return (b"\xef\xbb\xbf" + data) if self.bom else data

    def stored(self, fmt: str) -> bytes:
        data = self.plain(fmt)
        return gzip.compress(data, mtime=0) if self.gz else data


class WireFault(NamedTuple):
    """A wire fault for the batch holding the ``point``-th point of the sources (modulo their count), ``times``
    requests in a row (its retries included)."""

    point: int
    kind: str
    times: int


class Kill(NamedTuple):
    """Kill the try: at its ``n``-th checkpoint save (``save_before``/``save_after`` it is written), or when the
    proxy holds the batch with the ``n``-th point (``request_before`` it goes upstream, ``request_after`` the
    emulator answered)."""

    at: str
    n: int


# ---- the oracle ------------------------------------------------------------------------------------------------
class OracleViolation(AssertionError):
    """An invariant of the transfer did not hold (subclasses name which, so hypothesis tells them apart)."""


class Corrupted(OracleViolation):
    """A stored row equals no row any version of any source held."""


class Lost(OracleViolation):
    """A point of the sources is not stored after the task instance succeeded."""


class PhantomBadLines(OracleViolation):
    """The transfer reported bad lines, and the sources have none."""


class UncountedDuplicates(OracleViolation):
    """More copies are stored than ``possible_duplicates`` says."""


class OverCounted(OracleViolation):
    """``possible_duplicates`` is more than what was in flight when faults hit."""


class Stuck(OracleViolation):
    """A clean try (no faults, no kill, no source changes) did not succeed."""


class TryFailedOddly(OracleViolation):
    """A try ended in a way no fault explains (a crash without an outcome, a hang)."""


def ids_of(body: bytes) -> list[str]:
    """The ``id`` of every point of a wire body."""
    found = []
    for line in body.split(b"\n"):
        for part in line.split(b"\t"):
            if part.startswith(b"id="):
                found.append(part[3:].decode("utf-8", "replace"))
                break
    return found


def is_push(record: Exchange) -> bool:
    return record.method == "POST" and (record.path or "").endswith("/data")


def definitive(record: Exchange) -> bool:
    """The client learnt the outcome: a whole 200 (stored) or a whole 4xx (not stored; 429 included)."""
    status = record.status_sent or 0
    return record.answered_in_full and (status == 200 or 400 <= status < 500)


def acked(record: Exchange) -> bool:
    return record.answered_in_full and record.status_sent == 200


@dataclass
class TryAccount:
    """One try of a task instance, with what it contributes to the in-flight bound."""

    run: TryRun
    faults: list[WireFault]
    kill: Kill | None
    names: list[str]
    """The sources' names as the try saw them (sorted: the order the transfer reads them in)."""
    ambiguous: int = 0
    """Points of pushes whose client never learnt the outcome (no answer, a cut or trickled-out one, a 5xx)."""
    landed_after: int = 0
    """Points of a failed try acknowledged after (in source order) a batch that failed for good: sent again."""
    change_allowance: int = 0
    """Points sent earlier from sources that changed before this try (a fixed transfer re-reads them whole)."""
    most_points: int = 0
    """The most points any push of this try carried."""
    backlog_racers: int = 0
    """Pushes that may have raced a ``refuse`` pause into the listener's backlog. When the proxy stops listening, a
    connection the kernel had already accepted into the backlog is reset, not refused: the client has sent its push
    and cannot tell it from a server that died after reading it, so it counts it, and the proxy never sees it. Only
    the try's other batches can be connecting then (``max_in_flight - 1``; the refused exchange's own client waits
    for its answer, which is sent after the pause starts), plus that client's own retry if it had already given up
    on the answer (a timeout): with one batch in flight, a refusal allows nothing."""


@dataclass
class Instance:
    """One task instance: tries into one fresh repo, with one checkpoint store, until a try succeeds."""

    n: int
    repo: str
    store: Path
    tries: list[TryAccount] = field(default_factory=list)
    contents: dict[str, bytes] | None = None
    """The sources at the previous try (name -> stored bytes)."""
    sent_by_name: dict[str, set[str]] = field(default_factory=dict)
    """Ids the proxy saw in pushes, by the source (name) they belong to."""
    done: bool = False
    checked: bool = False

    def kill_allowance(self, max_in_flight: int) -> int:
        """What the try after a killed one counts by the documented rule: the points of the first ``max_in_flight``
        batches it sends (at most ``max_in_flight`` times the largest push of the instance)."""
        return max_in_flight * max((t.most_points for t in self.tries), default=0)


def in_flight_bound(instance: Instance, max_in_flight: int) -> int:
    """An upper bound on what ``possible_duplicates`` may say: the points of pushes whose client never learnt the
    outcome, of pushes a failed try had acknowledged past a batch that failed for good, sent earlier from sources
    that changed since, that may have raced a ``refuse`` pause into the listener's backlog, and the documented
    allowance for each killed try (see :class:`TryAccount`)."""
    kills = sum(1 for t in instance.tries if t.run.status == "killed")
    wire = sum(t.ambiguous + t.landed_after + t.change_allowance for t in instance.tries)
    backlog = sum(t.backlog_racers * t.most_points for t in instance.tries)
    return wire + backlog + kills * instance.kill_allowance(max_in_flight)


@dataclass
class Stats:
    """Figures over many examples (for the benchmark)."""

    examples: int = 0
    tries: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    """Exchanges the proxy hit, by fault label."""
    refusals: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    instances: int = 0
    points_in_flight: int = 0
    """Sum over completed task instances of the in-flight bound."""
    duplicates_stored: int = 0
    duplicates_reported: int = 0
    violations: Counter[str] = field(default_factory=Counter)
    first_violations: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    trickle_seconds: list[float] = field(default_factory=list)
    """How long each trickled exchange lasted (the client's ``timeout`` is :data:`TIMEOUT`)."""


def _record_text(record: Exchange) -> str:
    ids = ids_of(record.body_plain) if is_push(record) else []
    span = f"{ids[0]}..{ids[-1]}" if ids else "-"
    return (
        f"#{record.n} {record.method} {record.path} points={len(ids)} ({span}) fault={record.fault} "
        f"forwarded={record.body_forwarded} upstream={record.upstream_status} sent={record.status_sent} "
        f"delivered={record.delivered}{' client_gone' if record.client_gone else ''}"
    )


# ---- the state machine -----------------------------------------------------------------------------------------
VALUE = st.text(alphabet="abcxyz019 ,;\"'é\\\t\n", min_size=1, max_size=6)
ROW = st.tuples(VALUE, VALUE, VALUE)
ROWS = st.lists(ROW, max_size=12)
WIRE_FAULT = st.builds(
    WireFault,
    point=st.integers(0, 10_000),
    kind=st.sampled_from(
        [
            "drop_before_body",
            "drop_after_body",
            "cut_answer",
            "status_503",
            "status_500",
            "status_429",
            "refuse",
            "drop_after_body",
            "cut_answer",
            "trickle",
        ]
    ),
    times=st.sampled_from([1, 1, 1, 2, 5]),
)
KILL = st.builds(
    Kill,
    at=st.sampled_from(["save_before", "save_after", "request_before", "request_after"]),
    n=st.integers(0, 10_000),
)
KILL_SAVES = 4
"""A ``save_*`` kill happens at one of the first this many checkpoint saves (``1 + n % KILL_SAVES``)."""


class TransferMachine(RuleBasedStateMachine):
    """Sources, tries with wire faults and kills, source changes between tries; the oracle after each try."""

    world: ClassVar[World]
    """Set by the test (or the benchmark) before the machine runs."""
    strict: ClassVar[bool] = True
    """Raise on the first violation (the test); ``False`` counts them in :attr:`World.stats` (the benchmark)."""

    def __init__(self) -> None:
        super().__init__()
        self.example = next(self.world.examples)
        self.started = time.monotonic()
        self.root = Path(tempfile.mkdtemp(prefix=f"ex{self.example}-", dir=self.world.workdir))
        self.sources_dir = self.root / "sources"
        self.sources_dir.mkdir()
        self.prefix = f"ex{self.example}-{uuid.uuid4().hex[:6]}/"
        self.files: dict[int, SourceFile] = {}
        self.rows_ever: dict[str, dict[str, str]] = {}
        self.name_of: dict[str, str] = {}
        self.ids = itertools.count(1)
        self.fmt = "jsonl"
        self.backend = "local"
        self.options: dict[str, Any] = {}
        self.instances: list[Instance] = []
        self.instance: Instance | None = None
        self.failing = False
        self.violations: list[str] = []
        self.written: set[str] = set()
        self.steps: list[str] = []
        self.world.stats.examples += 1

    # ---- sources --------------------------------------------------------------------------------------------
    def _rows(self, values: Sequence[tuple[str, str, str]]) -> list[dict[str, str]]:
        rows = []
        for a, b, c in values:
            row = {"id": f"P{next(self.ids):06d}", "a": self._clean(a), "b": self._clean(b), "c": self._clean(c)}
            self.rows_ever[row["id"]] = row
            rows.append(row)
        return rows

    def _clean(self, value: str) -> str:
        if self.fmt == "csv":
            if not self.options.get("multiline"):
                value = value.replace("\n", " ")
            value = value.replace("\r", " ")
        return value

    def _name(self, source: SourceFile) -> str:
        return source.name(self.fmt)

    def _write(self, source: SourceFile) -> None:
        name = self._name(source)
        for row in source.rows:
            self.name_of[row["id"]] = name
        data = source.stored(self.fmt)
        if self.backend == "kodo":
            assert self.world.kodo is not None
            self.world.kodo.client.put_object(Bucket=self.world.kodo.bucket, Key=self.prefix + name, Body=data)
        else:
            (self.sources_dir / name).write_bytes(data)
        self.written.add(name)

    def _remove(self, source: SourceFile) -> None:
        name = self._name(source)
        if self.backend == "kodo":
            assert self.world.kodo is not None
            self.world.kodo.client.delete_object(Bucket=self.world.kodo.bucket, Key=self.prefix + name)
        else:
            (self.sources_dir / name).unlink()

    def _ordered(self) -> list[SourceFile]:
        return sorted(self.files.values(), key=lambda s: self._name(s))

    def _all_ids(self) -> list[str]:
        return [row["id"] for source in self._ordered() for row in source.rows]

    def _pick(self, index: int) -> SourceFile:
        ordered = self._ordered()
        return ordered[index % len(ordered)]

    def _contents(self) -> dict[str, bytes]:
        return {self._name(s): s.stored(self.fmt) for s in self.files.values()}

    @initialize(
        backend=st.sampled_from(["local", "local", "local", "local", "kodo"]),  # a Kodo try costs ~0.4 s more
        fmt=st.sampled_from(["jsonl", "csv"]),
        files=st.lists(st.tuples(ROWS, st.booleans()), min_size=1, max_size=3),
        max_in_flight=st.sampled_from([1, 2, 3]),
        max_batch_bytes=st.sampled_from([96, 160, 320]),
        on_bad_line=st.sampled_from(["fail", "skip"]),
        gzip_bodies=st.booleans(),
        csv_flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    )
    def make_sources(
        self,
        backend: str,
        fmt: str,
        files: list[tuple[list[tuple[str, str, str]], bool]],
        max_in_flight: int,
        max_batch_bytes: int,
        on_bad_line: str,
        gzip_bodies: bool,
        csv_flags: tuple[bool, bool, bool],
    ) -> None:
        if backend == "kodo" and self.world.kodo is None:
            backend = "local"
        self.backend, self.fmt = backend, fmt
        multiline, bom, crlf = csv_flags
        self.options = {
            "max_in_flight": max_in_flight,
            "max_batch_bytes": max_batch_bytes,
            "on_bad_line": on_bad_line,
            "gzip": gzip_bodies,
            "multiline": multiline and fmt == "csv",
            "bom": bom and fmt == "csv",
            "crlf": crlf,
        }
        for i, (values, gz) in enumerate(files):
            self._add_file((i + 1) * 1000, values, gz)
        self._step(f"make_sources({backend} {fmt}, {self.options}, rows per file {[len(v) for v, _ in files]})")

    def _step(self, text: str) -> None:
        self.steps.append(text)

    def _add_file(
        self, key: int, values: Sequence[tuple[str, str, str]], gz: bool, header: Sequence[str] = FIELDS
    ) -> None:
        source = SourceFile(
            key, self._rows(values), gz=gz, header=tuple(header), bom=self.options["bom"], crlf=self.options["crlf"]
        )
        self.files[key] = source
        self._write(source)

    @rule(file=st.integers(0, 9), values=st.lists(ROW, min_size=1, max_size=12))
    def append(self, file: int, values: list[tuple[str, str, str]]) -> None:
        source = self._pick(file)
        source.rows.extend(self._rows(values))
        self._write(source)
        self._step(f"append({self._name(source)}, +{len(values)} rows)")

    @rule(file=st.integers(0, 9), values=ROWS, header=st.permutations(FIELDS))
    def rewrite(self, file: int, values: list[tuple[str, str, str]], header: list[str]) -> None:
        source = self._pick(file)
        source.rows = self._rows(values)
        source.header = tuple(header)
        self._write(source)
        self._step(f"rewrite({self._name(source)}, {len(values)} rows, header {header})")

    @rule(file=st.integers(0, 9), keep=st.integers(0, 11))
    def truncate(self, file: int, keep: int) -> None:
        source = self._pick(file)
        source.rows = source.rows[: min(keep, max(0, len(source.rows) - 1))]
        self._write(source)
        self._step(f"truncate({self._name(source)}, to {len(source.rows)} rows)")

    @precondition(lambda self: len(self.files) >= 2)
    @rule(file=st.integers(0, 9))
    def delete(self, file: int) -> None:
        source = self._pick(file)
        self._remove(source)
        del self.files[source.key]
        self._step(f"delete({self._name(source)})")

    @rule(where=st.sampled_from(["before", "between", "after"]), slot=st.integers(0, 9), values=ROWS, gz=st.booleans())
    def add_file(self, where: str, slot: int, values: list[tuple[str, str, str]], gz: bool) -> None:
        keys = sorted(self.files)
        if where == "before":
            low, high = 0, keys[0]
        elif where == "after":
            low, high = keys[-1], keys[-1] + 2000
        else:
            i = slot % max(1, len(keys) - 1)
            low, high = keys[i], keys[i + 1] if i + 1 < len(keys) else keys[i] + 2000
        key = (low + high) // 2
        if key in self.files or key <= low:
            return  # no room left between them: nothing added
        self._add_file(key, values, gz)
        self._step(f"add_file({self._name(self.files[key])} {where}, {len(values)} rows)")

    # ---- tries ----------------------------------------------------------------------------------------------
    def _instance(self) -> Instance:
        if self.instance is None or self.instance.done:
            n = len(self.instances) + 1
            repo = f"s{self.example}_{n}_{uuid.uuid4().hex[:6]}"
            self.world.direct_hook().create_repo(repo, schema=SCHEMA)
            self.instance = Instance(n, repo, self.root / f"store-{n}.json")
            self.instances.append(self.instance)
            self.world.stats.instances += 1
        return self.instance

    def _needle(self, point: int) -> bytes | None:
        ids = self._all_ids()
        if not ids:
            return None
        return f"id={ids[point % len(ids)]}".encode()

    def _spec(self, instance: Instance, tag: str, extra: Mapping[str, Any], kill: Kill | None) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "repo": instance.repo,
            "format": self.fmt,
            "backend": self.backend,
            "max_in_flight": self.options["max_in_flight"],
            "max_batch_bytes": self.options["max_batch_bytes"],
            "on_bad_line": self.options["on_bad_line"],
            "gzip": self.options["gzip"],
            "store": str(instance.store),
            "result": str(self.root / "result.json"),
            "log": str(self.root / f"try-{tag}.log"),
            "pandora_conn": self.world.pandora_conn(extra),
        }
        if self.backend == "kodo":
            assert self.world.kodo is not None
            spec.update(bucket=self.world.kodo.bucket, prefix=self.prefix, kodo_conn=self.world.kodo.connection_json())
        else:
            spec["source_path"] = str(self.sources_dir)
        if kill is not None and kill.at.startswith("save_"):
            spec.update(kill_at=1 + kill.n % KILL_SAVES, kill_when=kill.at.removeprefix("save_"))
        return spec

    @rule(faults=st.lists(WIRE_FAULT, max_size=3))
    def attempt(self, faults: list[WireFault]) -> None:
        """A try with wire faults."""
        self._guarded(self._attempt, faults, None, clean=False)

    @rule(faults=st.lists(WIRE_FAULT, max_size=2), kill=KILL)
    def attempt_killed(self, faults: list[WireFault], kill: Kill) -> None:
        """A try with wire faults, SIGKILLed between batches or while the proxy holds one."""
        self._guarded(self._attempt, faults, kill, clean=False)

    def _guarded(self, step: Any, *args: Any, **kwargs: Any) -> None:
        self.failing = True
        step(*args, **kwargs)
        self.failing = False

    def _attempt(self, faults: list[WireFault], kill: Kill | None, *, clean: bool) -> TryAccount:
        instance = self._instance()
        tag = f"{self.example}.{instance.n}.{len(instance.tries) + 1}"
        contents = self._contents()
        names = sorted(contents)
        change_allowance = 0
        if instance.contents is not None:
            for name, data in contents.items():
                if instance.contents.get(name) != data:
                    change_allowance += len(instance.sent_by_name.get(name, ()))
        instance.contents = contents
        schedule = BodySchedule()
        if kill is not None and kill.at.startswith("request_"):
            needle = self._needle(kill.n)
            if needle is not None:
                schedule.add(needle, KILL_FAULTS[kill.at])
        for fault in faults:
            needle = self._needle(fault.point)
            if needle is not None:
                schedule.add(needle, KIND_FAULTS[fault.kind], fault.times)
        spec = self._spec(instance, tag, CLEAN_EXTRA if clean else FAULTY_EXTRA, kill)
        run = self.world.run_try(spec, schedule, tag)
        account = TryAccount(run, list(faults), kill, names, change_allowance=change_allowance)
        instance.tries.append(account)
        self._account(instance, account)
        self._note_stats(account)
        fired = Counter(r.fault for r in run.records if r.fault != "none")
        self._step(
            f"{'clean try' if clean else 'try'} {tag}: faults {[tuple(f) for f in faults]}, kill {kill and tuple(kill)}"
            f" -> {run.status} in {run.seconds:.2f}s{': ' + run.error[:200] if run.error else ''}; fired {dict(fired)}"
            f"{'; result ' + str(run.result) if run.result else ''}"
        )
        if run.status == "ok":
            instance.done = True
        elif run.status == "hung" or (run.status == "killed" and (kill is None or run.error)):
            self._violate(TryFailedOddly, f"try {tag} {run.status}: {run.error or ''}\n{_tail(run.log)}")
        return account

    def _account(self, instance: Instance, account: TryAccount) -> None:
        run = account.run
        pushes = [r for r in run.records if is_push(r)]
        position = {
            row["id"]: (i, j) for i, name in enumerate(account.names) for j, row in enumerate(self._rows_of(name))
        }
        sent: set[str] = set()
        acked_ids: set[str] = set()
        account.backlog_racers = sum(
            self.options["max_in_flight"] - 1 + record.client_gone for record in run.records if record.fault == "refuse"
        )
        for record in pushes:
            ids = ids_of(record.body_plain)
            account.most_points = max(account.most_points, len(ids))
            sent.update(ids)
            for point in ids:
                instance.sent_by_name.setdefault(self.name_of.get(point, "?"), set()).add(point)
            if acked(record):
                acked_ids.update(ids)
            elif not definitive(record):
                account.ambiguous += len(ids)
        if run.status != "ok":
            never = [position[i] for i in sent - acked_ids if i in position]
            if never:
                first = min(never)
                account.landed_after = sum(1 for i in acked_ids if position.get(i, (-1, -1)) > first)

    def _rows_of(self, name: str) -> list[dict[str, str]]:
        for source in self.files.values():
            if self._name(source) == name:
                return source.rows
        return []

    def _note_stats(self, account: TryAccount) -> None:
        stats = self.world.stats
        stats.tries[account.run.status] += 1
        for record in account.run.records:
            if is_push(record) and record.fault != "none":
                stats.faults[record.fault] += 1
            if record.fault == "trickle":
                stats.trickle_seconds.append(round((record.ended or record.started) - record.started, 3))
        if account.kill is not None:
            stats.kills[account.kill.at] += 1

    # ---- the oracle -----------------------------------------------------------------------------------------
    def _violate(self, kind: type[OracleViolation], message: str) -> None:
        if self.strict:
            self.violations.append(f"{kind.__name__}: {message}")
            raise kind(message + "\n" + self._describe())
        if any(v.startswith(f"{kind.__name__}:") for v in self.violations):
            return  # counted once per example
        text = f"{kind.__name__}: {message}"
        self.world.stats.violations[kind.__name__] += 1
        self.world.stats.first_violations.setdefault(kind.__name__, f"{text}\n{self._describe()}"[:6000])
        self.violations.append(text)

    def _describe(self) -> str:
        lines = [
            f"example {self.example}: {self.backend} {self.fmt} sources, options {self.options}",
            "sources now: " + ", ".join(f"{self._name(s)} [{len(s.rows)} rows]" for s in self._ordered()),
        ]
        for instance in self.instances:
            lines.append(f"task instance {instance.n} (repo {instance.repo}):")
            for account in instance.tries:
                run = account.run
                lines.append(
                    f"  try {run.tag}: {run.status} in {run.seconds:.2f}s, faults {account.faults},"
                    f" kill {account.kill}, sources {account.names}; in flight: ambiguous {account.ambiguous},"
                    f" landed after {account.landed_after}, changed sources {account.change_allowance},"
                    f" backlog racers {account.backlog_racers}"
                )
                if run.error:
                    lines.append(f"    error: {run.error[:500]}")
                if run.result:
                    lines.append(f"    result: {run.result}")
                lines.extend(f"    {_record_text(r)}" for r in run.records if is_push(r))
        return "\n".join(lines)

    @invariant()
    def oracle(self) -> None:
        self._guarded(self._oracle)

    def _oracle(self) -> None:
        instance = self.instance
        if instance is None or not instance.tries:
            return
        self._check_rows(instance)
        if instance.done and not instance.checked:
            instance.checked = True
            self._check_instance(instance)

    def _stored(self, instance: Instance) -> list[dict[str, Any]]:
        return list(self.world.emulator.points(instance.repo))

    def _check_rows(self, instance: Instance) -> None:
        bad = [p for p in self._stored(instance) if self.rows_ever.get(str(p.get("id"))) != p]
        if bad:
            shown = "; ".join(f"{p} (source row: {self.rows_ever.get(str(p.get('id')))})" for p in bad[:5])
            self._violate(Corrupted, f"{len(bad)} stored rows match no source row: {shown}")

    def _check_instance(self, instance: Instance) -> None:
        last = instance.tries[-1]
        result = last.run.result or {}
        stored = Counter(str(p.get("id")) for p in self._stored(instance))
        wanted = {row["id"] for name in last.names for row in self._rows_of(name)}
        lost = sorted(wanted - stored.keys())
        if lost:
            where = Counter(self.name_of.get(i, "?") for i in lost)
            self._violate(Lost, f"{len(lost)} points of the sources are not stored: {lost[:10]} (from {dict(where)})")
        if int(result.get("bad_lines") or 0):
            self._violate(PhantomBadLines, f"the transfer reported {result.get('bad_lines')} bad lines; there are none")
        copies = sum(count - 1 for count in stored.values())
        reported = int(result.get("possible_duplicates") or 0)
        bound = in_flight_bound(instance, self.options["max_in_flight"])
        stats = self.world.stats
        stats.points_in_flight += bound
        stats.duplicates_stored += copies
        stats.duplicates_reported += reported
        if copies > reported:
            twice = sorted(i for i, count in stored.items() if count > 1)
            self._violate(
                UncountedDuplicates,
                f"{copies} extra copies stored, possible_duplicates says {reported}: {twice[:10]}",
            )
        if reported > bound:
            self._violate(
                OverCounted,
                f"possible_duplicates is {reported}, but at most {bound} points were in flight when faults hit",
            )

    def teardown(self) -> None:
        try:
            if not self.failing and (not self.strict or not self.violations):
                instance = self.instance
                if instance is None or instance.done is False or not instance.tries:
                    account = self._attempt([], None, clean=True)
                    if account.run.status != "ok":
                        self._violate(
                            Stuck,
                            f"a clean try (no faults, no kill, no changes) failed: {account.run.error}\n"
                            f"{_tail(account.run.log)}",
                        )
                    self._oracle()
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        self.world.stats.seconds += time.monotonic() - self.started
        if self.world.log is not None:
            self.world.log.append({"example": self.example, "steps": self.steps, "violations": self.violations})
        hook = self.world.direct_hook()
        for instance in self.instances:
            with contextlib.suppress(Exception):
                hook.delete_repo(instance.repo)
        if self.backend == "kodo" and self.world.kodo is not None:
            for name in self.written:
                with contextlib.suppress(Exception):
                    self.world.kodo.client.delete_object(Bucket=self.world.kodo.bucket, Key=self.prefix + name)
        shutil.rmtree(self.root, ignore_errors=True)


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def world(workdir: Path, emulator: Any, kodo: Kodo | None) -> Iterator[World]:
    """Start a :class:`World` (the proxy) around an emulator and a Kodo bucket that already run."""
    started = World(emulator, kodo, workdir).start()
    try:
        yield started
    finally:
        started.stop()
