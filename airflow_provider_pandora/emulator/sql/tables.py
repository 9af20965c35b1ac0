"""The connection's tables: one per repo, typed by a declared column type, with the :mod:`sqlite3` converters
that bring the repo's types back."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from airflow_provider_pandora.emulator.sql.errors import SqlError
from airflow_provider_pandora.emulator.values import json_text
from airflow_provider_pandora.schema import Field
from airflow_provider_pandora.wire import to_bool, to_datetime

_DECLTYPES = {
    "long": "PDLONG INTEGER",
    "float": "PDFLOAT REAL",
    "string": "PDSTRING TEXT",
    "ip": "PDSTRING TEXT",
    "date": "PDDATE TEXT",
    "boolean": "PDBOOL INTEGER",
    "array": "PDARRAY TEXT",
    "map": "PDMAP TEXT",
    "jsonstring": "PDJSON TEXT",
}


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _number(raw: bytes) -> int | float | str:
    text = _text(raw)
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _conv_bool(raw: bytes) -> bool | int | float | str:
    value = _number(raw)
    return bool(value) if value in (0, 1) else value


def _conv_date(raw: bytes) -> datetime | str:
    text = _text(raw)
    try:
        return to_datetime(text) if "-" in text else text  # a UNION may put a number here
    except ValueError:
        return text


def _conv_json(kind: type) -> Callable[[bytes], Any]:
    def convert(raw: bytes) -> Any:
        text = _text(raw)
        try:
            value = json.loads(text)
        except ValueError:
            return text
        return value if isinstance(value, kind) else text

    return convert


# Converters are process-wide in sqlite3; these names are private to this module and registered once.
# Columns SQLite already returns as the right Python type have none on purpose: a converter receives text
# (REAL as 15 significant digits, so floats would lose precision) and sqlite3 turns empty text into None.
for _name, _conv in {
    "PDDATE": _conv_date,
    "PDBOOL": _conv_bool,
    "PDARRAY": _conv_json(list),
    "PDMAP": _conv_json(dict),
}.items():
    sqlite3.register_converter(_name, _conv)


def quote_name(name: str) -> str:
    """``name`` as a double-quoted SQLite identifier, quotes doubled, so any repo or field name is safe."""
    return '"' + name.replace('"', '""') + '"'


DATE_TEXT_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _date_text(value: datetime) -> str:
    """Fixed-width UTC text, so that dates sort and compare correctly as strings."""
    v = value.astimezone(UTC)  # strftime("%Y") does not zero-pad years before 1000 on glibc
    return f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}Z"


def to_json_text(value: Any) -> str:
    """Arrays, maps and JSON values as the JSON text their column holds (text is taken as JSON already)."""
    return value if isinstance(value, str) else json_text(value)


def _column_value(field: Field) -> Callable[[Any], Any]:
    vt = field.valtype
    if vt == "date":
        return lambda v: _date_text(to_datetime(v))
    if vt == "boolean":
        return lambda v: int(to_bool(v))
    if vt in ("array", "map", "jsonstring"):
        return to_json_text
    if vt in ("string", "ip"):
        return lambda v: v if isinstance(v, str) else to_json_text(v)
    return lambda v: v


def create_table(conn: sqlite3.Connection, table: str, fields: Sequence[Field]) -> None:
    """A table for a repo read by SQL, typed so the values convert back; raises ``SqlError`` for an empty schema."""
    if not fields:
        raise SqlError(f"repo {table!r} has no schema fields, so the SQL cannot read it")
    columns = ", ".join(f"{quote_name(f.key)} {_DECLTYPES.get(f.valtype, 'PDSTRING TEXT')}" for f in fields)
    try:
        conn.execute(f"CREATE TABLE {quote_name(table)} ({columns})")
    except sqlite3.OperationalError as err:
        raise SqlError(f"cannot read repo {table!r}: {err}") from None


def insert_points(
    conn: sqlite3.Connection, table: str, fields: Sequence[Field], points: Iterable[Mapping[str, Any]]
) -> None:
    """Insert the points as rows in ``fields`` order; a value that does not convert raises ``SqlError`` naming it."""
    keys = [f.key for f in fields]
    converters = [_column_value(f) for f in fields]
    sql = f"INSERT INTO {quote_name(table)} VALUES ({', '.join('?' * len(keys))})"

    def rows() -> Iterator[tuple[Any, ...]]:
        for number, point in enumerate(points, start=1):
            row: list[Any] = []
            for key, convert in zip(keys, converters, strict=True):
                value = point.get(key)
                if value is None:
                    row.append(None)
                    continue
                try:
                    row.append(convert(value))
                except (TypeError, ValueError) as err:
                    raise SqlError(f"repo {table!r} point {number}, field {key!r}: {err}") from None
            yield tuple(row)

    conn.executemany(sql, rows())
