"""Points of a ``kodo``-type repo, read from the local folder that stands in for Kodo (``--kodo-root``).

A kodo repo names a ``bucket``, a ``keyPrefix`` and a ``fileType``; the emulator reads every file
``<kodo_root>/<bucket>/<key>`` whose key starts with the prefix (in key order), un-gzipping by magic bytes
whatever the file is called. ``json`` files hold one JSON object per line; ``text`` files one point per
line in the repo's single string field (the spec's schema endpoint describes text files as one string
field). Values are converted to the repo's types; a line that does not fit raises :class:`ValueError`
naming the file and line, which becomes the job's failure message.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from airflow_provider_pandora.emulator.values import coerce_value
from airflow_provider_pandora.schema import Field

__all__ = ["FILE_TYPES", "iter_kodo_files", "iter_kodo_points", "text_field"]

FILE_TYPES = ("json", "text")
_GZIP_MAGIC = b"\x1f\x8b"


def iter_kodo_files(kodo_root: Path, bucket: str, key_prefix: str) -> list[tuple[str, Path]]:
    """``(key, path)`` of every file in the bucket whose key starts with ``key_prefix``, sorted by key.

    Hidden files and folders (a leading ``.``, such as an export's file being written) are skipped.
    """
    if not bucket or "/" in bucket or "\\" in bucket or bucket in (".", ".."):
        raise ValueError(f"bucket {bucket!r} is not a bucket name")
    root = Path(kodo_root) / bucket
    if not root.is_dir():
        raise ValueError(f"bucket {bucket!r} does not exist: no folder {root}")
    found = []
    for path in root.rglob("*"):
        key = path.relative_to(root).as_posix()
        if path.is_file() and key.startswith(key_prefix or "") and not any(p.startswith(".") for p in key.split("/")):
            found.append((key, path))
    return sorted(found)


def text_field(fields: Sequence[Field]) -> Field:
    """The field a text file's lines go to: the schema's only field, or its field named ``text``."""
    if len(fields) == 1:
        return fields[0]
    for field in fields:
        if field.key == "text":
            return field
    keys = ", ".join(f.key for f in fields) or "none"
    raise ValueError(
        f"text files map each line to one string field, but the repo schema has {len(fields)} fields ({keys}); "
        "give it a single string field (e.g. text)"
    )


def read_text(path: Path, key: str) -> str:
    data = path.read_bytes()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{key}: not a readable gzip file ({err})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{key}: not UTF-8 text (byte {err.start})") from None


def _convert(obj: dict[str, Any], fields: Sequence[Field], where: str) -> dict[str, Any]:
    point: dict[str, Any] = {}
    for field in fields:
        value = obj.get(field.key)
        if value is None:
            if field.required:
                raise ValueError(f"{where}: required field {field.key!r} is missing")
            continue
        try:
            point[field.key] = coerce_value(value, field)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: field {field.key!r}: {err}") from None
    return point


def iter_kodo_points(
    kodo_root: Path, bucket: str, key_prefix: str, file_type: str, fields: Sequence[Field]
) -> Iterator[dict[str, Any]]:
    """Typed points of every matching file, file by file and line by line (blank lines skipped).

    JSON keys that are not in the schema are ignored (files often carry more than a repo needs).
    Raises :class:`ValueError` naming ``<bucket>/<key> line N`` for a line that does not fit.
    """
    kind = (file_type or "json").lower()
    if kind not in FILE_TYPES:
        raise ValueError(f"fileType {file_type!r} is not supported by the emulator; use json or text")
    target = text_field(fields) if kind == "text" else None
    for key, path in iter_kodo_files(kodo_root, bucket, key_prefix):
        name = f"{bucket}/{key}"
        # split on LF only: JSON text may hold U+2028 and friends, which str.splitlines() would split on
        for number, raw in enumerate(read_text(path, name).split("\n"), start=1):
            line = raw.removesuffix("\r")
            if not line.strip():
                continue
            where = f"{name} line {number}"
            if target is not None:
                yield _convert({target.key: line}, [target], where)
                continue
            try:
                obj = json.loads(line)
            except ValueError as err:
                raise ValueError(f"{where}: not a JSON object ({err.args[0] if err.args else err})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{where}: not a JSON object but {type(obj).__name__}")
            yield _convert(obj, fields, where)
