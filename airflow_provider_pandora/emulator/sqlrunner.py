"""The emulator's SQL engine: a transform's or job's SQL run on an in-memory SQLite database.

Why SQLite: it ships with Python, runs each query in a fresh in-memory database in milliseconds, and its
dialect is close enough to the Spark SQL that Pandora runs that the spec's examples (and ordinary
``select ... from repo where ... group by ...`` code) run unchanged. The few Spark spellings SQLite
lacks are translated or added as functions (see ``SQL.md`` beside this file).

Each run creates one table per repo the SQL reads, typed by a declared column type (``PDLONG INTEGER``,
``PDDATE TEXT``...) so that result columns taken straight from a repo column come back with the repo's
type through :mod:`sqlite3` converters; computed columns are typed from their values. Dates are stored as
fixed-width UTC text (``2024-05-01T08:00:00.000000Z``) so they sort and compare as text, arrays and maps as
JSON text so ``json_extract`` works. Everything here is pure: no server, no store.
"""

from __future__ import annotations

import json
import math
import random
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airflow_provider_pandora.emulator.scheduler import service_time
from airflow_provider_pandora.schema import NAME_RE, Field
from airflow_provider_pandora.wire import format_datetime, to_bool, to_datetime, to_float, to_long

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

SYSTEM_VARIABLES = ("year", "mon", "day", "hour", "min", "sec", "date", "now")
"""Magic variables every job's code may use without declaring a param (api/batch.md)."""
DIRECTIVE_KEYS = ("sleep", "fail")


class SqlError(Exception):
    """The SQL cannot run; the message says why in words a user can act on (the server maps it to E18209)."""


class SqlCancelled(SqlError):
    """The run was stopped through ``should_stop`` (a job's ``stop`` action)."""


@dataclass
class SqlResult:
    """Result columns as repo fields (to auto-create the destination repo) and typed rows without ``None``s."""

    fields: list[Field]
    rows: list[dict[str, Any]]


