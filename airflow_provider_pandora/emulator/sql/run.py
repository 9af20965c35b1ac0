""":func:`run_sql`: one query over the repos it reads, in a fresh in-memory database."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_pandora.emulator.sql.checks import (
    check_shape,
    not_a_source,
    read_only,
    referenced_repos,
    source_of,
    sqlite_message,
)
from airflow_provider_pandora.emulator.sql.errors import SqlCancelled, SqlError
from airflow_provider_pandora.emulator.sql.functions import connect
from airflow_provider_pandora.emulator.sql.output_types import column_name, infer_field
from airflow_provider_pandora.emulator.sql.tables import create_table, insert_points
from airflow_provider_pandora.emulator.sql.translation import translate
from airflow_provider_pandora.emulator.values import coerce_value
from airflow_provider_pandora.schema import Field


@dataclass
class SqlResult:
    """Result columns as repo fields (to auto-create the destination repo) and typed rows without ``None``s."""

    fields: list[Field]
    rows: list[dict[str, Any]]


def run_sql(
    code: str,
    sources: Mapping[str, tuple[Sequence[Field], Iterable[Mapping[str, Any]]]],
    *,
    should_stop: Callable[[], bool] | None = None,
    timeout: float | None = 600.0,
) -> SqlResult:
    """Run ``code`` (params already substituted) over ``sources`` (repo name -> (fields, typed points)).

    Only the repos the SQL reads are loaded. Result columns become fields (names made valid: ``count(*)``
    -> ``count``), typed from the repo column they come from or from their values. ``should_stop`` is
    polled while the query runs; when it returns true the run ends with :class:`SqlCancelled`. A query
    still running after ``timeout`` seconds (a runaway recursive CTE, say) fails with :class:`SqlError`.
    """
    check_shape(code)
    repos = referenced_repos(code)
    conn = connect()
    deadline = None if timeout is None else time.monotonic() + timeout
    stopped = False

    def interrupt() -> int:
        nonlocal stopped
        stopped = should_stop is not None and should_stop()
        return int(stopped or (deadline is not None and time.monotonic() > deadline))

    conn.set_progress_handler(interrupt, 5000)
    try:
        map_fields: set[str] = set()
        map_hints: list[Field] = []
        hints: dict[str, Field] = {}
        for repo in repos:
            source = source_of(repo, sources)
            if source is None:
                raise SqlError(not_a_source(repo, sources))
            fields, points = sources[source]
            create_table(conn, repo, fields)
            insert_points(conn, repo, fields, points)
            map_fields.update(f.key for f in fields if f.valtype == "map")
            map_hints.extend(f for f in fields if f.valtype == "map")
            for f in fields:
                hints.setdefault(f.key.lower(), f)
        sql, renames = translate(code, map_fields=map_fields, tables={r.lower() for r in repos})
        conn.set_authorizer(read_only)
        cursor = conn.execute(sql)
        raw_rows = cursor.fetchall()
        description = cursor.description or ()
    except sqlite3.Error as err:
        if stopped:
            raise SqlCancelled("the run was stopped") from None
        if str(err) == "interrupted" and deadline is not None and time.monotonic() > deadline:
            raise SqlError(f"the query ran longer than {timeout:g} s and was stopped") from None
        raise SqlError(sqlite_message(err)) from None
    finally:
        conn.close()

    names = [
        column_name(renames.get(column[0], column[0]), position) for position, column in enumerate(description, start=1)
    ]
    seen: set[str] = set()
    for raw, name in zip((c[0] for c in description), names, strict=True):
        if name.lower() in seen:
            raise SqlError(
                f"the result has two columns named {name!r} (from {raw!r}); give each column a unique alias (AS name)"
            )
        seen.add(name.lower())
    fields = [
        infer_field(name, [row[i] for row in raw_rows if row[i] is not None], hints.get(name.lower()), map_hints)
        for i, name in enumerate(names)
    ]
    rows: list[dict[str, Any]] = []
    for number, raw_row in enumerate(raw_rows, start=1):
        row: dict[str, Any] = {}
        for field, value in zip(fields, raw_row, strict=True):
            if value is None:
                continue
            try:
                row[field.key] = coerce_value(value, field)
            except (TypeError, ValueError) as err:
                raise SqlError(f"result row {number}, column {field.key!r}: {err}") from None
        rows.append(row)
    return SqlResult(fields, rows)
