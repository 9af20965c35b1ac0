"""Wire-format fuzzing: every value a schema allows survives encode -> HTTP -> emulator -> typed read-back.

The HTTP test draws ``HTTP_CASES`` (10,000) points with Hypothesis from a schema holding every valtype
and maps nested to the spec's 5 levels (strings full of TAB, LF, CR, backslashes, ``=``, U+2028 and
escape look-alikes; extreme longs and floats; dates with any offset), checks each encodes and decodes
in-process (so Hypothesis shrinks a codec bug to a minimal point), then pushes all of them through
``PandoraHook.push_data`` in a few 2 MiB batches (half of them gzipped) and compares what the emulator
stored, point by point, exactly: floats by bits, dates by instant and offset, ``True`` is not ``1``.

The in-process tests add random schemas, and check that the decoder and encoder refuse bad input only
with :class:`~airflow_provider_pandora.wire.PointError` (which the emulator turns into a 4xx, never a 500).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.schema import Field, parse_schema
from airflow_provider_pandora.wire import INT64_MAX, PointDecoder, PointEncoder, PointError
from tests.hardening.strategies import (
    KITCHEN_SINK,
    KITCHEN_SINK_FIELDS,
    canon,
    expected_point,
    points_for,
    schemas,
    strings,
)

HTTP_CASES = 10_000
"""Points generated, pushed over HTTP and read back in the default run (the issue asks for >= 10,000)."""
PER_EXAMPLE = 20
"""Points per Hypothesis example: drawing them in lists halves the engine's per-example overhead."""
PUSH_CHUNK = 2_500
"""Points per ``push_data`` call (each call splits into < 2 MiB batches itself)."""

_FAST = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck)}


def _outcome(call: Any) -> tuple[Any, PointError | None]:
    try:
        return call(), None
    except PointError as err:
        return None, err


def _same(schema: tuple[Field, ...], got: dict[str, Any], sent: dict[str, Any]) -> bool:
    return bool(canon(got) == canon(expected_point(schema, sent)))


