"""``POST /v2/repos/<repo>/data``: the data push, validated whole against the repo schema.

A batch is accepted or refused as a whole, as the service does: every line is decoded and checked
(required keys, types, unknown keys, field length) before any is stored, and the accepted lines go
into SQLite in one transaction. In ``--sink`` mode only the framing is checked and the batch counted.
"""

from __future__ import annotations

import sqlite3
import zlib

from airflow_provider_pandora.emulator.core.errors import api_error
from airflow_provider_pandora.emulator.core.service import Engine
from airflow_provider_pandora.emulator.http.framing import Request, Response, ok
from airflow_provider_pandora.wire import MAX_BATCH_BYTES, MAX_FIELD_BYTES, PointError, split_fields, split_lines

PUSH_CONTENT_TYPES = frozenset({"", "text/plain", "application/text"})


def gunzip(raw: bytes, limit: int = MAX_BATCH_BYTES) -> bytes:
    """Decompress a gzip body, refusing (E18005) more than ``limit`` bytes of output before it is all read."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, limit + 1)
    except zlib.error as err:
        raise api_error("E18125", f"cannot read the gzip request body: {err}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise api_error("E18005", f"the request body is over {limit} bytes once decompressed")
    if not inflater.eof:
        raise api_error("E18125", "cannot read the gzip request body: it ends before the gzip stream does")
    return data


def body_text(req: Request) -> bytes:
    """The uncompressed body, checked for content type, encoding, emptiness and size."""
    content_type = req.header("Content-Type").split(";", 1)[0].strip().lower()
    if content_type not in PUSH_CONTENT_TYPES:
        raise api_error("E18007", f"Content-Type {content_type!r} is not text/plain or application/text")
    if not req.body:
        raise api_error("E18006", "the request body is empty; send one point per line")
    encoding = req.header("Content-Encoding").strip().lower()
    if encoding == "gzip":
        data = gunzip(req.body)
    elif encoding in ("", "identity"):
        data = req.body
    else:
        raise api_error("E18007", f"Content-Encoding {encoding!r} is not supported; use gzip or none")
    if len(data) > MAX_BATCH_BYTES:
        raise api_error("E18005", f"the request body is {len(data)} bytes; a push must stay below {MAX_BATCH_BYTES}")
    return data


def check_framing(lines: list[bytes]) -> None:
    """Sink mode: every line is UTF-8 ``key=value`` fields, each at most 100 KB."""
    for number, line in enumerate(lines, start=1):
        where = f"line {number}"
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise api_error("E18007", f"{where} is not valid UTF-8") from None
        for key, raw in split_fields(text, where=where):
            if len(key) + len(raw) + 1 > MAX_FIELD_BYTES // 4 and len(f"{key}={raw}".encode()) > MAX_FIELD_BYTES:
                raise api_error("E18008", f"{where}.{key} is longer than {MAX_FIELD_BYTES} bytes")


def push(engine: Engine, req: Request) -> Response:
    """``POST /v2/repos/<repo>/data``: points checked against the schema (kodo repos, transform outputs refuse)."""
    name = req.params["repo"]
    data = body_text(req)
    lines = split_lines(data)
    if not lines:
        raise api_error("E18006", "the request body has no points; send one point per line")
    if engine.sink:
        check_framing(lines)
        engine.count_push(len(lines), len(data))
        return ok()
    doc = engine.repo(name)
    if doc.get("type") == "kodo":
        raise api_error("E18109", f"repo {name!r} is a kodo repo: it reads files from its bucket and takes no pushes")
    if doc.get("derivedKind") == "transform" and any(
        t.get("to") == name for t in engine.store.docs("transform", scope=None)
    ):
        raise api_error("E18223", f"repo {name!r} is a transform's destination; its transform writes into it")
    decode = engine.decoder(doc).decode
    try:
        for line in lines:
            decode(line)
    except PointError:
        # find the line again to name it (the fast loop above does not build messages); the server answers
        # the PointError with its code
        for number, line in enumerate(lines, start=1):
            decode(line, where=f"line {number}")
        raise
    try:
        engine.store.append(name, lines)
    except sqlite3.OperationalError as err:
        if "no such table" in str(err):  # the repo was deleted while the batch was being checked
            raise api_error("E18102", f"repo {name!r} does not exist") from None
        raise
    engine.count_push(len(lines), len(data))
    return ok()
