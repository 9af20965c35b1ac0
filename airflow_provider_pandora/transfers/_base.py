"""What both transfer operators share: their arguments and running the engine.

Checkpoints go to the task state store (Airflow 3.3+) or a Variable: see
:mod:`~airflow_provider_pandora.transfers._checkpoints`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import Context

from airflow_provider_pandora import lineage
from airflow_provider_pandora.exceptions import TransferError
from airflow_provider_pandora.operators.base import PandoraBaseOperator
from airflow_provider_pandora.params import parse_bool_param, parse_int_param, parse_json_param
from airflow_provider_pandora.transfers._checkpoints import (
    CHECKPOINT_STATE_KEY,
    VariableCheckpoints,
    checkpoint_store,
)
from airflow_provider_pandora.transfers._engine import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_LINE_BYTES,
    Transfer,
    TransferOptions,
)
from airflow_provider_pandora.transfers._reading import Source

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

__all__ = ["BaseTransferOperator"]


class BaseTransferOperator(PandoraBaseOperator):
    """Stream lines from sources into ``repo``; subclasses say what the sources are.

    :param repo: the destination repo.
    :param format: ``jsonl`` (one object per line), ``csv`` (header row, then records as the ``csv`` module
        reads them: a quoted cell may hold newlines, a record is numbered by its first line, a quote never
        closed is one bad record to the end of the source; ``csv_delimiter``; empty cells are left out) or
        ``pandora`` (lines already in the push format, passed through unchanged). A UTF-8 byte order mark
        at the start of a source is skipped.
    :param schema: the repo schema (spec dicts); fetched from the repo when not given.
    :param field_map: rename keys before encoding (``{"src": "dest"}``), ``None`` as target drops a key.
    :param on_bad_line: ``fail`` (default; the error names source, line, field and reason), ``skip``
        (count them) or ``dead_letter`` (append each, with its reason, as a JSON line to ``dead_letter_path``,
        whose folder is created, or the path refused, before the first batch is sent).
    :param on_source_change: what a retry does with a source that changed since an earlier try delivered
        from it (a file's size, mtime, device or inode; an object's ETag, size or LastModified): ``reread``
        (default) reads it again from its start and counts the points delivered from its earlier version in
        ``possible_duplicates``; ``fail`` stops the try and names the sources. A new source is always read
        whole, and a byte offset is only ever resumed in a source with the identity the checkpoint describes.
    :param gzip: gzip the request bodies.
    :param max_in_flight: batches posted concurrently while the next ones are read and encoded.
    :param max_line_bytes: longer lines (CSV records, all their lines) are bad lines (discarded while streaming).
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
        "on_source_change",
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
        on_source_change: str = "reread",
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
        self.on_source_change = on_source_change
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
            schema=parse_json_param(self.schema, "schema", error=TransferError),
            field_map=parse_json_param(self.field_map, "field_map", error=TransferError),
            on_bad_line=str(self.on_bad_line),
            dead_letter_path=str(self.dead_letter_path) if self.dead_letter_path else None,
            on_source_change=str(self.on_source_change),
            gzip=parse_bool_param(self.gzip, "gzip", error=TransferError),
            max_in_flight=parse_int_param(self.max_in_flight, "max_in_flight", error=TransferError),
            max_line_bytes=parse_int_param(self.max_line_bytes, "max_line_bytes", error=TransferError),
            csv_delimiter=str(self.csv_delimiter),
            encode_processes=parse_int_param(self.encode_processes, "encode_processes", error=TransferError),
        )

    def execute(self, context: Context) -> dict[str, Any]:
        """Stream the sources into the repo; returns the totals (see the class docstring)."""
        self.check_outlets()
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
        sources = self.sources()
        self._lineage_sources = [source.name for source in sources]
        result = transfer.run(sources)
        self._transferred = result
        self.emit_outlet_events(
            context,
            [options.repo],
            source=lineage.source_uris(self._lineage_sources, limit=1)[0] if sources else None,
            **{key: result.get(key) for key in ("points", "bytes", "batches", "bad_lines", "sources")},
        )
        return result

    _lineage_sources: list[str] | None = None
    _transferred: dict[str, Any] | None = None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The files or objects read (past ``lineage.MAX_LINEAGE_INPUTS``, their common prefix), the repo with
        the points and bytes delivered, and a ``pandora_transfer`` run facet (bad lines, batches, duplicates).

        A try that failed after listing its sources reports them and the repo without statistics.
        """
        if self._lineage_sources is None:
            return lineage.empty_lineage()
        done = self._transferred or {}
        output = lineage.repo_dataset(
            self.hook.config, str(self.repo), rows=done.get("points"), size=done.get("bytes"), output=True
        )
        run_facets = lineage.transfer_run_facet(done) if done else {}
        return lineage.operator_lineage(lineage.source_datasets(self._lineage_sources), [output], run_facets=run_facets)
