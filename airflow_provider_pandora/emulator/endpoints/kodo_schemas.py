"""``GET /v2/schemas`` (spec) and ``POST /v2/schemas`` (SDK): the schema of Kodo files under ``--kodo-root``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_pandora.emulator.core.errors import api_error
from airflow_provider_pandora.emulator.core.service import Engine
from airflow_provider_pandora.emulator.delivery.kodo_source import iter_kodo_files, read_text
from airflow_provider_pandora.emulator.http.framing import Request, Response, ok
from airflow_provider_pandora.schema import NAME_RE
from airflow_provider_pandora.wire import to_datetime

SAMPLE_LINES = 1000


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-" and "T" in value:
        try:
            to_datetime(value)
        except ValueError:
            return "string"
        return "date"
    return "string"


def infer(objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Fields in order of first appearance; a key's type is its first non-null value's, widened long -> float."""
    found: dict[str, dict[str, Any]] = {}
    nested: dict[str, list[Mapping[str, Any]]] = {}
    for obj in objects:
        for key, value in obj.items():
            if value is None or not NAME_RE.match(key):
                continue
            if isinstance(value, Mapping):
                nested.setdefault(key, []).append(value)
                found.setdefault(key, {"key": key, "valtype": "map"})
                continue
            if isinstance(value, list):
                elem = next((_scalar(v) for v in value if v is not None), "string")
                found.setdefault(
                    key, {"key": key, "valtype": "array", "elemtype": elem if elem in ("long", "float") else "string"}
                )
                continue
            kind = _scalar(value)
            entry = found.setdefault(key, {"key": key, "valtype": kind})
            if entry["valtype"] == "long" and kind == "float":
                entry["valtype"] = "float"
    for key, values in nested.items():
        children = infer(values)
        if children and found[key]["valtype"] == "map":
            found[key]["schema"] = children
        else:
            found[key] = {"key": key, "valtype": "jsonstring"}
    return list(found.values())


def get(engine: Engine, req: Request) -> Response:
    """``GET``/``POST /v2/schemas``: a schema inferred from the bucket's files (json and text only)."""
    body = req.json()
    nested = body.get("spec")
    spec: Mapping[str, Any] = nested if isinstance(nested, Mapping) else body
    bucket = spec.get("bucket")
    prefixes = spec.get("keyPrefixes")
    prefix = prefixes[0] if isinstance(prefixes, list) and prefixes else spec.get("keyPrefix") or ""
    file_type = str(spec.get("fileType") or "json").lower()
    if not isinstance(bucket, str) or not bucket:
        raise api_error("E18007", "bucket is required")
    if file_type not in ("json", "text"):
        raise api_error("E18007", f"fileType {file_type!r}: the emulator reads json and text files only")
    try:
        files = iter_kodo_files(engine.kodo_root, bucket, str(prefix))
    except ValueError as err:
        raise api_error("E18007", str(err)) from None
    if not files:
        raise api_error("E18007", f"no files in bucket {bucket!r} under key prefix {prefix!r}")
    if file_type == "text":
        return ok({"schema": [{"key": "text", "valtype": "string"}]})
    objects: list[Mapping[str, Any]] = []
    for key, path in files:
        try:
            text = read_text(path, f"{bucket}/{key}")
        except ValueError as err:
            raise api_error("E18007", str(err)) from None
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                raise api_error("E18007", f"{bucket}/{key} line {number} is not JSON") from None
            if isinstance(obj, Mapping):
                objects.append(obj)
            if len(objects) >= SAMPLE_LINES:
                break
        if len(objects) >= SAMPLE_LINES:
            break
    return ok({"schema": infer(objects)})