@pytest.mark.integration
@pytest.mark.slow
def test_ten_thousand_generated_points_round_trip_over_http(
    pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder, decoder = PointEncoder(KITCHEN_SINK_FIELDS), PointDecoder(KITCHEN_SINK_FIELDS)
    generated: list[dict[str, Any]] = []

    @settings(max_examples=HTTP_CASES // PER_EXAMPLE, **_FAST)  # type: ignore[arg-type]
    @given(st.lists(points_for(KITCHEN_SINK_FIELDS), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    def collect(points: list[dict[str, Any]]) -> None:
        for point in points:
            got = decoder.decode(encoder.encode(point))
            assert _same(KITCHEN_SINK_FIELDS, got, point), (point, got)
        generated.extend(points)

    collect()
    assert len(generated) >= HTTP_CASES

    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_FUZZ", pandora_emulator.connection_json())
    hook = PandoraHook("pandora_fuzz")
    hook.create_repo("fuzz", schema=KITCHEN_SINK)
    pushed = 0
    for start in range(0, len(generated), PUSH_CHUNK):
        chunk = generated[start : start + PUSH_CHUNK]
        result = hook.push_data("fuzz", chunk, schema=KITCHEN_SINK, gzip=bool(start // PUSH_CHUNK % 2))
        assert result.points == len(chunk)
        pushed += result.batches
    hook.close()

    stored = pandora_emulator.points("fuzz")
    assert len(stored) == len(generated)
    wrong = [
        i
        for i, (got, sent) in enumerate(zip(stored, generated, strict=True))
        if not _same(KITCHEN_SINK_FIELDS, got, sent)
    ]
    assert not wrong, (
        f"{len(wrong)} points changed on the way, first: sent {generated[wrong[0]]!r}, got {stored[wrong[0]]!r}"
    )
    assert pushed >= len(generated) // PUSH_CHUNK  # several bodies, each under 2 MiB
    depths = sum(1 for p in generated if p.get("m1") is not None)
    assert depths > 0, "no generated point reached the nested maps"


@pytest.mark.filterwarnings("ignore:Generating overly large repr")
@settings(max_examples=500, **_FAST)  # type: ignore[arg-type]
@given(st.data())
def test_any_schema_any_point_round_trips_in_process(data: st.DataObject) -> None:
    schema = data.draw(schemas, label="schema")
    point = data.draw(points_for(schema), label="point")
    line = PointEncoder(schema).encode(point)
    assert b"\n" not in line
    assert b"\r" not in line
    assert _same(schema, PointDecoder(schema).decode(line), point)


_junk_lines = st.one_of(
    st.binary(max_size=200),
    st.lists(
        st.tuples(st.sampled_from(["s", "ip", "l", "f", "b", "d", "al", "af", "as", "j", "m1", "x", ""]), strings),
        max_size=6,
    ).map(lambda pairs: "\t".join(f"{k}={v}" for k, v in pairs).encode("utf-8", "surrogatepass")),
    strings.map(lambda s: s.encode("utf-8", "surrogatepass")),
)


@settings(max_examples=1500, **_FAST)  # type: ignore[arg-type]
@given(_junk_lines)
def test_decoder_refuses_junk_only_with_point_error(line: bytes) -> None:
    """Whatever arrives, the emulator's decoder answers a point or a PointError (a 4xx), never a crash (500)."""
    point, err = _outcome(lambda: PointDecoder(KITCHEN_SINK_FIELDS).decode(line))
    if err is None:
        assert isinstance(point, dict)
    else:
        assert err.code in {"E18007", "E18008", "E18110", "E18111"}
        assert str(err)


_junk_values = st.one_of(
    st.integers(),
    st.floats(),
    strings,
    st.booleans(),
    st.binary(max_size=8),
    st.lists(st.one_of(st.integers(), strings, st.floats()), max_size=3),
    st.dictionaries(strings, st.integers(), max_size=2),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
)


@settings(max_examples=1500, **_FAST)  # type: ignore[arg-type]
@given(st.sampled_from(KITCHEN_SINK_FIELDS), _junk_values)
def test_encoder_refuses_unfit_values_only_with_point_error(field: Field, value: Any) -> None:
    """A value of the wrong type or range is refused naming the field, and what it accepts the decoder takes back."""
    point = {"s": "x", field.key: value}
    line, err = _outcome(lambda: PointEncoder(KITCHEN_SINK_FIELDS).encode(point))
    if err is None:
        PointDecoder(KITCHEN_SINK_FIELDS).decode(line)
    else:
        assert err.field == field.key
        assert field.key in str(err)


def test_out_of_range_numbers_are_refused_before_upload() -> None:
    encoder = PointEncoder(parse_schema([{"key": "l", "valtype": "long"}, {"key": "f", "valtype": "float"}]))
    for point in ({"l": INT64_MAX + 1}, {"l": -(2**63) - 1}, {"f": math.nan}, {"f": math.inf}, {"f": -math.inf}):
        with pytest.raises(PointError) as info:
            encoder.encode(point)
        assert info.value.code == "E18110"


def test_a_seconds_offset_is_sent_as_the_same_instant_in_utc() -> None:
    """RFC 3339 (and the Go service) only knows whole-minute offsets; found by the fuzzer, fixed in wire.py."""
    schema = parse_schema([{"key": "d", "valtype": "date"}])
    lmt = timezone(timedelta(minutes=19, seconds=32))  # Amsterdam's local mean time until 1937
    line = PointEncoder(schema).encode({"d": datetime(1900, 1, 1, 12, 0, tzinfo=lmt)})
    assert line == b"d=1900-01-01T11:40:28Z"
    assert PointDecoder(schema).decode(line)["d"] == datetime(1900, 1, 1, 11, 40, 28, tzinfo=UTC)
    minutes = PointEncoder(schema).encode(
        {"d": datetime(2024, 5, 1, 8, 0, tzinfo=timezone(timedelta(hours=5, minutes=45)))}
    )
    assert minutes == b"d=2024-05-01T08:00:00+05:45"
