"""Spark SQL functions SQLite does not have, registered on every connection."""

from __future__ import annotations

import json
import math
import random
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from airflow_provider_pandora.emulator.sql.tables import to_json_text
from airflow_provider_pandora.wire import format_datetime, to_datetime


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        return to_datetime(str(value).replace(" ", "T", 1) if " " in str(value) else str(value)).astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None


_JAVA_PATTERN_RE = re.compile(r"yyyy|yy|MM|dd|HH|mm|ss|SSS|'[^']*'")
_JAVA_PATTERN = {"yyyy": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}


def _date_format(value: Any, pattern: Any) -> str | None:
    moment = _parse_time(value)
    if moment is None or not isinstance(pattern, str):
        return None

    def piece(match: re.Match[str]) -> str:
        pattern_piece = match.group()
        if pattern_piece == "SSS":
            return f"{moment.microsecond // 1000:03d}"
        if pattern_piece.startswith("'"):
            return pattern_piece[1:-1]
        return moment.strftime(_JAVA_PATTERN[pattern_piece])

    return _JAVA_PATTERN_RE.sub(piece, pattern)


def _part(attr: str) -> Callable[[Any], int | None]:
    def get(value: Any) -> int | None:
        moment = _parse_time(value)
        return None if moment is None else int(getattr(moment, attr))

    return get


def _json_list(value: Any) -> list[Any] | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return None
    return parsed if isinstance(parsed, list) else None


def _size(value: Any) -> int:
    items = _json_list(value)
    if items is not None:
        return len(items)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return -1
        return len(parsed) if isinstance(parsed, dict) else -1
    return -1  # Spark's size(null)


def _array_contains(value: Any, item: Any) -> int | None:
    items = _json_list(value)
    return None if items is None else int(item in items)


def _regexp(pattern: Any, text: Any) -> int | None:
    if pattern is None or text is None:
        return None
    try:
        return int(re.search(str(pattern), str(text)) is not None)
    except re.error:
        return None


def _concat(*values: Any) -> str | None:
    if any(v is None for v in values):
        return None  # Spark: concat with a null is null
    return "".join(to_json_text(v) if not isinstance(v, (int, float)) else str(v) for v in values)


def _concat_ws(sep: Any, *values: Any) -> str | None:
    if sep is None:
        return None
    return str(sep).join(str(v) for v in values if v is not None)


def _split(text: Any, pattern: Any) -> str | None:
    if text is None or pattern is None:
        return None
    try:
        return json.dumps(re.split(str(pattern), str(text)), ensure_ascii=False)
    except re.error:
        return None


def _unix_timestamp(*args: Any) -> int | None:
    moment = _parse_time(args[0]) if args else datetime.now(UTC)
    return None if moment is None else int(moment.timestamp())


def _from_unixtime(seconds: Any, pattern: Any = "yyyy-MM-dd HH:mm:ss") -> str | None:
    try:
        return _date_format(float(seconds), pattern)
    except (TypeError, ValueError):
        return None


def _to_date(value: Any) -> str | None:
    moment = _parse_time(value)
    return None if moment is None else moment.date().isoformat()


def _floor(value: Any) -> int | None:
    return None if value is None else math.floor(value)


def _ceil(value: Any) -> int | None:
    return None if value is None else math.ceil(value)


_FUNCTIONS: list[tuple[str, int, Callable[..., Any]]] = [
    ("if", 3, lambda cond, yes, no: yes if cond else no),
    ("nvl", 2, lambda value, default: default if value is None else value),
    ("concat", -1, _concat),
    ("concat_ws", -1, _concat_ws),
    ("year", 1, _part("year")),
    ("month", 1, _part("month")),
    ("day", 1, _part("day")),
    ("dayofmonth", 1, _part("day")),
    ("hour", 1, _part("hour")),
    ("minute", 1, _part("minute")),
    ("second", 1, _part("second")),
    ("to_date", 1, _to_date),
    ("date_format", 2, _date_format),
    ("unix_timestamp", -1, _unix_timestamp),
    ("from_unixtime", -1, _from_unixtime),
    ("get_json_object", 2, lambda text, path: _json_extract_like(text, path)),
    ("size", 1, _size),
    ("array_contains", 2, _array_contains),
    ("split", 2, _split),
    ("regexp", 2, _regexp),
    ("lcase", 1, lambda v: None if v is None else str(v).lower()),
    ("ucase", 1, lambda v: None if v is None else str(v).upper()),
    ("rand", 0, random.random),
    ("_pandora_current_date", 0, lambda: datetime.now(UTC).date().isoformat()),
    ("now", 0, lambda: format_datetime(datetime.now(UTC).replace(microsecond=0))),
]
_FALLBACKS: list[tuple[str, int, Callable[..., Any]]] = [("floor", 1, _floor), ("ceil", 1, _ceil)]


def _json_extract_like(text: Any, path: Any) -> Any:
    """``get_json_object``: JSON path lookup returning text for objects and arrays, like Spark."""
    if text is None or not isinstance(path, str):
        return None
    try:
        value: Any = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return None
    for step in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path[1:] if path.startswith("$") else path):
        key, position = step
        if key and isinstance(value, dict):
            value = value.get(key)
        elif position and isinstance(value, list) and int(position) < len(value):
            value = value[int(position)]
        else:
            return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def connect() -> sqlite3.Connection:
    """An in-memory SQLite connection with Pandora's SQL functions (``floor``/``ceil`` only where SQLite lacks them)."""
    conn = sqlite3.connect(":memory:", detect_types=sqlite3.PARSE_DECLTYPES)
    for name, nargs, func in _FUNCTIONS:
        conn.create_function(name, nargs, func, deterministic=name not in ("rand", "now", "unix_timestamp"))
    for name, nargs, func in _FALLBACKS:
        try:
            conn.execute(f"SELECT {name}(1)")
        except sqlite3.OperationalError:
            conn.create_function(name, nargs, func, deterministic=True)
    return conn
