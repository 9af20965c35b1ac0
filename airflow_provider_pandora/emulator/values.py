"""Typed values in the emulator: how one is coerced to a field's type and rendered as JSON or text, and the
service's clock. One rule each for the endpoints, the SQL runner and delivery.

Typed values are what :class:`~airflow_provider_pandora.wire.PointDecoder` returns (int, float, str,
bool, aware datetime, list, dict). Dates are RFC 3339 text; a naive datetime is taken as UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from airflow_provider_pandora.schema import Field
from airflow_provider_pandora.wire import format_datetime, to_bool, to_datetime, to_float, to_long

SERVICE_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
"""The service's clock (Beijing time); magic variables, crontab schedules and key prefixes are read in it."""


def service_time(moment: datetime) -> datetime:
    """``moment`` on the service's clock (Beijing time); a naive datetime is taken as UTC."""
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(SERVICE_TZ)


def time_variables(moment: datetime) -> dict[str, str]:
    """The magic variables ``$(year)`` ... ``$(sec)``, ``$(date)`` and ``$(now)`` of ``moment`` on the service's
    clock, as job SQL and Kodo export key prefixes spell them."""
    now = service_time(moment)
    return {
        "year": f"{now.year:04d}",
        "mon": f"{now.month:02d}",
        "day": f"{now.day:02d}",
        "hour": f"{now.hour:02d}",
        "min": f"{now.minute:02d}",
        "sec": f"{now.second:02d}",
        "date": f"{now.year:04d}-{now.month:02d}-{now.day:02d}",
        "now": now.replace(microsecond=0).isoformat(),
    }


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` for typed values: dates as RFC 3339 text, sets as lists."""
    if isinstance(value, datetime):
        return format_datetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} value {value!r} is not JSON serialisable")


def json_text(value: Any) -> str:
    """Compact JSON text (``{"a":1}``), non-ASCII kept as is."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=json_default)


def as_text(value: Any) -> str:
    """A value as a string field or CSV cell holds it: text as is, ``true``/``false``, numbers as Python
    writes them (``repr`` keeps a float's every digit), dates as RFC 3339, lists and maps as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return json_text(value)


def coerce_value(value: Any, field: Field) -> Any:
    """``value`` as the canonical Python value of ``field``'s type (int, float, str, bool, aware datetime,
    list, dict), as :class:`~airflow_provider_pandora.wire.PointDecoder` returns them.

    Raises :class:`ValueError` with the reason when the value does not fit.
    """
    vt = field.valtype
    if vt == "long":
        return to_long(int(value) if isinstance(value, bool) else value)
    if vt == "float":
        return to_float(float(value) if isinstance(value, bool) else value)
    if vt == "boolean":
        return to_bool(value)
    if vt == "date":
        return to_datetime(value)
    if vt in ("string", "ip"):
        return as_text(value)
    if vt == "jsonstring":
        return json.loads(value) if isinstance(value, str) else value
    if vt == "array":
        items = json.loads(value) if isinstance(value, str) else value
        if not isinstance(items, list):
            raise ValueError(f"{value!r} is not an array")
        elem = Field("element", field.elemtype or "string")
        return [coerce_value(item, elem) for item in items if item is not None]
    if vt == "map":
        obj = json.loads(value) if isinstance(value, str) else value
        if not isinstance(obj, dict):
            raise ValueError(f"{value!r} is not an object")
        children = field.by_key
        out = {}
        for key, item in obj.items():
            child = children.get(key)
            if child is not None and item is not None:
                out[key] = coerce_value(item, child)
        return out
    raise ValueError(f"unknown valtype {vt!r}")
