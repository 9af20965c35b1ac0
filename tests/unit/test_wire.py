"""The data-push wire format: encoding, decoding and batching (docs/sdk-facts.md §2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_pandora import wire
from airflow_provider_pandora.schema import parse_schema

SCHEMA = parse_schema(
    [
        {"key": "name", "valtype": "string", "required": True},
        {"key": "count", "valtype": "long"},
        {"key": "ratio", "valtype": "float"},
        {"key": "ok", "valtype": "boolean"},
        {"key": "ts", "valtype": "date"},
        {"key": "tags", "valtype": "array", "elemtype": "string"},
        {"key": "nums", "valtype": "array", "elemtype": "long"},
        {
            "key": "meta",
            "valtype": "map",
            "schema": [
                {"key": "k", "valtype": "long"},
                {"key": "when", "valtype": "date"},
                {"key": "inner", "valtype": "map", "schema": [{"key": "s", "valtype": "string", "required": True}]},
            ],
        },
    ]
)

# The Go SDK's own example body (docs/sdk-facts.md §2.2): TAB/LF escaped, backslash not escaped, 1e+06 floats.
GO_BODY = (
    b'name=a\\tb\\nc\\d\tcount=42\tratio=1e+06\tok=true\tts=2017-06-01T08:00:00.5Z\ttags=["x","y"]'
    b'\tmeta={"k":1}\nname=second\tcount=7'
)


def test_decodes_the_go_sdk_example_body():
    points = wire.PointDecoder(SCHEMA).decode_body(GO_BODY)
    assert points == [
        {
            "name": "a\tb\nc\\d",
            "count": 42,
            "ratio": 1e6,
            "ok": True,
            "ts": datetime(2017, 6, 1, 8, 0, 0, 500000, tzinfo=UTC),
            "tags": ["x", "y"],
            "meta": {"k": 1},
        },
        {"name": "second", "count": 7},
    ]


@pytest.mark.parametrize("text", ["1e+06", "1.234567e+06", "1.0E10", "4.5", "3", "-0.0"])
def test_decodes_every_float_form_the_sdks_send(text):
    assert wire.PointDecoder(SCHEMA).decode(f"name=x\tratio={text}")["ratio"] == float(text)


def test_encodes_with_the_specs_escaping():
    line = wire.PointEncoder(SCHEMA).encode({"name": "tab\there\\ cr\r lf\n = ok"})
    assert line == b"name=tab\\there\\\\ cr\\r lf\\n = ok"


def test_round_trip_of_every_type():
    point = {
        "name": "x\u2028y\t=\\",
        "count": -(2**63),
        "ratio": 1e-300,
        "ok": False,
        "ts": datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        "tags": ["a\tb", "é"],
        "nums": [2**63 - 1, -1],
        "meta": {"k": 5, "when": datetime(2020, 1, 1, tzinfo=UTC), "inner": {"s": "\n"}},
    }
    line = wire.PointEncoder(SCHEMA).encode(point)
    assert b"\n" not in line
    assert wire.PointDecoder(SCHEMA).decode(line) == point


def test_naive_datetimes_are_utc_and_none_fields_are_omitted():
    line = wire.PointEncoder(SCHEMA).encode({"name": "n", "ts": datetime(2024, 1, 1, 8), "count": None})
    assert line == b"name=n\tts=2024-01-01T08:00:00Z"


def test_values_from_text_are_converted_to_schema_types():
    line = wire.PointEncoder(SCHEMA).encode(
        {"name": 12, "count": "42", "ratio": "2.5", "ok": "TRUE", "tags": '["a"]', "nums": "[1,2]"}
    )
    assert line == b'name=12\tcount=42\tratio=2.5\tok=true\ttags=["a"]\tnums=[1,2]'


@pytest.mark.parametrize(
    ("point", "parameter", "code"),
    [
        ({"count": 1}, "points[0].name", "E18110"),
        ({"name": "x", "bogus": 1}, "points[0].bogus", "E18111"),
        ({"name": "x", "count": "4.5"}, "points[0].count", "E18110"),
        ({"name": "x", "count": 2**63}, "points[0].count", "E18110"),
        ({"name": "x", "ratio": float("nan")}, "points[0].ratio", "E18110"),
        ({"name": "x", "ok": "maybe"}, "points[0].ok", "E18110"),
        ({"name": "x", "ts": "yesterday"}, "points[0].ts", "E18110"),
        ({"name": "x", "nums": ["a"]}, "points[0].nums", "E18110"),
        ({"name": "x", "meta": {"zzz": 1}}, "points[0].meta", "E18110"),
        ({"name": "x", "meta": {"inner": {}}}, "points[0].meta", "E18110"),
        ({"name": "x" * (wire.MAX_FIELD_BYTES + 1)}, "points[0].name", "E18008"),
    ],
)
def test_bad_points_name_index_field_and_code(point, parameter, code):
    with pytest.raises(wire.PointError) as info:
        list(wire.PointEncoder(SCHEMA).encode_all([point]))
    assert info.value.parameter == parameter
    assert info.value.code == code
    assert info.value.index == 0
    assert str(info.value).startswith(parameter)


def test_schemaless_encoding_infers_types_like_the_go_sdk():
    line = wire.PointEncoder().encode(
        {"s": "a", "b": True, "i": 3, "f": 1.5, "d": datetime(2024, 1, 1, tzinfo=UTC), "a": [1, 2], "m": {"x": "y"}}
    )
    assert line == b's=a\tb=true\ti=3\tf=1.5\td=2024-01-01T00:00:00Z\ta=[1,2]\tm={"x":"y"}'


def test_field_map_renames_and_drops():
    encoder = wire.PointEncoder(SCHEMA, field_map={"title": "name", "junk": None})
    assert encoder.encode({"title": "t", "junk": "x"}) == b"name=t"


def test_batches_stay_below_2_mib_and_never_split_a_point():
    line = b"name=" + b"x" * 1000
    lines = [line] * 5000  # ~5 MB
    produced = list(wire.batches(lines))
    assert sum(len(b) for b in produced) == len(lines)
    for batch in produced:
        assert len(wire.body_of(batch)) < wire.MAX_BATCH_BYTES
    assert len(produced) == 3


def test_a_point_that_cannot_fit_a_batch_is_refused():
    with pytest.raises(wire.PointError, match="below"):
        wire.BatchBuilder().add(b"x" * wire.MAX_BATCH_BYTES)


def test_decoder_reports_line_and_field():
    decoder = wire.PointDecoder(SCHEMA)
    with pytest.raises(wire.PointError) as info:
        decoder.decode_body(b"name=ok\nname=x\tcount=abc\n")
    assert info.value.parameter == "line 2.count"
    with pytest.raises(wire.PointError) as info:
        decoder.decode_body(b"name=ok\tnoequals\n")
    assert info.value.code == "E18007"


def test_lines_split_on_lf_only():
    assert wire.split_lines("a=\u2028b\r\n\nc=d".encode()) == ["a=\u2028b\r".encode(), b"c=d"]


@pytest.mark.parametrize(
    ("point", "parameter", "problem"),
    [
        ({"name": "a\ud800b"}, "points[0].name", r"a lone surrogate \ud800 is not a character"),
        ({"name": "x", "tags": ["\udfff"]}, "points[0].tags", r"a lone surrogate \udfff"),
        ({"name": "x", "meta": {"inner": {"s": "\ud800" * 30_000}}}, "points[0].meta", r"a lone surrogate \ud800"),
        ({"name": "x", "tags": '["\\ud800"]'}, "points[0].tags", r"a lone surrogate \ud800"),  # JSON text
        ({"name": "x", "tags": "[" * 3000 + "]" * 3000}, "points[0].tags", "is nested too deeply"),
    ],
    ids=["string", "array", "long-map", "array-text", "deep-array-text"],
)
def test_a_lone_surrogate_or_deep_nesting_is_a_point_error_naming_the_field(point, parameter, problem):
    with pytest.raises(wire.PointError) as info:
        list(wire.PointEncoder(SCHEMA).encode_all([point]))
    assert (info.value.parameter, info.value.field, info.value.index) == (parameter, parameter.split(".")[1], 0)
    assert problem in str(info.value)
    if not isinstance(point.get("tags"), str):  # without a schema, JSON text is a string
        with pytest.raises(wire.PointError, match="lone surrogate"):
            wire.PointEncoder().encode(point)


def test_a_deeply_nested_value_is_a_point_error_without_a_schema():
    value: list[Any] = []
    for _ in range(3000):
        value = [value]
    with pytest.raises(wire.PointError, match="is nested too deeply") as info:
        wire.PointEncoder().encode({"a": value})
    assert info.value.field == "a"
