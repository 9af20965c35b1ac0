"""Checkpoints: where a transfer saves its position after each acknowledged batch.

Checkpoints live where Airflow keeps task state:

* Airflow 3.3+: the task state store (``context["task_state_store"]``, the same store
  ``PandoraStartJobOperator`` uses), scoped to the task instance (dag run, task, map index), so every
  retry of that instance sees it;
* below 3.3: an Airflow Variable named ``pandora_transfer:<dag_id>:<task_id>:<run_id>:<map_index>``.

Either way the checkpoint is deleted when the transfer succeeds. A checkpoint is only a position and
counters (never data or secrets), and one saved for other inputs (repo, format, sources) is ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

CHECKPOINT_VERSION = 1
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
