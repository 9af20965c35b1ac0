"""The hand-built SDK renderings reproduce the vectors of docs/sdk-facts.md §2.1-§2.2."""

from __future__ import annotations

import pytest

from tests.conformance.points import go_body, go_float, java_body, java_double


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.0, "1"), (3.14, "3.14"), (1e6, "1e+06"), (1234567.0, "1.234567e+06"), (123456.0, "123456"), (1e-5, "1e-05")],
)
def test_go_renders_floats_with_percent_v(value: float, expected: str) -> None:
    assert go_float(value) == expected


@pytest.mark.parametrize(("value", "expected"), [(4.5, "4.5"), (1.0, "1.0"), (1e10, "1.0E10")])
def test_java_renders_doubles_with_double_to_string(value: float, expected: str) -> None:
    assert java_double(value) == expected


def test_the_go_example_body_of_sdk_facts() -> None:
    """§2.2 "Example body from [GO]", byte for byte (the date is sent as RFC 3339 text)."""
    body = go_body(
        [
            [
                ("name", "a\tb\nc\\d"),
                ("count", 42),
                ("ratio", 1e6),
                ("ok", True),
                ("ts", "2017-06-01T08:00:00.5Z"),
                ("tags", ["x", "y"]),
                ("meta", {"k": 1}),
            ],
            [("name", "second"), ("count", 7), ("gone", None)],
        ]
    )
    assert body == (
        b'name=a\\tb\\nc\\d\tcount=42\tratio=1e+06\tok=true\tts=2017-06-01T08:00:00.5Z\ttags=["x","y"]\tmeta={"k":1}'
        b"\nname=second\tcount=7"
    )


def test_java_ends_every_point_with_a_newline() -> None:
    assert java_body([[("a", "x\ty"), ("b", 4.5)], [("a", "z")]]) == b"a=x\\ty\tb=4.5\na=z\n"
