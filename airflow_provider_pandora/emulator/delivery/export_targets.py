"""What the emulator's exports deliver: files under ``--kodo-root`` for ``kodo`` and push-format POSTs for ``http``.

Pure building blocks; the server decides when to call them (every ``rotateInterval``, after a job run) and
keeps the export's offset and retry state. ``http`` uses :mod:`http.client` from the standard library, so
the emulator needs no HTTP client dependency.
"""

from __future__ import annotations

import csv
import functools
import gzip
import http.client
import io
import os
import re
import socket
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_pandora.emulator.values import as_text, json_text, time_variables
from airflow_provider_pandora.schema import Field
from airflow_provider_pandora.wire import MAX_BATCH_BYTES, PointEncoder, body_of

__all__ = [
    "DEFAULT_PORTS",
    "HTTP_BATCH_POINTS",
    "MAGIC_VARIABLES",
    "Destination",
    "authority",
    "deliver_http",
    "expand_key_prefix",
    "export_content",
    "http_bodies",
    "http_body",
    "http_destination",
    "select_fields",
    "write_kodo",
]

MAGIC_VARIABLES = ("year", "mon", "day", "hour", "min", "sec")
"""The kodo export's ``keyPrefix`` variables, written ``$(name)`` (spec, kodo export note 4)."""
HTTP_BATCH_POINTS = 20000
"""The service's http export sends at most this many records per request (the service's workflow FAQ says so)."""
KODO_FORMATS = ("json", "text", "csv")
DEFAULT_PORTS = {"http": 80, "https": 443}
"""The port of an ``http`` export's destination when its ``host`` names none."""
_MAGIC_RE = re.compile(r"\$\((year|mon|day|hour|min|sec)\)")


def expand_key_prefix(prefix: str, now: datetime) -> str:
    """``keyPrefix`` with its magic variables replaced by ``now``'s parts, zero-padded, in Beijing time as the
    spec says (an aware ``now`` is converted; a naive one is UTC).

    As the spec says, a prefix without any magic variable gets the time appended as
    ``yyyy-MM-dd-HH-mm-ss`` (``"key1/"`` -> ``"key1/2017-01-12-15-30-00"``; ``""`` -> the time alone).
    Unknown ``$(...)`` names are left as written.
    """
    parts = time_variables(now)
    if _MAGIC_RE.search(prefix):
        return _MAGIC_RE.sub(lambda m: parts[m.group(1)], prefix)
    return prefix + "-".join(parts[name] for name in MAGIC_VARIABLES)


def _lookup(point: Mapping[str, Any], name: str) -> Any:
    if name in point:
        return point[name]
    value: Any = point
    for part in name.split("."):  # "#profile.position" reaches into a map field
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def select_fields(spec_fields: Mapping[str, Any] | None, point: Mapping[str, Any]) -> dict[str, Any]:
    """Apply an export's field mapping (``{"dest": "#src"}``) to one point; ``None`` or ``{}`` keeps it whole.

    References are ``#name`` (the SDK's form); a bare ``name`` is read the same way, as the spec's logdb
    example writes it. ``#map.key`` reaches into a map field and a nested mapping builds a nested object
    (logdb ``doc``). Fields missing from the point are left out.
    """
    if not spec_fields:
        return dict(point)
    out: dict[str, Any] = {}
    for key, ref in spec_fields.items():
        if isinstance(ref, Mapping):
            nested = select_fields(ref, point) if ref else {}
            if nested:
                out[key] = nested
            continue
        if not isinstance(ref, str) or not ref.lstrip("#"):
            raise ValueError(f"fields.{key}: {ref!r} must name a source field, like '#{key}'")
        value = _lookup(point, ref[1:] if ref.startswith("#") else ref)
        if value is not None:
            out[key] = value
    return out


# --------------------------------------------------------------------------------------------
# File content
# --------------------------------------------------------------------------------------------
def _json_line(point: Mapping[str, Any]) -> bytes:
    return json_text(point).encode("utf-8")


