"""Test data shared across suites: a schema with every value type, and a resource-group container."""

from __future__ import annotations

from typing import Any

CONTAINER: dict[str, Any] = {"type": "M16C4", "count": 1}
#: One field of each valtype (string, long, float, boolean, date, array, map), ``user`` required.
SCHEMA: list[dict[str, Any]] = [
    {"key": "user", "valtype": "string", "required": True},
    {"key": "hits", "valtype": "long"},
    {"key": "ratio", "valtype": "float"},
    {"key": "ok", "valtype": "boolean"},
    {"key": "at", "valtype": "date"},
    {"key": "tags", "valtype": "array", "elemtype": "string"},
    {"key": "meta", "valtype": "map", "schema": [{"key": "zone", "valtype": "string"}]},
]
