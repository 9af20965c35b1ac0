"""The emulator's SQL engine: a transform's or job's SQL run on an in-memory SQLite database.

Why SQLite: it ships with Python, runs each query in a fresh in-memory database in milliseconds, and its
dialect is close enough to the Spark SQL that Pandora runs that the spec's examples (and ordinary
``select ... from repo where ... group by ...`` code) run unchanged. The few Spark spellings SQLite
lacks are translated or added as functions (see ``SQL.md`` in the emulator's folder).

Each run creates one table per repo the SQL reads, typed by a declared column type (``PDLONG INTEGER``,
``PDDATE TEXT``...) so that result columns taken straight from a repo column come back with the repo's
type through :mod:`sqlite3` converters; computed columns are typed from their values. Dates are stored as
fixed-width UTC text (``2024-05-01T08:00:00.000000Z``) so they sort and compare as text, arrays and maps as
JSON text so ``json_extract`` works. Everything here is pure: no server, no store.

The sections, in the order a query meets them: :mod:`.tokens`, :mod:`.parameters` (directives and
``${param}``), :mod:`.checks` (shape, read-only, the repos read), :mod:`.translation` (Spark spellings),
:mod:`.tables` (typed tables and converters), :mod:`.functions` (Spark functions), :mod:`.output_types`
(result columns as fields) and :mod:`.run`.
"""

from __future__ import annotations

from airflow_provider_pandora.emulator.sql.checks import check_sql, referenced_repos
from airflow_provider_pandora.emulator.sql.errors import SqlCancelled, SqlError
from airflow_provider_pandora.emulator.sql.parameters import directives, substitute_params
from airflow_provider_pandora.emulator.sql.run import SqlResult, run_sql
from airflow_provider_pandora.emulator.values import coerce_value

__all__ = [
    "SqlCancelled",
    "SqlError",
    "SqlResult",
    "check_sql",
    "coerce_value",
    "directives",
    "referenced_repos",
    "run_sql",
    "substitute_params",
]
