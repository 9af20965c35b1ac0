"""Shape checks (one read-only SELECT), the repos a query reads, and :func:`check_sql`, run before SQL is accepted."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_pandora.emulator.sql.errors import SqlError
from airflow_provider_pandora.emulator.sql.functions import connect
from airflow_provider_pandora.emulator.sql.parameters import PLACEHOLDER_RE, directives
from airflow_provider_pandora.emulator.sql.tables import create_table, quote_name
from airflow_provider_pandora.emulator.sql.tokens import Token, significant, tokenize
from airflow_provider_pandora.emulator.sql.translation import translate
from airflow_provider_pandora.schema import Field

_CLAUSE_END = frozenset({"WHERE", "GROUP", "ORDER", "HAVING", "LIMIT", "UNION", "EXCEPT", "INTERSECT", "WINDOW"})
_STOP_WORDS = frozenset(
    {
        "WHERE", "GROUP", "ORDER", "HAVING", "LIMIT", "UNION", "EXCEPT", "INTERSECT", "JOIN", "INNER", "LEFT",
        "RIGHT", "FULL", "CROSS", "NATURAL", "OUTER", "ON", "USING", "WINDOW", "SELECT", "FROM",
    }
)  # fmt: skip


def _cte_names(tokens: Sequence[Token], sig: Sequence[int]) -> set[str]:
    """Names defined by ``WITH name [(cols)] AS (...)``; they are not repos."""
    names: set[str] = set()
    for pos, index in enumerate(sig):
        tok = tokens[index]
        if tok.kind not in ("ident", "quoted") or pos + 2 >= len(sig):
            continue
        follow = pos + 1
        if tokens[sig[follow]].text == "(":  # optional column list
            depth = 0
            while follow < len(sig):
                text = tokens[sig[follow]].text
                depth += text == "("
                depth -= text == ")"
                follow += 1
                if depth == 0:
                    break
        if (
            follow + 1 < len(sig)
            and tokens[sig[follow]].word == "AS"
            and tokens[sig[follow + 1]].text == "("
            and pos > 0
            and tokens[sig[pos - 1]].word in ("WITH", "RECURSIVE", ",")
        ):
            names.add(tok.name.lower())
    return names


def referenced_repos(code: str) -> list[str]:
    """Repo names the SQL reads, in order of first use: tables after ``FROM`` (and ``,``) and ``JOIN``.

    CTE names, subqueries, table-valued functions and param placeholders are not repos.
    """
    tokens = tokenize(code)
    sig = significant(tokens)
    ctes = _cte_names(tokens, sig)
    found: dict[str, str] = {}

    def table_at(pos: int) -> int:
        """Record the table reference starting at ``sig[pos]``; return the position after it."""
        if pos >= len(sig):
            return pos
        tok = tokens[sig[pos]]
        if tok.kind not in ("ident", "quoted") or (tok.kind == "ident" and tok.word in _STOP_WORDS):
            return pos
        end = pos + 1
        name = tok.name
        while end + 1 < len(sig) and tokens[sig[end]].text == "." and tokens[sig[end + 1]].kind in ("ident", "quoted"):
            name = tokens[sig[end + 1]].name  # schema.table: the table is the last part
            end += 2
        if end < len(sig) and tokens[sig[end]].text == "(":
            return end  # a table-valued function such as json_each(...)
        if name.lower() not in ctes:
            found.setdefault(name.lower(), name)
        return end

    # In a FROM clause (at the paren depth where it started) tables follow FROM, JOIN and commas.
    # ``substring(x FROM 1)`` is not a FROM clause: only parens that hold a query count.
    clause_depths: list[int] = []
    query_level = [True]
    depth = 0
    pos = 0
    while pos < len(sig):
        tok = tokens[sig[pos]]
        word = tok.word
        if tok.text == "(":
            depth += 1
            following = tokens[sig[pos + 1]].word if pos + 1 < len(sig) else ""
            query_level.append(following in ("SELECT", "WITH", "VALUES"))
        elif tok.text == ")":
            depth = max(depth - 1, 0)
            if len(query_level) > 1:
                query_level.pop()
            while clause_depths and clause_depths[-1] > depth:
                clause_depths.pop()
        in_clause = bool(clause_depths) and clause_depths[-1] == depth
        if word == "FROM" and query_level[-1]:
            if not in_clause:
                clause_depths.append(depth)
            pos = table_at(pos + 1)
            continue
        if in_clause and (word == "JOIN" or tok.text == ","):
            pos = table_at(pos + 1)
            continue
        if in_clause and tok.kind == "ident" and word in _CLAUSE_END:
            clause_depths.pop()
        pos += 1
    return list(found.values())


def check_shape(code: str) -> None:
    """Refuse SQL that is not exactly one read-only SELECT (or WITH/VALUES) statement, raising ``SqlError``."""
    if not code or not code.strip():
        raise SqlError("the SQL code is empty; give one SELECT statement")
    tokens = tokenize(code)
    sig = significant(tokens)
    if not sig:
        raise SqlError("the SQL code has only comments; give one SELECT statement")
    first = tokens[sig[0]].word
    if first not in ("SELECT", "WITH", "VALUES"):
        raise SqlError(
            f"the SQL must be one SELECT statement (optionally starting WITH ...), not {tokens[sig[0]].text!r}"
        )
    depth = 0
    for pos, index in enumerate(sig):
        tok = tokens[index]
        if tok.text == ";" and any(tokens[i].text != ";" for i in sig[pos + 1 :]):
            raise SqlError("the SQL holds more than one statement; give exactly one SELECT")
        depth += (tok.text == "(") - (tok.text == ")")
        following = tokens[sig[pos + 1]].word if pos + 1 < len(sig) else ""
        if (
            depth == 0
            and tok.kind == "ident"
            and (tok.word in _WRITES or (tok.word == "REPLACE" and following == "INTO"))
        ):
            raise SqlError(f"the SQL must only read (one SELECT statement); {tok.text!r} would write")


_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "ATTACH", "DETACH", "PRAGMA", "VACUUM"})
_STANDIN_PREFIX = "_pandora_param_"


def _stand_in_placeholders(code: str) -> str:
    """Placeholders become identifiers for checking, so ``where x > ${n}`` parses before params are known."""
    return PLACEHOLDER_RE.sub(
        lambda m: _STANDIN_PREFIX + re.sub(r"\W", "_", m.group("brace") or m.group("paren") or ""), code
    )


def check_sql(code: str, sources: Mapping[str, Sequence[Field]] | None = None) -> None:
    """Check a transform's or job's SQL before it is accepted; raise :class:`SqlError` if it cannot run.

    Without ``sources`` this checks syntax, shape (exactly one SELECT), functions and directives, but not
    column names (the repos' schemas may not exist yet). With ``sources`` (repo name -> fields) it also
    checks that every repo read is a source and every column exists. Param placeholders are allowed.
    """
    check_shape(code)
    directives(code)
    translated_code = _stand_in_placeholders(code)
    repos = referenced_repos(code)
    stand_ins = sorted(set(re.findall(_STANDIN_PREFIX + r"\w*", translated_code)))
    conn = connect()
    try:
        map_fields: set[str] = set()
        for repo in repos:
            if sources is None:
                conn.execute(f"CREATE TABLE {quote_name(repo)} (_pandora_placeholder_column)")
                continue
            source = source_of(repo, sources)
            if source is None:
                raise SqlError(not_a_source(repo, sources))
            fields = sources[source]
            create_table(conn, repo, fields)
            map_fields.update(f.key for f in fields if f.valtype == "map")
        for stand_in in stand_ins:  # a placeholder may name a table: ``from ${table}``
            conn.execute(f"CREATE TABLE {stand_in} (_pandora_placeholder_column)")
        tables = [*repos, *stand_ins]
        sql, _ = translate(translated_code, map_fields=map_fields, tables={r.lower() for r in repos})
        _probe(conn, sql, tables, columns_known=sources is not None)
    finally:
        conn.close()


def _probe(conn: sqlite3.Connection, sql: str, tables: Sequence[str], *, columns_known: bool) -> None:
    """Prepare ``sql``; while SQLite only misses a column that cannot be known yet, add it and retry, so
    that errors behind it (an unknown function, a misused aggregate) still surface."""
    added: set[str] = set()
    for _ in range(100):
        try:
            conn.set_authorizer(read_only)
            conn.execute("EXPLAIN " + sql).fetchall()  # compiles (names, functions) without running
            return
        except sqlite3.Error as err:
            message = str(err)
            unknown = message.startswith("no such column: ") and (not columns_known or _STANDIN_PREFIX in message)
            if message.startswith("ambiguous column name") and added:
                return  # a column added to every table for the check; real schemas decide
            if not unknown:
                raise SqlError(sqlite_message(err)) from None
            column = message.removeprefix("no such column: ").rsplit(".", 1)[-1]
            if column in added or not tables:
                return  # e.g. ``mapcol.key`` on a map column of an unknown schema
            added.add(column)
            conn.set_authorizer(None)
            for table in tables:
                conn.execute(f"ALTER TABLE {quote_name(table)} ADD COLUMN {quote_name(column)}")


STREAM_TABLE = "stream"
"""The name the service's later docs (quickstart, flow.md) and the Go SDK's tests give the source table."""


def source_of(repo: str, sources: Mapping[str, Any]) -> str | None:
    """The source (a key of ``sources``) that the table ``repo`` of the SQL reads, or ``None`` when none is.

    A table is the source repo of that name (any case); ``stream`` is the source repo itself when the transform
    or job has one source and none of them is called ``stream``.
    """
    by_lower = {name.lower(): name for name in sources}
    if repo.lower() in by_lower:
        return by_lower[repo.lower()]
    if repo.lower() == STREAM_TABLE and len(sources) == 1:
        return next(iter(sources))
    return None


def not_a_source(repo: str, sources: Mapping[str, Any]) -> str:
    """The message for SQL that reads a repo which is not among the transform's or job's sources."""
    names = ", ".join(sorted(sources)) or "none"
    return (
        f"the SQL reads from {repo!r}, which is not a source repo of this transform or job (sources: {names}); "
        f"read from the source repo's name or from {STREAM_TABLE!r}"
    )


_READ_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)


def read_only(action: int, *_: Any) -> int:
    """SQLite authorizer: the user's statement may only read (checked when it is compiled)."""
    return sqlite3.SQLITE_OK if action in _READ_ACTIONS else sqlite3.SQLITE_DENY


def sqlite_message(err: sqlite3.Error) -> str:
    """A SQLite error as a message for the user; a denied write says the SQL must only read."""
    text = str(err)
    if text.startswith("not authorized"):
        return "the SQL must only read (one SELECT statement); it tried to write"
    return f"invalid SQL: {text}"
