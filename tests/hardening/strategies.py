"""Hypothesis strategies for wire-format fuzzing: schemas, values a schema allows, and what reads back.

``values_for(field)`` draws any value a user may hand the encoder for ``field``; ``expected(field, value)``
is the typed value the service (emulator) must hand back for it; ``canon`` makes two typed values comparable
exactly (floats by bits, so ``-0.0`` differs from ``0.0``; dates by instant *and* offset; ``True`` is not ``1``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from airflow_provider_pandora.schema import MAX_MAP_DEPTH, Field, parse_schema
from airflow_provider_pandora.wire import INT64_MAX, INT64_MIN

#: Characters that break naive line/field framing or escaping, mixed into every generated string.
NASTY_CHARS = ("\t", "\n", "\r", "\\", "=", "\u2028", "\u2029", "\x85", "\x00", "\x0b", "\x0c", '"', " ", "\ufeff")
#: Substrings that look like escapes or fields, so unescaping is tested against literal backslash text.
NASTY_PIECES = ("\\t", "\\n", "\\r", "\\\\", "\\", "k=v", "\t=\t", "=\\", "\\d", '{"a":1}', "[1,2]", "😀", "é")

# One plain character class lets Hypothesis draw whole strings natively (fast); the nasty characters come
# in through ``_pieces``, which mixes them with such strings at a high rate.
_chars = st.characters(codec="utf-8")
_short = st.text(_chars, max_size=16)
_nasty = st.sampled_from(NASTY_CHARS + NASTY_PIECES)
_pieces = st.builds(
    lambda a, nasty, b: a + "".join(nasty) + b, _short, st.lists(_nasty, min_size=1, max_size=4), _short
)
# Long values (up to ~10 KB, far below the 100 KB field limit) by repetition: cheap to draw, same nasty content.
_long = st.builds(lambda piece, times: piece * times, _pieces, st.integers(20, 200))
strings = st.one_of(_short, _pieces, _short, _pieces, _short, _pieces, _long)
longs = st.one_of(
    st.integers(INT64_MIN, INT64_MAX),
    st.sampled_from([INT64_MIN, INT64_MAX, INT64_MIN + 1, INT64_MAX - 1, 0, -1, 2**53 + 1, -(2**53) - 1]),
)
EXTREME_FLOATS = (
    *(0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308),
    *(1e16, 1e-7, 0.1, 1e21, 1e22, 123456789012345680.0, 2.0**63, -(2.0**63)),
)
floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(EXTREME_FLOATS),
)
#: Whole-minute offsets are what RFC 3339 can carry; sub-minute ones (historic zones, odd tzinfos) too.
_offsets: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.just(UTC),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m))),
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)).map(timezone),
    st.timezones(),
)
dates = st.datetimes(
    min_value=datetime(2, 1, 1),
    max_value=datetime(9998, 12, 31),
    timezones=_offsets,
)

_json_scalars = st.one_of(st.booleans(), st.integers(-(2**70), 2**70), floats, strings, st.none())
json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(strings, inner, max_size=3)),
    max_leaves=6,
)
#: A jsonstring field takes a Python structure, or JSON text (which the encoder parses first).
json_documents = st.one_of(
    st.lists(json_values, max_size=4),
    st.dictionaries(strings, json_values, max_size=4),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    floats,
    st.dictionaries(strings, json_values, max_size=4).map(lambda d: json.dumps(d, ensure_ascii=False)),
)

SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "string": strings,
    "ip": strings,
    "long": longs,
    "float": floats,
    "boolean": st.booleans(),
    "date": dates,
}


def values_for(field: Field) -> st.SearchStrategy[Any]:
    if field.valtype in SCALARS:
        return SCALARS[field.valtype]
    if field.valtype == "array":
        return st.lists(SCALARS[field.elemtype or "string"], max_size=6)
    if field.valtype == "jsonstring":
        return json_documents
    return maps_for(field.children)


def maps_for(children: Sequence[Field]) -> st.SearchStrategy[dict[str, Any]]:
    """A map (or a whole point): required keys always, optional keys sometimes, ``None`` meaning "omitted"."""
    required = {f.key: values_for(f) for f in children if f.required}
    optional = {f.key: st.one_of(st.none(), values_for(f)) for f in children if not f.required}
    return st.fixed_dictionaries(required, optional=optional)


def points_for(schema: Sequence[Field]) -> st.SearchStrategy[dict[str, Any]]:
    # The encoder refuses a point with no fields at all (nothing to send), so keep at least one.
    return maps_for(schema).filter(lambda p: any(v is not None for v in p.values()))


# ---- schemas ----------------------------------------------------------------------------------------
_SCALAR_TYPES = ("string", "ip", "long", "float", "boolean", "date", "jsonstring")


def _fields(depth: int) -> st.SearchStrategy[list[dict[str, Any]]]:
    kinds = list(_SCALAR_TYPES) + ["array"] + (["map"] if depth < MAX_MAP_DEPTH else [])

    @st.composite
    def level(draw: st.DrawFn) -> list[dict[str, Any]]:
        keys = draw(
            st.lists(st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,6}", fullmatch=True), min_size=1, max_size=4, unique=True)
        )
        out = []
        for key in keys:
            kind = draw(st.sampled_from(kinds))
            entry: dict[str, Any] = {"key": key, "valtype": kind, "required": draw(st.booleans())}
            if kind == "array":
                entry["elemtype"] = draw(st.sampled_from(["long", "float", "string"]))
            elif kind == "map":
                entry["schema"] = draw(_fields(depth + 1))
            out.append(entry)
        return out

    return level()


schemas = _fields(1).map(lambda entries: parse_schema(entries, "schema"))


def _nested_map(depth: int) -> dict[str, Any]:
    children: list[dict[str, Any]] = [
        {"key": "s", "valtype": "string"},
        {"key": "l", "valtype": "long"},
        {"key": "f", "valtype": "float"},
        {"key": "b", "valtype": "boolean"},
        {"key": "d", "valtype": "date"},
        {"key": "as", "valtype": "array", "elemtype": "string"},
        {"key": "af", "valtype": "array", "elemtype": "float"},
    ]
    if depth + 1 < MAX_MAP_DEPTH:  # a map at level N holds level N+1; the spec stops at level 5
        children.append(_nested_map(depth + 1))
    # Below the top level each map is required, so every point that has ``m1`` reaches the deepest level.
    return {"key": f"m{depth}", "valtype": "map", "required": depth > 1, "schema": children}


#: Every valtype at the top level, and maps nested as deep as the spec allows (5 schema levels), each level
#: holding every scalar type and arrays.
KITCHEN_SINK: list[dict[str, Any]] = [
    {"key": "s", "valtype": "string", "required": True},
    {"key": "ip", "valtype": "ip"},
    {"key": "l", "valtype": "long"},
    {"key": "f", "valtype": "float"},
    {"key": "b", "valtype": "boolean"},
    {"key": "d", "valtype": "date"},
    {"key": "al", "valtype": "array", "elemtype": "long"},
    {"key": "af", "valtype": "array", "elemtype": "float"},
    {"key": "as", "valtype": "array", "elemtype": "string"},
    {"key": "j", "valtype": "jsonstring"},
    _nested_map(1),
]
KITCHEN_SINK_FIELDS = parse_schema(KITCHEN_SINK, "schema")


# ---- what must come back ------------------------------------------------------------------------------
def expected_date(value: datetime) -> datetime:
    """Naive means UTC; an offset RFC 3339 cannot write (seconds) is sent as the same instant in UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    offset = value.utcoffset() or timedelta(0)
    if offset % timedelta(minutes=1):
        return value.astimezone(UTC)
    return value


def expected(field: Field, value: Any) -> Any:
    vt = field.valtype
    if vt == "date":
        return expected_date(value)
    if vt == "array":
        return [expected(Field("e", field.elemtype or "string"), item) for item in value]
    if vt == "map":
        return expected_point(field.children, value)
    if vt == "jsonstring" and isinstance(value, str):
        return json.loads(value)
    if vt == "float":
        return float(value)
    return value


def expected_point(schema: Sequence[Field], point: Mapping[str, Any]) -> dict[str, Any]:
    by_key = {f.key: f for f in schema}
    return {k: expected(by_key[k], v) for k, v in point.items() if v is not None}


def canon(value: Any) -> Any:
    """A form in which equal means identical: type-tagged, floats by bits, dates by instant and offset."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, float):
        return ("float", value.hex())
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, datetime):
        assert value.tzinfo is not None, f"naive datetime {value!r} read back"
        offset = value.utcoffset() or timedelta(0)
        return ("date", value.replace(tzinfo=None) - offset, offset)
    if isinstance(value, list):
        return ("list", tuple(canon(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, canon(v)) for k, v in value.items())))
    if value is None:
        return ("null",)
    raise TypeError(f"unexpected {type(value).__name__} {value!r}")
