"""What both transfer operators share: arguments, the checkpoint store, and running the engine.

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
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.providers.common.compat.sdk import Context

from airflow_provider_pandora.operators.base import PandoraBaseOperator
from airflow_provider_pandora.transfers._engine import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_LINE_BYTES,
    CheckpointStore,
    Source,
    Transfer,
    TransferError,
    TransferOptions,
)

#: ``task_state_store`` key (Airflow 3.3+) holding a transfer's checkpoint.
CHECKPOINT_STATE_KEY = "pandora_transfer_checkpoint"
VARIABLE_PREFIX = "pandora_transfer"


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


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", "", "none"):
        return False
    raise TransferError(name, f"must be true or false, got {value!r}")


def _as_int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TransferError(name, f"must be a whole number, got {value!r}") from None


def _as_json(value: Any, name: str) -> Any:
    """Templated dicts and lists may arrive rendered as JSON text."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise TransferError(name, f"is a string but not JSON: {value[:80]!r}") from None
    return value


class BaseTransferOperator(PandoraBaseOperator):
    """Stream lines from sources into ``repo``; subclasses say what the sources are.

    :param repo: the destination repo.
    :param format: ``jsonl`` (one object per line), ``csv`` (header row, then one record per line:
        quoted cells cannot span lines; ``csv_delimiter``; empty cells are left out) or ``pandora``
        (lines already in the push format, passed through unchanged).
    :param schema: the repo schema (spec dicts); fetched from the repo when not given.
    :param field_map: rename keys before encoding (``{"src": "dest"}``), ``None`` as target drops a key.
    :param on_bad_line: ``fail`` (default; the error names source, line, field and reason), ``skip``
        (count them) or ``dead_letter`` (append each, with its reason, as a JSON line to ``dead_letter_path``).
    :param gzip: gzip the request bodies.
    :param max_in_flight: batches posted concurrently while the next ones are read and encoded.
    :param max_line_bytes: longer lines are bad lines (discarded while streaming).
    :param csv_delimiter: the CSV cell delimiter.
    :param encode_processes: ``jsonl`` only: parse and encode in this many spawned processes (0: in the
        task's own process). Worth it for large files on a worker with spare cores; not possible where
        the task runs in a daemonic process (e.g. some Celery setups).

    Returns ``{"points", "bytes", "batches", "bad_lines", "retries", "seconds", "sources",
    "possible_duplicates"}`` (totals over every try of the task instance; ``bytes`` are uncompressed
    bytes delivered, ``sources`` the number of files or objects read).
    """

    template_fields: Sequence[str] = (
        "pandora_conn_id",
        "repo",
        "format",
        "schema",
        "field_map",
        "on_bad_line",
        "dead_letter_path",
        "gzip",
        "max_in_flight",
        "max_line_bytes",
        "csv_delimiter",
        "encode_processes",
    )
    ui_color = "#d6ecfa"

    def __init__(
        self,
        *,
        repo: str,
        format: str = "jsonl",
        schema: Sequence[Mapping[str, Any]] | str | None = None,
        field_map: Mapping[str, str | None] | str | None = None,
        on_bad_line: str = "fail",
        dead_letter_path: str | None = None,
        gzip: bool | str = False,
        max_in_flight: int | str = DEFAULT_MAX_IN_FLIGHT,
        max_line_bytes: int | str = DEFAULT_MAX_LINE_BYTES,
        csv_delimiter: str = ",",
        encode_processes: int | str = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.repo = repo
        self.format = format
        self.schema = schema
        self.field_map = field_map
        self.on_bad_line = on_bad_line
        self.dead_letter_path = dead_letter_path
        self.gzip = gzip
        self.max_in_flight = max_in_flight
        self.max_line_bytes = max_line_bytes
        self.csv_delimiter = csv_delimiter
        self.encode_processes = encode_processes

    # ---- for subclasses ---------------------------------------------------------------------------
    def sources(self) -> list[Source]:
        raise NotImplementedError

    def sources_spec(self) -> str:
        """A description of the inputs, for the checkpoint fingerprint (no secrets)."""
        raise NotImplementedError

    # ---- running ------------------------------------------------------------------------------------
    def transfer_options(self) -> TransferOptions:
        if not self.repo:
            raise TransferError("repo", "is required")
        return TransferOptions(
            repo=str(self.repo),
            format=str(self.format),
            schema=_as_json(self.schema, "schema"),
            field_map=_as_json(self.field_map, "field_map"),
            on_bad_line=str(self.on_bad_line),
            dead_letter_path=str(self.dead_letter_path) if self.dead_letter_path else None,
            gzip=_as_bool(self.gzip, "gzip"),
            max_in_flight=_as_int(self.max_in_flight, "max_in_flight"),
            max_line_bytes=_as_int(self.max_line_bytes, "max_line_bytes"),
            csv_delimiter=str(self.csv_delimiter),
            encode_processes=_as_int(self.encode_processes, "encode_processes"),
        )

    def execute(self, context: Context) -> dict[str, Any]:
        options = self.transfer_options()
        checkpoints = checkpoint_store(context)
        if isinstance(checkpoints, VariableCheckpoints):
            self.log.info("checkpoints go to the Airflow Variable %r (deleted on success)", checkpoints.key)
        elif checkpoints is not None:
            self.log.info("checkpoints go to the task state store, key %r", CHECKPOINT_STATE_KEY)
        transfer = Transfer(
            self.hook,
            options,
            checkpoints=checkpoints,
            sources_spec=self.sources_spec(),
            logger=self.log,
        )
        return transfer.run(self.sources())