def export_content(points: Sequence[Mapping[str, Any]], fmt: str = "json", *, delimiter: str = ",") -> bytes:
    """The bytes of one export file: ``json`` = one object per line; ``text`` = the push format (one
    ``key=value<TAB>...`` line per point); ``csv`` = a header row of every key seen, then one row per point."""
    if fmt == "json":
        return b"".join(_json_line(point) + b"\n" for point in points)
    if fmt == "text":
        encoder = PointEncoder()
        return body_of([encoder.encode(point, where=f"point {n}") for n, point in enumerate(points) if point])
    if fmt == "csv":
        columns: dict[str, None] = {}
        for point in points:
            columns.update(dict.fromkeys(point))
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
        writer.writerow(columns)
        for point in points:
            writer.writerow(["" if point.get(c) is None else as_text(point[c]) for c in columns])
        return buffer.getvalue().encode("utf-8")
    if fmt == "parquet":
        raise ValueError("format 'parquet' is not supported by the emulator; use json, text or csv")
    raise ValueError(f"format {fmt!r} is not one of {', '.join(KODO_FORMATS)}")


_BUCKET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def _safe_key(key: str) -> str:
    parts = key.replace("\\", "/").split("/")
    if key.startswith("/") or any(part in (".", "..") for part in parts) or any(p.startswith(".") for p in parts):
        raise ValueError(f"keyPrefix expands to {key!r}, which would leave the bucket or hide the file")
    return key


def write_kodo(kodo_root: Path, spec: Mapping[str, Any], points: Sequence[Mapping[str, Any]], now: datetime) -> Path:
    """Write one kodo export file and return its path, ``<kodo_root>/<bucket>/<key>``.

    ``points`` are the source repo's points: the spec's ``fields`` mapping is applied here. The key is the
    expanded ``keyPrefix`` plus a unique suffix and an extension (``.json``, ``.txt``, ``.csv``; ``.gz``
    added when ``compress`` is true, which gzips the file). The file appears atomically (written under a
    hidden temporary name, then renamed), so a reader never sees half a file. An empty ``points`` writes an
    empty file: skip empty batches before calling.
    """
    bucket = spec.get("bucket")
    if not isinstance(bucket, str) or not _BUCKET_RE.match(bucket) or bucket in (".", ".."):
        raise ValueError(f"spec.bucket {bucket!r} must be a bucket name (letters, digits, '-', '.', '_')")
    fmt = str(spec.get("format") or "json").lower()
    delimiter = spec.get("delimiter") or ","
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(f"spec.delimiter {delimiter!r} must be one character")
    selected = [select_fields(spec.get("fields"), point) for point in points]
    content = export_content(selected, fmt, delimiter=delimiter)
    extension = {"json": ".json", "text": ".txt", "csv": ".csv"}[fmt]
    if spec.get("compress") is True:
        content = gzip.compress(content)
        extension += ".gz"
    stem = expand_key_prefix(str(spec.get("keyPrefix") or ""), now)
    separator = "" if stem.endswith("/") else "_"
    key = _safe_key(f"{stem}{separator}{uuid.uuid4().hex[:12]}{extension}")
    path = Path(kodo_root) / bucket / key
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)
    return path


# --------------------------------------------------------------------------------------------
# HTTP delivery
# --------------------------------------------------------------------------------------------
def http_body(points: Iterable[Mapping[str, Any]], fields: Sequence[Field] | None, *, fmt: str = "text") -> bytes:
    """One request body: the push format (``text``, the default) encoded against ``fields``, or ``json``
    lines. A point that does not fit ``fields`` raises :class:`~airflow_provider_pandora.wire.PointError`."""
    if fmt == "json":
        return b"".join(_json_line(point) + b"\n" for point in points)
    if fmt != "text":
        raise ValueError(f"spec.format {fmt!r} must be text or json")
    return body_of(list(PointEncoder(fields).encode_all(points)))


