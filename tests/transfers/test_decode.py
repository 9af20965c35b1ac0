"""The ``jsonl`` reader's two JSON decoders (msgspec, standard library) give the same points and the same bad lines."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_pandora import wire
from airflow_provider_pandora.schema import parse_schema
from airflow_provider_pandora.transfers import _decode
from airflow_provider_pandora.transfers._encoding import encode_lines, jsonl_converter
from airflow_provider_pandora.transfers._fastencode import FastPointEncoder
from tests.common import SCHEMA
from tests.transfers.conftest import DECODERS

needs_msgspec = pytest.mark.skipif(not _decode.AVAILABLE, reason="msgspec is not installed")
FIELDS = parse_schema(SCHEMA)
KEYS = [f["key"] for f in SCHEMA]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
# Texts JSON decoders disagree about most: NaN, huge exponents, lone surrogates, BOM, odd whitespace, junk.
tricky = st.sampled_from(
    [
        b'{"a": NaN}',
        b'{"a": 1e400}',
        b'{"a": -Infinity}',
        b'{"a": "\\ud800"}',
        b'{"a": "\\ud83d\\ude00"}',
        b'\xef\xbb\xbf{"a": 1}',
        b'{"a": 1}\x0c',
        b'\x0b{"a": 1}',
        b'{"a": 1} ',
        b' {"a": 1}',
        b'{"a": 1, "a": 2}',
        b'{"a": "\xff"}',
        b'{"a": "\x01"}',
        b'{"a": 01}',
        b'{"a": ' + b"9" * 4301 + b"}",
        b'{"a": 1} {"b": 2}',
        b"{",
        b"",
        b"[1, 2]",
    ]
)


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 is not 1.0), NaN equal to NaN, key order included."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a.hex() == b.hex()
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _outcome(loads: Any, raw: bytes) -> tuple[str, Any]:
    try:
        return "ok", loads(raw)
    except (ValueError, RecursionError) as err:
        return "error", f"{type(err).__name__}: {err}"


@needs_msgspec
@settings(max_examples=500, deadline=None)
@given(raw=json_values.map(lambda v: json.dumps(v, ensure_ascii=False).encode()) | tricky | st.binary(max_size=20))
def test_loads_is_json_loads_with_either_decoder(raw: bytes) -> None:
    expected = _outcome(json.loads, raw)
    with _decode.using("msgspec"):
        got = _outcome(_decode.loads, raw)
    assert got[0] == expected[0]
    assert _same(got[1], expected[1]) if got[0] == "ok" else got[1] == expected[1]


points = st.dictionaries(
    st.sampled_from([*KEYS, "unknown"]),
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.just("2024-05-01T08:00:00Z"),
    max_size=6,
)
lines = st.one_of(points.map(lambda p: json.dumps(p, ensure_ascii=False).encode()), tricky, st.binary(max_size=12))


@needs_msgspec
@settings(max_examples=300, deadline=None)
@given(block=st.lists(lines, min_size=1, max_size=15), repeat=st.integers(1, 2))
def test_both_decoders_give_the_same_lines_and_the_same_bad_lines(block: list[bytes], repeat: int) -> None:
    """Wire lines, line numbers, offsets, and every bad line's (line, offset, reason, field, text) match."""
    data = b"".join(line.replace(b"\n", b" ") + b"\n" for line in block * repeat)
    results = []
    for name in ("stdlib", "msgspec"):
        with _decode.using(name):
            fast = FastPointEncoder(wire.PointEncoder(FIELDS))
            convert = jsonl_converter(fast)
            results.append(encode_lines(convert, data, 7, 3, 1 << 20, False, fast))
            results.append(
                encode_lines(jsonl_converter(FastPointEncoder(wire.PointEncoder(FIELDS))), data, 7, 3, 1 << 20, False)
            )
    assert results[0] == results[1] == results[2] == results[3]


@pytest.mark.parametrize("decoder", DECODERS)
def test_a_bad_line_names_its_field_and_reason_on_either_path(decoder: str) -> None:
    with _decode.using(decoder):
        convert = jsonl_converter(FastPointEncoder(wire.PointEncoder(FIELDS)))
    with pytest.raises(wire.PointError) as info:
        convert(b'{"user": "u", "hits": "many"}', 3)
    assert (info.value.field, info.value.problem) == ("hits", "'many' is not a whole number (long)")
    with pytest.raises(wire.PointError, match=r"is not JSON: Expecting ',' delimiter: line 1 column 7 \(char 6\)"):
        convert(b'{"a":01}', 4)


@needs_msgspec
def test_msgspec_decodes_when_present_and_the_switch_restores() -> None:
    assert _decode.ACTIVE == "msgspec"  # the default wherever msgspec is importable (Airflow 3)
    assert _decode.fast_decoder() is not None
    with _decode.using("stdlib"):
        assert _decode.fast_decoder() is None
    assert _decode.ACTIVE == "msgspec"


def test_unknown_decoder_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown JSON decoder"):
        _decode.use("simdjson")
