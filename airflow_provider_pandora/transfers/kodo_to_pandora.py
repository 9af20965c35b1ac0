"""``KodoToPandoraOperator``: stream Kodo objects (one key, or every object under a prefix) into a repo.

Objects are read through :class:`~airflow_provider_pandora.hooks.kodo.KodoHook` (Kodo's S3 API):
streamed, never downloaded whole, ``.gz`` objects decompressed on the fly. A read that breaks midway
is resumed with a ranged request from the byte it reached. To spread a large prefix over workers,
list it with ``KodoHook().list_keys(bucket, prefix)`` and map this operator over the keys with ``.expand(key=...)``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_pandora.exceptions import KodoError, TransferError
from airflow_provider_pandora.transfers._base import BaseTransferOperator
from airflow_provider_pandora.transfers._reading import Source

if TYPE_CHECKING:
    from airflow_provider_pandora.hooks.kodo import ObjectInfo

log = logging.getLogger(__name__)

READ_REOPENS = 3
"""A broken object read is resumed (ranged GET from where it stopped) this many times in a row before failing."""


class ResumingObjectReader(io.RawIOBase):
    """A Kodo object as a readable stream that reopens itself at the current byte after a broken read.

    With ``etag`` every request reads that version only (``If-Match``): bytes of an object replaced between
    tries, or midway through a read, are never stitched onto bytes of the version read before.
    """

    def __init__(
        self, hook: Any, bucket: str, key: str, start: int = 0, size: int | None = None, etag: str | None = None
    ) -> None:
        super().__init__()
        self.hook = hook
        self.bucket = bucket
        self.key = key
        self.position = start
        self.size = size
        self.etag = etag
        self._body: Any = None
        self._reopens = 0

    def readable(self) -> bool:
        """Always readable: lets ``io.BufferedReader`` and ``gzip`` wrap the stream."""
        return True

    def _open(self) -> Any:
        if self.size is not None and self.position >= self.size:
            return io.BytesIO(b"")  # a ranged GET at or past the end is an error; nothing is left anyway
        if self.etag:
            return self.hook.open_object(self.bucket, self.key, start=self.position, etag=self.etag)
        return self.hook.open_object(self.bucket, self.key, start=self.position)

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all for ``-1``); a broken read reopens at the current byte, a few times at most."""
        while True:
            if self._body is None:
                try:
                    self._body = self._open()
                except KodoError as err:
                    if err.code != "PreconditionFailed":
                        raise
                    raise TransferError(
                        "source",
                        f"kodo://{self.bucket}/{self.key} was replaced while it was being read (its ETag is no "
                        f"longer {self.etag}); the next try reads it again from its start",
                    ) from err
            try:
                data: bytes = self._body.read(size if size is not None and size >= 0 else None)
            except Exception as err:
                if self._reopens >= READ_REOPENS:
                    raise
                self._reopens += 1
                log.warning(
                    "reading kodo://%s/%s broke at byte %d (%s); resuming from there",
                    self.bucket,
                    self.key,
                    self.position,
                    err,
                )
                self._close_body()
                continue
            self.position += len(data)
            if data:
                self._reopens = 0  # the limit is on consecutive failures at one position
            return data

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` as ``read`` does; returns the bytes copied (0 at the end of the object)."""
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _close_body(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            try:
                body.close()
            except Exception:  # closing a broken stream must not hide the real error
                log.debug("closing a broken object stream failed", exc_info=True)

    def close(self) -> None:
        """Close the open HTTP body too, so the connection is not left dangling."""
        self._close_body()
        super().close()


def kodo_sources(
    hook: Any, bucket: str, key: str | None, prefix: str | None, *, page_size: int | None = None
) -> list[Source]:
    """One source for ``key``, or per object under ``prefix`` in key order; builds the Kodo hook at run time."""
    if not bucket:
        raise TransferError("bucket", "is required")
    if key and prefix:
        raise TransferError("key", "give either key or prefix, not both")
    if not key and not prefix:
        raise TransferError("key", "give the object's key, or a prefix to read every object under it")
    if key:
        items = [hook.object_info(bucket, str(key))]
    else:
        items = sorted(hook.iter_object_info(bucket, str(prefix), page_size=page_size))
        if not items:
            raise TransferError("prefix", f"no objects under kodo://{bucket}/{prefix}")

    def opener(info: ObjectInfo) -> Any:
        def open_at(offset: int) -> IO[bytes]:
            reader = ResumingObjectReader(hook, bucket, info.key, offset, info.size, etag=info.etag or None)
            return io.BufferedReader(reader, buffer_size=1 << 20)

        return open_at

    return [
        Source(
            name=f"kodo://{bucket}/{info.key}",
            open=opener(info),
            gzip=info.key.endswith(".gz"),
            identity=info.identity(),
        )
        for info in items
    ]


class KodoToPandoraOperator(BaseTransferOperator):
    """Stream Kodo objects into a repo, in bounded memory, resumable after a failed try.

    :param bucket: the bucket (its S3 name).
    :param key: one object; or
    :param prefix: every object under this prefix (``""`` is not allowed: give ``key`` or a prefix).
    :param kodo_conn_id: the ``kodo`` connection (AK/SK, S3 endpoint).
    :param page_size: keys per listing request under ``prefix`` (at most 1000, the default).

    Every other argument is that of :class:`~airflow_provider_pandora.transfers._base.BaseTransferOperator`:
    ``repo``, ``format``, ``schema``, ``field_map``, ``on_bad_line``, ``dead_letter_path``, ``gzip``,
    ``max_in_flight``, ``max_line_bytes``, ``csv_delimiter``, ``pandora_conn_id``.
    """

    template_fields: Sequence[str] = (
        "bucket",
        "key",
        "prefix",
        "kodo_conn_id",
        "page_size",
        *BaseTransferOperator.template_fields,
    )

    def __init__(
        self,
        *,
        bucket: str,
        key: str | None = None,
        prefix: str | None = None,
        kodo_conn_id: str = "kodo_default",
        page_size: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.key = key
        self.prefix = prefix
        self.kodo_conn_id = kodo_conn_id
        self.page_size = page_size

    def sources(self) -> list[Source]:
        """One source for ``key``, or one per object under ``prefix`` in key order (Kodo hook built at run time)."""
        from airflow_provider_pandora.hooks.kodo import KodoHook

        page_size = int(self.page_size) if self.page_size not in (None, "") else None
        return kodo_sources(KodoHook(self.kodo_conn_id), self.bucket, self.key, self.prefix, page_size=page_size)

    def sources_spec(self) -> str:
        """Bucket, key and prefix, for the checkpoint fingerprint (no credentials)."""
        return f"kodo:{self.bucket}:{self.key or ''}:{self.prefix or ''}"
