"""``LocalFilesystemToPandoraOperator``: stream local files (a file, a glob or a directory) into a repo."""

from __future__ import annotations

import glob
import io
import os
from collections.abc import Sequence
from typing import IO, Any, cast

from airflow_provider_pandora.exceptions import TransferError
from airflow_provider_pandora.transfers._base import BaseTransferOperator
from airflow_provider_pandora.transfers._reading import Source


def file_identity(stat: os.stat_result) -> dict[str, int]:
    """What tells one version of a file from another: a checkpoint resumes only a file that still matches."""
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "dev": stat.st_dev, "ino": stat.st_ino}


def _changed(path: str, identity: dict[str, int], now: dict[str, int], when: str) -> TransferError:
    return TransferError(
        "source_path",
        f"{path} changed {when} (size {identity['size']} -> {now['size']}, mtime_ns {identity['mtime_ns']} -> "
        f"{now['mtime_ns']}); a file must not be written while it is transferred (write it under another name, then "
        "rename it). The next try reads it again from its start",
    )


class _Unchanging(io.RawIOBase):
    """A local file that hands out no byte read after it stopped matching its identity.

    Checked after every read (an ``fstat``, about a microsecond per 1 MiB chunk): a file rewritten in place while
    it is read fails the try before a line stitched from two versions can be sent.
    """

    def __init__(self, handle: IO[bytes], path: str, identity: dict[str, int]) -> None:
        super().__init__()
        self.handle = handle
        self.path = path
        self.identity = identity
        self.name = path

    def readable(self) -> bool:
        """Always: lets ``gzip`` and ``io.BufferedReader`` wrap it."""
        return True

    def _check(self) -> None:
        now = file_identity(os.fstat(self.handle.fileno()))
        if now != self.identity:
            raise _changed(self.path, self.identity, now, "while it was being read")

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes, refused if the file changed since it was listed."""
        data = self.handle.read(-1 if size is None else size)
        self._check()
        return data

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` as ``read`` does."""
        count = self.handle.readinto(buffer)  # type: ignore[attr-defined]
        self._check()
        return int(count or 0)

    def close(self) -> None:
        """Close the file."""
        self.handle.close()
        super().close()


def _opener(path: str, identity: dict[str, int]) -> Any:
    def open_at(offset: int) -> IO[bytes]:
        handle = open(path, "rb")  # noqa: SIM115 - the engine closes it
        try:
            now = file_identity(os.fstat(handle.fileno()))
            if now != identity:  # never read on (or seek into) another version than the one planned for
                raise _changed(path, identity, now, "after it was listed")
            if offset:
                handle.seek(offset)
        except BaseException:
            handle.close()
            raise
        return cast("IO[bytes]", _Unchanging(handle, path, identity))

    return open_at


def local_files(source_path: str) -> list[str]:
    """The files ``source_path`` names, sorted: the file itself, a glob's matches, or a directory's files.

    A directory is walked recursively; names starting with ``.`` are left out.
    """
    path = os.path.expanduser(str(source_path))
    if os.path.isdir(path):
        files: list[str] = []
        for root, dirs, names in os.walk(path):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            files.extend(os.path.join(root, name) for name in names if not name.startswith("."))
    elif glob.has_magic(path):
        files = [p for p in glob.glob(path, recursive=True) if os.path.isfile(p)]
    elif os.path.isfile(path):
        files = [path]
    else:
        raise TransferError("source_path", f"{source_path!r} is not a file, a directory or a glob that matches")
    if not files:
        raise TransferError("source_path", f"{source_path!r} matches no files")
    return sorted(files)


def local_sources(source_path: str) -> list[Source]:
    """One source per file matched by ``source_path``, ``.gz`` files decompressed on the fly."""
    sources = []
    for path in local_files(source_path):
        identity = file_identity(os.stat(path))
        sources.append(Source(name=path, open=_opener(path, identity), gzip=path.endswith(".gz"), identity=identity))
    return sources


class LocalFilesystemToPandoraOperator(BaseTransferOperator):
    """Stream local files into a repo, in bounded memory, resumable after a failed try.

    :param source_path: a file, a glob (``/data/*.jsonl.gz``, ``**`` allowed) or a directory (every
        file under it, recursively, in name order). ``.gz`` files are decompressed on the fly.

    Every other argument is that of :class:`~airflow_provider_pandora.transfers._base.BaseTransferOperator`:
    ``repo``, ``format``, ``schema``, ``field_map``, ``on_bad_line``, ``dead_letter_path``, ``gzip``,
    ``max_in_flight``, ``max_line_bytes``, ``csv_delimiter``, ``pandora_conn_id``.
    """

    template_fields: Sequence[str] = ("source_path", *BaseTransferOperator.template_fields)

    def __init__(self, *, source_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source_path = source_path

    def sources(self) -> list[Source]:
        """One source per file matched by ``source_path``, in name order."""
        return local_sources(self.source_path)

    def sources_spec(self) -> str:
        """The source path, for the checkpoint fingerprint: another path starts the transfer afresh."""
        return f"local:{self.source_path}"
