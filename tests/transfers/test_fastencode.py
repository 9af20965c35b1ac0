"""The transfer's fast encoder gives exactly PointEncoder's bytes, or PointEncoder's own error."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_pandora import wire
from airflow_provider_pandora.schema import parse_schema
from airflow_provider_pandora.transfers import _decode
from airflow_provider_pandora.transfers._fastencode import FastPointEncoder
from tests.common import SCHEMA
from tests.transfers.conftest import DECODERS

FIELDS = parse_schema(SCHEMA)
KEYS = [f["key"] for f in SCHEMA]

values = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.sampled_from(["a\\b", "tab\there", "line\nbreak", "cr\r", "x" * 30_000, "ü" * 26_000, "ü" * 25_570]),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["2024-05-01T08:00:00Z", "2024-05-01T08:00:00.5+08:00", "2024-05-01", "not a date", ""]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.sampled_from(["zone", "other"]), st.text(max_size=5), max_size=2),
)
points = st.dictionaries(st.sampled_from([*KEYS, "unknown", "name"]), values, max_size=8)


def outcome(encode: Any, point: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "ok", encode(point)
    except wire.PointError as err:
        return "error", (err.code, err.field, err.problem)


@settings(max_examples=400, deadline=None)
@given(point=points, mapped=st.booleans())
def test_same_bytes_or_same_error_as_point_encoder(point: dict[str, Any], mapped: bool) -> None:
    field_map = {"name": "user", "unknown": None} if mapped else None
    slow = wire.PointEncoder(FIELDS, field_map=field_map)
    fast = FastPointEncoder(slow)
    expected = outcome(slow.encode, point)
    assert outcome(fast.encode, point) == expected
    assert outcome(fast.encode, point) == expected  # again: compiled for this key order, date cache warm
    clean = not any(isinstance(v, str) and any(c in v for c in "\\\t\r\n") for v in point.values())
    if clean:
        assert outcome(lambda p: fast.encode(p, True), point) == expected


def test_without_a_schema_it_is_the_point_encoder() -> None:
    slow = wire.PointEncoder(None)
    assert FastPointEncoder(slow).encode({"a": 1, "b": "x"}) == slow.encode({"a": 1, "b": "x"})


@pytest.mark.parametrize("decoder", DECODERS)
@settings(max_examples=300, deadline=None)
@given(point=points, indent=st.sampled_from(["", " ", "\t"]), tail=st.sampled_from(["", " ", " x", "}"]))
def test_jsonl_lines_encode_as_json_loads_then_point_encoder(
    decoder: str, point: dict[str, Any], indent: str, tail: str
) -> None:
    import json

    from airflow_provider_pandora.transfers._encoding import jsonl_converter

    slow = wire.PointEncoder(FIELDS)
    with _decode.using(decoder):
        convert = jsonl_converter(FastPointEncoder(slow))
    try:
        text = indent + json.dumps(point, ensure_ascii=False, allow_nan=True) + tail
    except (TypeError, ValueError):
        return
    try:
        parsed = json.loads(text)
    except ValueError:
        with pytest.raises(wire.PointError, match="is not JSON"):
            convert(text.encode(), 1)
        return
    assert outcome(lambda _: convert(text.encode(), 1), parsed) == outcome(slow.encode, parsed)


@pytest.mark.parametrize("decoder", DECODERS)
@settings(max_examples=200, deadline=None)
@given(rows=st.lists(points, min_size=1, max_size=12), repeat=st.integers(1, 3), crlf=st.booleans())
def test_block_encoding_with_the_inline_fast_path_matches_the_converter(
    decoder: str, rows: list[dict[str, Any]], repeat: int, crlf: bool
) -> None:
    import json

    from airflow_provider_pandora.transfers._encoding import encode_lines, jsonl_converter

    texts = []
    for row in rows * repeat:  # repeated key orders get compiled, then take the inline path
        try:
            texts.append(json.dumps(row, ensure_ascii=False, allow_nan=True))
        except (TypeError, ValueError):
            texts.append("{broken")
    data = "".join(t + ("\r\n" if crlf else "\n") for t in texts).encode()
    with _decode.using("stdlib"):  # the reference: the standard library, no inline path
        reference = jsonl_converter(FastPointEncoder(wire.PointEncoder(FIELDS)))
        expected = encode_lines(reference, data, 10, 5, 1 << 20, False)
    with _decode.using(decoder):
        fast = FastPointEncoder(wire.PointEncoder(FIELDS))
        assert encode_lines(jsonl_converter(fast), data, 10, 5, 1 << 20, False, fast) == expected
