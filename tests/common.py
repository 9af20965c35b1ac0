"""Test data shared across suites: a schema with every value type, and a resource-group container."""

from __future__ import annotations

import json
from pathlib import Path
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


def write_clicks(path: Path, count: int = 300) -> Path:
    """``count`` JSON lines of clicks as the pipeline example's schema wants them (nested map included)."""
    path.write_text(
        "".join(
            json.dumps(
                {
                    "user": f"u{i % 7}",
                    "hits": i,
                    "latency": 0.5,
                    "ok": i % 3 != 0,
                    "at": "2024-05-01T00:00:00Z",
                    "tags": ["a"],
                    "meta": {"zone": "nb", "device": {"os": "linux", "version": 2}},
                }
            )
            + "\n"
            for i in range(count)
        )
    )
    return path