def http_bodies(
    points: Iterable[Mapping[str, Any]],
    fields: Sequence[Field] | None,
    *,
    fmt: str = "text",
    max_points: int = HTTP_BATCH_POINTS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> Iterator[tuple[int, bytes]]:
    """``(point count, body)`` per request: at most ``max_points`` points and below ``max_bytes`` each
    (a single larger point goes alone), in order, so a failed delivery can be retried from its batch."""
    encoder = PointEncoder(fields)
    lines: list[bytes] = []
    size = 0
    for index, point in enumerate(points):
        line = _json_line(point) if fmt == "json" else encoder.encode(point, where=f"points[{index}]")
        if lines and (len(lines) >= max_points or size + len(line) + 1 >= max_bytes):
            yield len(lines), body_of(lines)
            lines, size = [], 0
        lines.append(line)
        size += len(line) + 1
    if lines:
        yield len(lines), body_of(lines)


@dataclass(frozen=True)
class Destination:
    """Where an ``http`` export posts: the scheme, the host as written in the spec (lower-case, an IPv6 address
    without brackets), the port (the scheme's default when the spec gives none) and the request target."""

    scheme: str
    host: str
    port: int
    target: str

    @property
    def authority(self) -> str:
        """``host:port``, an IPv6 host in brackets: the form ``--export-allow`` takes."""
        return authority(self.host, self.port)

    @property
    def url(self) -> str:
        """The whole URL, for messages."""
        return f"{self.scheme}://{self.authority}{self.target}"


def authority(host: str, port: int | None) -> str:
    """``host[:port]``, an IPv6 host in brackets."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def http_destination(spec: Mapping[str, Any]) -> Destination:
    """Where an ``http`` export's spec points: ``host`` is ``http(s)://name[:port][/base]`` or ``name[:port]``
    (then ``http``), ``uri`` the path under it. :class:`ValueError` says what is wrong with a bad one."""
    host = str(spec.get("host") or "")
    uri = str(spec.get("uri") or "")
    if not host:
        raise ValueError("spec.host is required, e.g. '127.0.0.1:7758' or 'https://example.com'")
    split = urlsplit(host if "://" in host else f"http://{host}")
    if split.scheme not in DEFAULT_PORTS or not split.hostname:
        raise ValueError(f"spec.host {host!r} must be http(s)://name[:port] or name[:port]")
    if "@" in split.netloc:
        raise ValueError(f"spec.host {host!r} must not carry a user name or password")
    try:
        port = split.port if split.port is not None else DEFAULT_PORTS[split.scheme]
    except ValueError as err:  # a port that is not a number or out of range
        raise ValueError(f"spec.host {host!r}: {err}") from None
    target = split.path.rstrip("/") + (uri if uri.startswith("/") else "/" + uri)
    return Destination(split.scheme, split.hostname, port, target)


Address = tuple[int, tuple[Any, ...]]
"""``(family, sockaddr)`` of one resolved address, as :func:`socket.getaddrinfo` gives them."""


def _connect_any(
    addresses: Sequence[Address], address: object, timeout: object = None, source_address: object = None
) -> socket.socket:
    """Connect to the first of ``addresses`` that answers (``address``, what http.client asked for, is ignored)."""
    error: OSError = ConnectionError("no address to connect to")
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if isinstance(timeout, int | float):
                sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as err:
            sock.close()
            error = err
            continue
        return sock
    raise error


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to checked addresses only, whatever the host name would resolve to now."""

    def __init__(self, host: str, port: int, *, addresses: Sequence[Address], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._create_connection = functools.partial(_connect_any, list(addresses))


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to checked addresses only; the certificate is still checked against the host name."""

    def __init__(self, host: str, port: int, *, addresses: Sequence[Address], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._create_connection = functools.partial(_connect_any, list(addresses))


def deliver_http(
    spec: Mapping[str, Any], body: bytes, timeout: float = 5.0, *, addresses: Sequence[Address] | None = None
) -> int:
    """POST ``body`` to ``spec["host"] + spec["uri"]`` and return the HTTP status (any status, no raise).

    ``host`` is ``https://name`` or ``ip:port`` (then ``http``). Content-Type is ``text/plain`` for the
    push format, ``application/json`` when ``spec["format"]`` is ``json``. A connection failure or timeout
    raises :class:`OSError` (``ConnectionRefusedError``, ``TimeoutError``, ``ConnectionError``...).
    ``addresses`` (from :meth:`~airflow_provider_pandora.emulator.delivery.export_allow.ExportPolicy.check`)
    are the only ones connected to; without them the host name is resolved as usual.
    """
    destination = http_destination(spec)
    fmt = str(spec.get("format") or "text").lower()
    headers = {
        "Content-Type": "application/json" if fmt == "json" else "text/plain",
        "User-Agent": "pandora-emulator-export",
    }
    https = destination.scheme == "https"
    connection: http.client.HTTPConnection
    if addresses is not None:
        pinned = _PinnedHTTPSConnection if https else _PinnedHTTPConnection
        connection = pinned(destination.host, destination.port, addresses=addresses, timeout=timeout)
    else:
        plain = http.client.HTTPSConnection if https else http.client.HTTPConnection
        connection = plain(destination.host, destination.port, timeout=timeout)
    try:
        connection.request("POST", destination.target, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except http.client.HTTPException as err:  # e.g. a malformed status line: the receiver is broken
        raise ConnectionError(f"http export to {destination.url} failed: {err!r}") from err
    finally:
        connection.close()
