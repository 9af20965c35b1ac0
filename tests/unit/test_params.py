"""The strict parameter parsers: rendered text is read back, anything unclear raises naming the parameter."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_pandora.exceptions import PandoraValidationError, TransferError
from airflow_provider_pandora.params import parse_bool_param, parse_int_param, parse_json_param, parse_seconds_param


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        ("true", True),
        (" Yes ", True),
        ("1", True),
        ("on", True),
        (False, False),
        ("0", False),
        ("off", False),
        ("", False),
        ("None", False),
    ],
)
def test_bools_and_their_rendered_text(value: Any, expected: bool) -> None:
    assert parse_bool_param(value, "flag") is expected


def test_an_unclear_bool_names_the_parameter() -> None:
    with pytest.raises(PandoraValidationError, match=r"^flag: must be true or false, got 'maybe'$"):
        parse_bool_param("maybe", "flag")


def test_ints_and_their_rendered_text() -> None:
    assert parse_int_param(" 7 ", "n") == 7
    with pytest.raises(PandoraValidationError, match=r"^n: must be a whole number, got 'many'$"):
        parse_int_param("many", "n")
    with pytest.raises(PandoraValidationError, match="must be a whole number"):
        parse_int_param(None, "n")


def test_json_text_is_parsed_and_blank_text_is_none() -> None:
    assert parse_json_param('{"a": [1]}', "m") == {"a": [1]}
    assert parse_json_param({"a": 1}, "m") == {"a": 1}
    assert parse_json_param("  ", "m") is None
    with pytest.raises(PandoraValidationError, match=r"^m: is a string but not JSON"):
        parse_json_param("{nope", "m")


def test_the_caller_chooses_the_error_class() -> None:
    with pytest.raises(TransferError, match="gzip"):
        parse_bool_param("maybe", "gzip", error=TransferError)


@pytest.mark.parametrize(("value", "expected"), [(10, 10.0), ("2.5", 2.5), (" 30 ", 30.0)])
def test_seconds_and_their_rendered_text(value: Any, expected: float) -> None:
    assert parse_seconds_param(value, "poll_interval") == expected


@pytest.mark.parametrize("value", ["soon", "0", -1, "nan", "inf", None, ""])
def test_a_bad_number_of_seconds_names_the_parameter(value: Any) -> None:
    with pytest.raises(PandoraValidationError) as caught:
        parse_seconds_param(value, "poll_interval")
    assert caught.value.parameter == "poll_interval"


@pytest.mark.parametrize("value", [None, "", "None", " "])
def test_an_optional_number_of_seconds_may_be_absent(value: Any) -> None:
    assert parse_seconds_param(value, "timeout", optional=True) is None