# --------------------------------------------------------------------------------------------
# Tokenizing: every rewrite below happens outside string literals and comments
# --------------------------------------------------------------------------------------------
_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")*"|`(?:[^`]|``)*`)
  | (?P<placeholder>\$\{[^}\n]*\}|\$\([^)\n]*\))
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>->>|->|\|\||<=|>=|<>|!=|==)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass
class _Tok:
    kind: str
    text: str

    @property
    def word(self) -> str:
        """Keyword comparison form: upper-case identifiers, anything else verbatim."""
        return self.text.upper() if self.kind == "ident" else self.text

    @property
    def name(self) -> str:
        """An identifier's name with quotes removed."""
        if self.kind == "quoted":
            quote = self.text[0]
            return self.text[1:-1].replace(quote * 2, quote)
        return self.text


def _tokens(code: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(code):
        match = _TOKEN_RE.match(code, pos)
        if match is None:  # an unterminated quote: leave the rest to SQLite, which names the problem
            out.append(_Tok("other", code[pos:]))
            break
        kind = match.lastgroup or "other"
        out.append(_Tok(kind, match.group()))
        pos = match.end()
    return out


def _significant(tokens: Sequence[_Tok]) -> list[int]:
    """Indexes of the tokens that are not whitespace or comments."""
    return [i for i, tok in enumerate(tokens) if tok.kind not in ("ws", "comment")]


# --------------------------------------------------------------------------------------------
# Directives and params
# --------------------------------------------------------------------------------------------
_DIRECTIVE_LINE_RE = re.compile(r"^\s*--\s*emulator\s*:(?P<body>.*)$", re.MULTILINE | re.IGNORECASE)
_DIRECTIVE_PAIR_RE = re.compile(r'\s*(?P<key>[A-Za-z_]\w*)\s*=\s*(?P<value>"(?:[^"\\]|\\.)*"|[^\s"]+)\s*')
_PLACEHOLDER_RE = re.compile(r"\$\{\s*(?P<brace>[^}\n]*?)\s*\}|\$\(\s*(?P<paren>[^)\n]*?)\s*\)")


def directives(code: str) -> dict[str, str]:
    """Emulator directives from ``-- emulator: sleep=3 fail="message"`` comment lines.

    They let tests and demos make a run last ``sleep`` seconds or fail with ``fail``'s message; the real
    service sees an ordinary comment. Later lines override earlier ones.
    """
    found: dict[str, str] = {}
    for line in _DIRECTIVE_LINE_RE.finditer(code):
        body = line.group("body")
        pos = 0
        while pos < len(body):
            if not body[pos:].strip():
                break
            pair = _DIRECTIVE_PAIR_RE.match(body, pos)
            if pair is None:
                raise SqlError(
                    f"emulator directive {line.group().strip()!r} is malformed at {body[pos:].strip()[:30]!r}; "
                    'write key=value pairs such as: -- emulator: sleep=3 fail="message"'
                )
            key, value = pair.group("key").lower(), pair.group("value")
            if key not in DIRECTIVE_KEYS:
                raise SqlError(f"unknown emulator directive {key!r}; known: {', '.join(DIRECTIVE_KEYS)}")
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            found[key] = value
            pos = pair.end()
    if "sleep" in found:
        try:
            seconds = float(found["sleep"])
        except ValueError:
            seconds = -1.0
        if not (math.isfinite(seconds) and seconds >= 0):
            raise SqlError(f"emulator directive sleep={found['sleep']!r} must be a number of seconds >= 0")
    return found


def _system_values(now: datetime) -> dict[str, str]:
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


def substitute_params(code: str, params: Mapping[str, str], *, now: datetime | None = None) -> str:
    """Replace a job's magic variables, written ``$(name)`` (the docs' form) or ``${name}``, with their text.

    ``params`` are the job's params (defaults merged with the values given at start); the system variables
    ``year mon day hour min sec date now`` come from ``now`` (default: the current time) in Beijing time,
    the service's clock, unless a param of the same name overrides them. Values are inserted as written,
    so quote them in the SQL where a string is meant (``where day = '$(date)'``). Unknown names raise
    :class:`SqlError` naming all of them.
    """
    system: dict[str, str] | None = None
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        nonlocal system
        name = match.group("brace") if match.group("brace") is not None else match.group("paren")
        if name in params:
            return str(params[name])
        if name in SYSTEM_VARIABLES:
            if system is None:
                system = _system_values(service_time(now or datetime.now(UTC)))
            return system[name]
        if name not in missing:
            missing.append(name)
        return match.group()

    result = _PLACEHOLDER_RE.sub(replace, code)
    if missing:
        known = sorted(set(params) | set(SYSTEM_VARIABLES))
        raise SqlError(
            f"the SQL uses undefined param(s) {', '.join(repr(m) for m in missing)}; "
            f"declare them in the job's params or pass them at start (known: {', '.join(known)})"
        )
    return result


# --------------------------------------------------------------------------------------------
# Shape checks and the repos a query reads
# --------------------------------------------------------------------------------------------
_CLAUSE_END = frozenset({"WHERE", "GROUP", "ORDER", "HAVING", "LIMIT", "UNION", "EXCEPT", "INTERSECT", "WINDOW"})
_STOP_WORDS = frozenset(
    {
        "WHERE", "GROUP", "ORDER", "HAVING", "LIMIT", "UNION", "EXCEPT", "INTERSECT", "JOIN", "INNER", "LEFT",
        "RIGHT", "FULL", "CROSS", "NATURAL", "OUTER", "ON", "USING", "WINDOW", "SELECT", "FROM",
    }
)  # fmt: skip


def _cte_names(tokens: Sequence[_Tok], sig: Sequence[int]) -> set[str]:
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
    tokens = _tokens(code)
    sig = _significant(tokens)
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


def _check_shape(code: str) -> None:
    if not code or not code.strip():
        raise SqlError("the SQL code is empty; give one SELECT statement")
    tokens = _tokens(code)
    sig = _significant(tokens)
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
    return _PLACEHOLDER_RE.sub(
        lambda m: _STANDIN_PREFIX + re.sub(r"\W", "_", m.group("brace") or m.group("paren") or ""), code
    )


def check_sql(code: str, sources: Mapping[str, Sequence[Field]] | None = None) -> None:
    """Check a transform's or job's SQL before it is accepted; raise :class:`SqlError` if it cannot run.

    Without ``sources`` this checks syntax, shape (exactly one SELECT), functions and directives, but not
    column names (the repos' schemas may not exist yet). With ``sources`` (repo name -> fields) it also
    checks that every repo read is a source and every column exists. Param placeholders are allowed.
    """
    _check_shape(code)
    directives(code)
    translated_code = _stand_in_placeholders(code)
    repos = referenced_repos(code)
    stand_ins = sorted(set(re.findall(_STANDIN_PREFIX + r"\w*", translated_code)))
    conn = _connect()
    try:
        by_lower = {name.lower(): (name, fields) for name, fields in (sources or {}).items()}
        map_fields: set[str] = set()
        for repo in repos:
            if sources is None:
                conn.execute(f"CREATE TABLE {_quote(repo)} (_pandora_placeholder_column)")
                continue
            if repo.lower() not in by_lower:
                raise SqlError(_not_a_source(repo, sources))
            fields = by_lower[repo.lower()][1]
            _create_table(conn, repo, fields)
            map_fields.update(f.key for f in fields if f.valtype == "map")
        for stand_in in stand_ins:  # a placeholder may name a table: ``from ${table}``
            conn.execute(f"CREATE TABLE {stand_in} (_pandora_placeholder_column)")
        tables = [*repos, *stand_ins]
        sql, _ = _translate(translated_code, map_fields=map_fields, tables={r.lower() for r in repos})
        _probe(conn, sql, tables, columns_known=sources is not None)
    finally:
        conn.close()


def _probe(conn: sqlite3.Connection, sql: str, tables: Sequence[str], *, columns_known: bool) -> None:
    """Prepare ``sql``; while SQLite only misses a column that cannot be known yet, add it and retry, so
    that errors behind it (an unknown function, a misused aggregate) still surface."""
    added: set[str] = set()
    for _ in range(100):
        try:
            conn.set_authorizer(_read_only)
            conn.execute("EXPLAIN " + sql).fetchall()  # compiles (names, functions) without running
            return
        except sqlite3.Error as err:
            message = str(err)
            unknown = message.startswith("no such column: ") and (not columns_known or _STANDIN_PREFIX in message)
            if message.startswith("ambiguous column name") and added:
                return  # a column added to every table for the check; real schemas decide
            if not unknown:
                raise SqlError(_sqlite_message(err)) from None
            column = message.removeprefix("no such column: ").rsplit(".", 1)[-1]
            if column in added or not tables:
                return  # e.g. ``mapcol.key`` on a map column of an unknown schema
            added.add(column)
            conn.set_authorizer(None)
            for table in tables:
                conn.execute(f"ALTER TABLE {_quote(table)} ADD COLUMN {_quote(column)}")


def _not_a_source(repo: str, sources: Mapping[str, Any]) -> str:
    names = ", ".join(sorted(sources)) or "none"
    return f"the SQL reads from {repo!r}, which is not a source repo of this transform or job (sources: {names})"


_READ_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)


def _read_only(action: int, *_: Any) -> int:
    """SQLite authorizer: the user's statement may only read (checked when it is compiled)."""
    return sqlite3.SQLITE_OK if action in _READ_ACTIONS else sqlite3.SQLITE_DENY


def _sqlite_message(err: sqlite3.Error) -> str:
    text = str(err)
    if text.startswith("not authorized"):
        return "the SQL must only read (one SELECT statement); it tried to write"
    return f"invalid SQL: {text}"


# --------------------------------------------------------------------------------------------
# Translation of the Spark SQL spellings SQLite lacks
# --------------------------------------------------------------------------------------------
_CAST_TYPES = {"STRING": "TEXT", "LONG": "INTEGER", "BIGINT": "INTEGER", "BOOLEAN": "INTEGER", "DOUBLE": "REAL"}
_NOW_FUNCTIONS = {"CURRENT_TIMESTAMP": "now", "CURRENT_DATE": "_pandora_current_date"}


def _translate(code: str, *, map_fields: Iterable[str] = (), tables: Iterable[str] = ()) -> tuple[str, dict[str, str]]:
    """Rewrite Spark-isms outside literals: ``rlike``, ``cast(x as string)``, ``current_timestamp()``,
    ``col['key']`` and ``mapcol.key`` (for map fields) into SQLite.

    Also returns the names Spark gives unaliased map lookups (``profile.position`` -> ``position``), keyed
    by the rewritten expression, which is what SQLite names such a column.
    """
    tokens = _tokens(code)
    maps = {name.lower() for name in map_fields}
    table_names = {name.lower() for name in tables}
    sig = _significant(tokens)
    nxt = {sig[p]: (sig[p + 1] if p + 1 < len(sig) else None) for p in range(len(sig))}
    out: list[str] = []
    renames: dict[str, str] = {}
    cast_depths: list[int] = []  # paren depth of each open CAST(
    depth = 0
    skip_until = -1
    for index, tok in enumerate(tokens):
        if index <= skip_until:
            continue
        word = tok.word
        following = nxt.get(index)
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            if cast_depths and cast_depths[-1] == depth:
                cast_depths.pop()
            depth -= 1
        if tok.kind == "ident":
            if word == "RLIKE":
                out.append("REGEXP")
                continue
            if word == "CAST" and following is not None and tokens[following].text == "(":
                cast_depths.append(depth + 1)
            elif word in _CAST_TYPES and cast_depths and cast_depths[-1] == depth and _prev_word(out) == "AS":
                out.append(_CAST_TYPES[word])
                continue
            if word in _NOW_FUNCTIONS and following is not None and tokens[following].text == "(":
                close = nxt.get(following)
                if close is not None and tokens[close].text == ")":
                    out.append(_NOW_FUNCTIONS[word] + "()")
                    skip_until = close
                    continue
        if tok.kind in ("ident", "quoted") and (index == 0 or tokens[index - 1].text != "."):
            rewritten = _map_access(tokens, index, nxt, maps, table_names)
            if rewritten is not None:
                text, last, leaf = rewritten
                renames[text] = leaf
                out.append(text)
                skip_until = last
                continue
        out.append(tok.text)
    return "".join(out), renames


def _prev_word(out: Sequence[str]) -> str:
    for text in reversed(out):
        if text.strip():
            return text.upper()
    return ""


def _map_access(
    tokens: Sequence[_Tok], index: int, nxt: Mapping[int, int | None], maps: set[str], tables: set[str]
) -> tuple[str, int, str] | None:
    """``a.b.c`` (``a`` or ``t.a`` a map field) and ``a['k'][0]`` -> ``json_extract(a, '$."b"."c"')``."""
    parts = [index]
    cur = index
    while True:
        dot = nxt.get(cur)
        name = nxt.get(dot) if dot is not None else None
        if dot is None or name is None or tokens[dot].text != "." or tokens[name].kind not in ("ident", "quoted"):
            break
        parts.append(name)
        cur = name
    names = [tokens[i].name.lower() for i in parts]
    # which part is the map column: the first, or the second after a table name or alias
    if len(names) >= 2 and names[1] in maps and (names[0] in tables or names[0] not in maps):
        split = 2
    elif names[0] in maps:
        split = 1
    else:
        split = len(names)
    column = ".".join(tokens[i].text for i in parts[:split])
    path = [f'."{tokens[i].name}"' for i in parts[split:]]
    leaf = tokens[parts[-1]].name
    last = parts[split - 1] if not path else parts[-1]
    # subscripts: col['key'] and col[0]
    while True:
        open_ = nxt.get(last)
        key = nxt.get(open_) if open_ is not None else None
        close = nxt.get(key) if key is not None else None
        if open_ is None or key is None or close is None or tokens[open_].text != "[" or tokens[close].text != "]":
            break
        if tokens[key].kind == "string":
            leaf = tokens[key].text[1:-1].replace("''", "'")
            path.append('."' + leaf.replace('"', '\\"') + '"')
        elif tokens[key].kind == "number" and tokens[key].text.isdigit():
            path.append(f"[{tokens[key].text}]")
            leaf = f"{leaf}_{tokens[key].text}"
        else:
            break
        last = close
    if not path:
        return None
    json_path = "$" + "".join(path)
    return f"json_extract({column}, '{json_path.replace(chr(39), chr(39) * 2)}')", last, leaf


# --------------------------------------------------------------------------------------------
# The connection: typed tables, converters, Spark functions
# --------------------------------------------------------------------------------------------
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


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_DATE_TEXT_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _date_text(value: datetime) -> str:
    """Fixed-width UTC text, so that dates sort and compare correctly as strings."""
    v = value.astimezone(UTC)  # strftime("%Y") does not zero-pad years before 1000 on glibc
    return f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}Z"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _to_json_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _column_value(field: Field) -> Callable[[Any], Any]:
    vt = field.valtype
    if vt == "date":
        return lambda v: _date_text(to_datetime(v))
    if vt == "boolean":
        return lambda v: int(to_bool(v))
    if vt in ("array", "map", "jsonstring"):
        return _to_json_text
    if vt in ("string", "ip"):
        return lambda v: v if isinstance(v, str) else _to_json_text(v)
    return lambda v: v


def _create_table(conn: sqlite3.Connection, table: str, fields: Sequence[Field]) -> None:
    if not fields:
        raise SqlError(f"repo {table!r} has no schema fields, so the SQL cannot read it")
    columns = ", ".join(f"{_quote(f.key)} {_DECLTYPES.get(f.valtype, 'PDSTRING TEXT')}" for f in fields)
    try:
        conn.execute(f"CREATE TABLE {_quote(table)} ({columns})")
    except sqlite3.OperationalError as err:
        raise SqlError(f"cannot read repo {table!r}: {err}") from None


def _insert(conn: sqlite3.Connection, table: str, fields: Sequence[Field], points: Iterable[Mapping[str, Any]]) -> None:
    keys = [f.key for f in fields]
    converters = [_column_value(f) for f in fields]
    sql = f"INSERT INTO {_quote(table)} VALUES ({', '.join('?' * len(keys))})"

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


# ---- Spark SQL functions SQLite does not have ------------------------------------------------
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
    return "".join(_to_json_text(v) if not isinstance(v, (int, float)) else str(v) for v in values)


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


def _connect() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", detect_types=sqlite3.PARSE_DECLTYPES)
    for name, nargs, func in _FUNCTIONS:
        conn.create_function(name, nargs, func, deterministic=name not in ("rand", "now", "unix_timestamp"))
    for name, nargs, func in _FALLBACKS:
        try:
            conn.execute(f"SELECT {name}(1)")
        except sqlite3.OperationalError:
            conn.create_function(name, nargs, func, deterministic=True)
    return conn


# --------------------------------------------------------------------------------------------
# Output typing
# --------------------------------------------------------------------------------------------
def _column_name(raw: str, position: int) -> str:
    """A repo field name for a result column: ``count(*)`` -> ``count``, ``sum(hits)`` -> ``sum_hits``."""
    if NAME_RE.match(raw):
        return raw
    name = re.sub(r"[^A-Za-z0-9_]+", "_", raw).strip("_")[:128]
    if not name:
        return f"col{position}"
    if name[0].isdigit():
        name = ("_" + name)[:128]
    return name


def _infer_scalar(values: Sequence[Any]) -> str:
    """The valtype of a list of non-null scalar Python values; mixed kinds fall back to ``string``."""
    kinds = {type(v) for v in values}
    if kinds <= {bool}:
        return "boolean"
    if kinds <= {int, bool}:
        return "long"
    if kinds <= {int, float, bool}:
        return "float"
    if kinds <= {datetime}:
        return "date"
    if kinds <= {str} and all(_DATE_TEXT_RE.match(v) for v in values):
        return "date"  # min/max/coalesce... of a date column keep the stored date text
    return "string"


def _infer(key: str, values: Sequence[Any], hint: Field | None, maps: Sequence[Field] = ()) -> Field:
    if not values:
        if hint is not None:
            return Field(key, hint.valtype, False, hint.elemtype, hint.children)
        return Field(key, "string")
    if all(isinstance(v, list) for v in values):
        if hint is not None and hint.valtype == "array":
            return Field(key, "array", False, hint.elemtype)
        elems = [e for v in values for e in v if e is not None]
        elem = _infer_scalar(elems) if elems else "string"
        return Field(key, "array", False, elem if elem in ("long", "float") else "string")
    if all(isinstance(v, dict) for v in values):
        if hint is not None and hint.valtype == "map":
            return Field(key, "map", False, None, hint.children)
        seen_keys = {k for v in values for k in v}
        for candidate in maps:  # an aliased map column: the source map whose keys cover what we see
            if seen_keys <= set(candidate.by_key):
                return Field(key, "map", False, None, candidate.children)
        children = _infer_children(values)
        return Field(key, "map", False, None, children) if children else Field(key, "string")
    valtype = _infer_scalar(values)
    if hint is not None and hint.valtype == valtype:
        return Field(key, valtype, False, hint.elemtype, hint.children)
    return Field(key, str(valtype))


def _infer_children(values: Sequence[Mapping[str, Any]]) -> tuple[Field, ...]:
    keys: dict[str, list[Any]] = {}
    for value in values:
        for key, item in value.items():
            items = keys.setdefault(key, [])
            if item is not None:
                items.append(item)
    if any(not NAME_RE.match(key) for key in keys):
        return ()  # keys that cannot be field names: keep the map as JSON text
    return tuple(_infer(key, items, None) for key, items in keys.items())


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
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, datetime):
            return format_datetime(value)
        if isinstance(value, (int, float)):
            return repr(value) if isinstance(value, float) else str(value)
        return _to_json_text(value)
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


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------
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
    _check_shape(code)
    repos = referenced_repos(code)
    by_lower = {name.lower(): name for name in sources}
    conn = _connect()
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
            source = by_lower.get(repo.lower())
            if source is None:
                raise SqlError(_not_a_source(repo, sources))
            fields, points = sources[source]
            _create_table(conn, repo, fields)
            _insert(conn, repo, fields, points)
            map_fields.update(f.key for f in fields if f.valtype == "map")
            map_hints.extend(f for f in fields if f.valtype == "map")
            for f in fields:
                hints.setdefault(f.key.lower(), f)
        sql, renames = _translate(code, map_fields=map_fields, tables={r.lower() for r in repos})
        conn.set_authorizer(_read_only)
        cursor = conn.execute(sql)
        raw_rows = cursor.fetchall()
        description = cursor.description or ()
    except sqlite3.Error as err:
        if stopped:
            raise SqlCancelled("the run was stopped") from None
        if str(err) == "interrupted" and deadline is not None and time.monotonic() > deadline:
            raise SqlError(f"the query ran longer than {timeout:g} s and was stopped") from None
        raise SqlError(_sqlite_message(err)) from None
    finally:
        conn.close()

    names = [
        _column_name(renames.get(column[0], column[0]), position)
        for position, column in enumerate(description, start=1)
    ]
    seen: set[str] = set()
    for raw, name in zip((c[0] for c in description), names, strict=True):
        if name.lower() in seen:
            raise SqlError(
                f"the result has two columns named {name!r} (from {raw!r}); give each column a unique alias (AS name)"
            )
        seen.add(name.lower())
    fields = [
        _infer(name, [row[i] for row in raw_rows if row[i] is not None], hints.get(name.lower()), map_hints)
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
