"""Checkpoints: where a transfer saves its position after each acknowledged batch.

Checkpoints live where Airflow keeps task state:

* Airflow 3.3+: the task state store (``context["task_state_store"]``, the same store
  ``PandoraStartJobOperator`` uses), scoped to the task instance (dag run, task, map index), so every
  retry of that instance sees it;
* below 3.3: an Airflow Variable named ``pandora_transfer:<dag_id>:<task_id>:<run_id>:<map_index>``.

Either way the checkpoint is deleted when the transfer succeeds. A checkpoint is only a position, counters
and the sources' identities (never data or secrets), and one saved for other inputs (repo, format, sources) is
ignored.

A checkpoint knows what it resumes: it keeps every source of the try in order, each with a digest of its
identity (:attr:`~._reading.Source.identity`) and the points acknowledged from it. :func:`plan_resume` lets
the next try skip only sources that are done and unchanged, and resume at a byte offset only in the very
file the checkpoint describes; a new source is read whole, and a changed one is read again from its start
with the points delivered from its earlier version counted as possible duplicates (or, with
``on_source_change="fail"``, the try stops and says so).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_pandora.exceptions import TransferError
from airflow_provider_pandora.transfers._reading import Source

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

CHECKPOINT_VERSION = 4
"""4: ``inflight`` lists the points past the position that tries may have posted unsettled, by source and span
(3 counted copies per batch position; 2 one count of batches; 1 held only the current source's name and offset)."""
SOURCE_CHANGE_POLICIES = ("reread", "fail")
#: ``task_state_store`` key (Airflow 3.3+) holding a transfer's checkpoint.
CHECKPOINT_STATE_KEY = "pandora_transfer_checkpoint"
VARIABLE_PREFIX = "pandora_transfer"


class CheckpointStore(Protocol):
    def load(self) -> dict[str, Any] | None: ...
    def save(self, state: dict[str, Any]) -> None: ...
    def clear(self) -> None: ...


class MemoryCheckpoints:
    """A dict-backed store (tests, benchmarks, direct use of :class:`~.Transfer`)."""

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


class TaskStateCheckpoints:
    """Checkpoints in Airflow 3.3's task state store.

    It outlives the task (Airflow deletes it with the DAG run, or by its retention), so a transfer that finishes
    leaves its checkpoint marked finished instead of deleting it: a retry after a worker lost between the end of the
    transfer and Airflow recording its success counts what was delivered (the Variables below 3.3 are deleted)."""

    keeps_finished = True

    def __init__(self, store: Any, key: str = CHECKPOINT_STATE_KEY) -> None:
        self.store = store
        self.key = key

    def load(self) -> dict[str, Any] | None:
        value = self.store.get(self.key)
        return dict(value) if isinstance(value, Mapping) else None

    def save(self, state: dict[str, Any]) -> None:
        self.store.set(self.key, state)

    def clear(self) -> None:
        self.store.delete(self.key)


class VariableCheckpoints:
    """Below Airflow 3.3: one Variable per task instance, deleted on success."""

    def __init__(self, key: str) -> None:
        self.key = key
        try:
            from airflow.sdk import Variable  # Airflow 3.0 - 3.2
        except ImportError:
            from airflow.models import Variable  # type: ignore[no-redef]  # Airflow 2
        self.variable: Any = Variable

    def load(self) -> dict[str, Any] | None:
        raw = self.variable.get(self.key, None)  # positional default: the keyword differs across lines
        if raw is None:
            return None
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            return None
        return dict(value) if isinstance(value, Mapping) else None

    def save(self, state: dict[str, Any]) -> None:
        self.variable.set(self.key, json.dumps(state, separators=(",", ":")))

    def clear(self) -> None:
        self.variable.delete(self.key)


def checkpoint_store(context: Context) -> CheckpointStore | None:
    """The task's checkpoint store: task state store on 3.3+, else a Variable keyed by the task instance."""
    store = context.get("task_state_store")  # type: ignore[call-overload]
    if store is not None:
        return TaskStateCheckpoints(store)
    ti = context.get("ti")  # type: ignore[call-overload]
    if ti is None:
        return None
    map_index = getattr(ti, "map_index", -1)
    key = f"{VARIABLE_PREFIX}:{ti.dag_id}:{ti.task_id}:{ti.run_id}:{-1 if map_index is None else map_index}"
    return VariableCheckpoints(key)


# --------------------------------------------------------------------------------------------
# What a checkpoint holds, and what the next try makes of it
# --------------------------------------------------------------------------------------------
@dataclass
class Totals:
    """The running counters of a transfer over every try: what the checkpoint, the result and the log carry."""

    points: int = 0
    bytes: int = 0
    batches: int = 0
    bad_lines: int = 0
    retries: int = 0
    possible_duplicates: int = 0

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Totals:
        data = data or {}
        return cls(**{f.name: int(data.get(f.name) or 0) for f in dataclasses.fields(cls)})


def identity_key(identity: Mapping[str, Any] | None) -> str | None:
    """A short digest of a source's identity: what the checkpoint keeps of it (no paths, no sizes in clear)."""
    if identity is None:
        return None
    text = json.dumps(dict(identity), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Start:
    """How one try reads one source."""

    skip: bool = False
    """Done by an earlier try and unchanged since."""
    offset: int = 0
    line: int = 0
    header: list[str] | None = None
    delivered: int = 0
    """Points acknowledged from this very source (unchanged) by earlier tries."""


@dataclass
class Span:
    """Points ``[start, end)`` of one source (counted from where a try began reading it) that earlier tries may
    have stored ``copies`` times without their answer settling, plus ``extra`` points of it sent again after an
    ambiguous attempt (a part of a bisected batch)."""

    start: int
    end: int
    copies: int = 1
    extra: int = 0


class InFlight:
    """What was posted past the checkpoint and never settled: the ledger that makes every copy counted.

    A try saves, before it sends a batch and before it sends one again after an attempt the server may have stored,
    which points of which source are in flight and how many copies of them may be stored (:meth:`entries`, the
    checkpoint's ``inflight``). A try killed without settling (SIGKILL, a lost worker) thus leaves behind exactly
    what it may have stored past the checkpoint. The next try counts, for each batch it settles, the points of it
    that earlier tries may have stored (:meth:`settle`): by position in an unchanged source, and for a source that
    changed since (read again from its start) from a pool, as many as it re-sends.
    """

    def __init__(self, carried: dict[int, list[Span]] | None = None, pools: dict[int, int] | None = None) -> None:
        self.carried = carried or {}
        """Per source of this try: spans posted by earlier tries, from where this try begins reading it."""
        self.pools = pools or {}
        """Per changed source: points delivered or in flight from its earlier version, not yet counted."""
        self._settled: dict[int, int] = {}  # per source: points of it this try settled
        self._sent: dict[int, int] = {}  # per source: points of it this try posted
        self._own: list[tuple[int, int, Span]] = []  # (source, key, span) this try posted, unsettled, in order

    def post(self, source: int, key: int, points: int) -> None:
        """This try is about to post a batch of ``points`` of ``source`` (``key`` names the batch)."""
        start = self._sent.get(source, 0)
        self._sent[source] = start + points
        self._own.append((source, key, Span(start, start + points)))

    def repost(self, key: int, points: int) -> None:
        """The batch ``key`` (or ``points`` of it) is about to be sent again after an attempt that may be stored."""
        for _source, own, span in self._own:
            if own == key:
                if points >= span.end - span.start:
                    span.copies += 1
                else:
                    span.extra += points
                return

    def settle(self, source: int, key: int, points: int) -> int:
        """The batch ``key`` of ``points`` of ``source`` is acknowledged: how many copies of its points earlier
        tries may have stored (possible duplicates)."""
        self._own = [entry for entry in self._own if entry[1] != key]
        start = self._settled.get(source, 0)
        end = self._settled[source] = start + points
        counted = 0
        spans = self.carried.get(source)
        if spans:
            for span in spans:
                overlap = min(end, span.end) - max(start, span.start)
                if overlap > 0:
                    counted += overlap * span.copies + span.extra
                    span.extra = 0
                    span.start = max(span.start, end)
            self.carried[source] = [span for span in spans if span.end > span.start]
        pool = self.pools.get(source)
        if pool:
            counted += min(pool, points)
            self.pools[source] = pool - min(pool, points)
        return counted

    def posting(self, source: int) -> bool:
        """Has this try a batch of ``source`` in flight?"""
        return any(own == source for own, _key, _span in self._own)

    def forget_own(self) -> None:
        """This try stops with nothing in flight: what it posted is settled or counted in its totals."""
        self._own.clear()

    def entries(self, current: int) -> list[list[int]]:
        """The checkpoint's ``inflight`` for a position in source ``current``: ``[source, start, end, copies,
        extra]`` with ``start``/``end`` counted from the position (in ``current``) or the source's start."""
        found: list[list[int]] = []
        spans = [(source, span) for source, listed in self.carried.items() for span in listed]
        spans += [(source, span) for source, _key, span in self._own]
        for source, span in spans:
            if source < current:
                continue
            base = self._settled.get(source, 0)
            start, end = max(span.start - base, 0), span.end - base
            if end > start:
                found.append([source, start, end, span.copies, span.extra])
        return found


@dataclass
class Plan:
    """What the next try does with a checkpoint."""

    starts: list[Start]
    totals: Totals = field(default_factory=Totals)
    inflight: InFlight = field(default_factory=InFlight)
    warnings: list[str] = field(default_factory=list)
    resumed: bool = False


def _overlaid(spans: list[Span]) -> tuple[int, list[Span]]:
    """Spans that may each be stored ``copies`` times (``extra`` more points of them too): how many points are
    stored more than once already, and the points stored at least once, as disjoint single-copy spans."""
    twice = sum(span.extra for span in spans)
    edges = sorted([(span.start, span.copies) for span in spans] + [(span.end, -span.copies) for span in spans])
    union: list[Span] = []
    depth, last = 0, 0
    for at, change in edges:
        if depth > 0 and at > last:
            twice += (at - last) * (depth - 1)
            if union and union[-1].end == last:
                union[-1].end = at
            else:
                union.append(Span(last, at))
        depth += change
        last = at
    return twice, union


def plan_resume(
    state: Mapping[str, Any] | None,
    sources: Sequence[Source],
    *,
    fingerprint: str,
    on_source_change: str = "reread",
) -> Plan:
    """Match a checkpoint against today's sources: what to skip, where to resume, what to count.

    What killed tries posted past the checkpoint (``inflight``) counts twice over: copies beyond the first at once
    (they are stored or not, whatever this try sends), and one more for each point this try sends again
    (:meth:`InFlight.settle`).

    Raises :class:`TransferError` (``on_source_change``) when that policy is ``fail`` and a source that an
    earlier try may have delivered from has changed.
    """
    fresh = Plan([Start() for _ in sources])
    if not state:
        return fresh
    if state.get("version") != CHECKPOINT_VERSION or state.get("fingerprint") != fingerprint:
        fresh.warnings.append("ignoring a checkpoint saved for other inputs; starting from the beginning")
        return fresh
    ledger = [Entry.of(entry) for entry in state.get("sources") or ()]
    current = int(state.get("current") or 0)
    posted: dict[int, list[Span]] = {}
    for index, start, end, copies, extra in state.get("inflight") or ():
        if 0 <= int(index) < len(ledger) and int(end) > int(start) >= 0:
            posted.setdefault(int(index), []).append(Span(int(start), int(end), max(1, int(copies)), int(extra)))
    finished = bool(state.get("finished"))
    plan = Plan([], Totals() if finished else Totals.from_dict(state.get("totals")), resumed=True)
    if finished:
        plan.warnings.append(
            "an earlier try of this task finished this transfer, but the task did not succeed (a worker lost before "
            "Airflow recorded it, or the task cleared): every source is sent again, and the points that try "
            "delivered count as possible duplicates"
        )
    stored_twice = 0
    for index, spans in posted.items():  # copies beyond the first are duplicates already, re-sent or not
        twice, posted[index] = _overlaid(spans)
        stored_twice += twice
    if stored_twice:
        plan.totals.possible_duplicates += stored_twice
        plan.warnings.append(
            f"{stored_twice} copies of points may be stored already beyond the first: tries that stopped without "
            "settling posted them more than once (a re-send after a lost answer, or one try after another)"
        )
    matched = _match(ledger, sources)
    changed: list[str] = []
    for new, source in enumerate(sources):
        index = matched.get(new)
        if index is None:  # new since the checkpoint: never read, whatever its name sorts next to
            plan.starts.append(Start())
            continue
        entry = ledger[index]
        spans = posted.get(index, [])
        if entry.name != source.name:
            plan.warnings.append(f"source {source.name} is {entry.name} renamed (the same file or object)")
        if entry.key == identity_key(source.identity) and not finished:
            if spans:
                plan.inflight.carried[new] = spans
            if entry.pool:  # still to count from earlier versions of it
                plan.inflight.pools[new] = entry.pool
            if index < current or entry.done:
                plan.starts.append(Start(skip=True, delivered=entry.delivered))
            elif index == current:
                header = state.get("header")
                plan.starts.append(
                    Start(
                        offset=int(state.get("offset") or 0),
                        line=int(state.get("line") or 0),
                        header=list(header) if header else None,
                        delivered=entry.delivered,
                    )
                )
            else:
                plan.starts.append(Start(delivered=entry.delivered))
            continue
        pool = entry.delivered + entry.pool + sum(span.end - span.start for span in spans)
        if pool:
            changed.append(source.name)
            plan.inflight.pools[new] = pool
        plan.starts.append(Start())
        if not finished:
            plan.warnings.append(
                f"source {source.name} changed since the checkpoint: it is read again from its start"
                + (f"; {pool} points delivered from its earlier versions may be stored twice" if pool else "")
            )
    if changed and on_source_change == "fail" and not finished:
        raise TransferError(
            "on_source_change",
            f"{len(changed)} source(s) changed since an earlier try delivered from them ({', '.join(changed[:5])}"
            f"{', ...' if len(changed) > 5 else ''}); give them back as they were, clear the checkpoint, or set "
            "on_source_change='reread' to read them again from their start with possible duplicates counted",
        )
    listed = set(matched.values())
    for index, entry in enumerate(ledger):
        if index not in listed and entry.delivered + entry.pool:
            plan.warnings.append(
                f"source {entry.name}, {entry.delivered + entry.pool} points of which were delivered by an earlier "
                "try, is no longer listed"
            )
    return plan


@dataclass
class Entry:
    """One source as a checkpoint keeps it: ``[name, identity digest, delivered, done, pool]``."""

    name: str
    key: str | None
    delivered: int = 0
    """Points acknowledged from this version of it (this identity), over every try."""
    done: bool = False
    """Every batch of it acknowledged."""
    pool: int = 0
    """Points delivered from earlier versions of it that its re-reading has not counted yet."""

    @classmethod
    def of(cls, raw: Sequence[Any]) -> Entry:
        name, key, delivered, done, pool = raw
        return cls(str(name), None if key is None else str(key), int(delivered or 0), bool(done), int(pool or 0))

    def as_list(self) -> list[Any]:
        return [self.name, self.key, self.delivered, self.done, self.pool]


def _match(ledger: Sequence[Entry], sources: Sequence[Source]) -> dict[int, int]:
    """Today's sources (by position) to the checkpoint's: the same name and identity first, then the same identity
    under another name (a file renamed, e.g. by log rotation), then the same name with another identity (changed)."""
    keys = [identity_key(source.identity) for source in sources]
    matched: dict[int, int] = {}
    taken: set[int] = set()
    rules: list[tuple[Callable[[Entry], Any], Callable[[int], Any]]] = [
        (lambda entry: (entry.name, entry.key), lambda new: (sources[new].name, keys[new])),
        (lambda entry: entry.key, lambda new: keys[new]),
        (lambda entry: entry.name, lambda new: sources[new].name),
    ]
    for of_entry, of_source in rules:
        index_of: dict[Any, list[int]] = {}
        for index, entry in enumerate(ledger):
            if index not in taken and of_entry(entry) is not None:
                index_of.setdefault(of_entry(entry), []).append(index)
        for new in range(len(sources)):
            candidates = index_of.get(of_source(new)) if new not in matched else None
            if candidates:
                matched[new] = candidates.pop(0)
                taken.add(matched[new])
    return matched
