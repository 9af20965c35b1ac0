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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_pandora.exceptions import TransferError
from airflow_provider_pandora.transfers._reading import Source

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

CHECKPOINT_VERSION = 3
"""3: ``unsettled`` counts, per batch after the position, the tries that may have posted it unacknowledged
(2: one count of batches; 1 held only the current source's name and its offset)."""
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
    """Checkpoints in Airflow 3.3's task state store."""

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
    reread: int = 0
    """Points acknowledged from an earlier version of this (changed) source: as many re-sent points count as
    possible duplicates."""
    suspect: bool = False
    """At or after the checkpoint's position: a try killed without settling may have posted batches of it."""


@dataclass
class Plan:
    """What the next try does with a checkpoint."""

    starts: list[Start]
    totals: Totals = field(default_factory=Totals)
    unsettled: list[int] = field(default_factory=list)
    """Per batch after the checkpoint's position (of suspect sources, in order): how many earlier tries may have
    posted it without its answer being settled; as many copies of its points count as possible duplicates."""
    warnings: list[str] = field(default_factory=list)
    resumed: bool = False


def plan_resume(
    state: Mapping[str, Any] | None,
    sources: Sequence[Source],
    *,
    fingerprint: str,
    max_in_flight: int,
    on_source_change: str = "reread",
) -> Plan:
    """Match a checkpoint against today's sources: what to skip, where to resume, what to count.

    Raises :class:`TransferError` (``on_source_change``) when that policy is ``fail`` and a source that an
    earlier try may have delivered from has changed.
    """
    fresh = Plan([Start() for _ in sources])
    if not state:
        return fresh
    if state.get("version") != CHECKPOINT_VERSION or state.get("fingerprint") != fingerprint:
        fresh.warnings.append("ignoring a checkpoint saved for other inputs; starting from the beginning")
        return fresh
    ledger = [(str(name), key, int(points or 0)) for name, key, points in state.get("sources") or ()]
    current = int(state.get("current") or 0)
    unsettled = [max(0, int(copies)) for copies in state.get("unsettled") or ()]
    old = {name: (index, key, points) for index, (name, key, points) in enumerate(ledger)}
    plan = Plan([], Totals.from_dict(state.get("totals")), unsettled, resumed=True)
    changed: list[str] = []
    for source in sources:
        entry = old.pop(source.name, None)
        if entry is None:  # new since the checkpoint: never read, whatever its name sorts next to
            plan.starts.append(Start())
            continue
        index, key, points = entry
        if key == identity_key(source.identity):
            if index < current:
                plan.starts.append(Start(skip=True, delivered=points))
            elif index == current:
                header = state.get("header")
                plan.starts.append(
                    Start(
                        offset=int(state.get("offset") or 0),
                        line=int(state.get("line") or 0),
                        header=list(header) if header else None,
                        delivered=points,
                        suspect=True,
                    )
                )
            else:
                plan.starts.append(Start(suspect=True))
            continue
        delivered_from = points > 0 or (index >= current and any(unsettled))
        if delivered_from:
            changed.append(source.name)
        plan.starts.append(Start(reread=points, suspect=index >= current))
        plan.warnings.append(
            f"source {source.name} changed since the checkpoint: it is read again from its start"
            + (f"; {points} points delivered from its earlier version may be stored twice" if points else "")
        )
    if changed and on_source_change == "fail":
        raise TransferError(
            "on_source_change",
            f"{len(changed)} source(s) changed since an earlier try delivered from them ({', '.join(changed[:5])}"
            f"{', ...' if len(changed) > 5 else ''}); give them back as they were, clear the checkpoint, or set "
            "on_source_change='reread' to read them again from their start with possible duplicates counted",
        )
    for name, (index, _key, points) in old.items():
        if index <= current and points:
            plan.warnings.append(
                f"source {name}, {points} points of which were delivered by an earlier try, is no longer listed"
            )
    return plan
