"""The strict parsers for operator parameters that may arrive templated (rendered as text).

Strict: a value that is not clearly a bool, a whole number or JSON raises, naming the parameter.
(The connection extras parser in the hook is lenient on purpose: a bad extra falls back to its
default.)
"""

from __future__ import annotations

import json
from typing import Any, Literal, overload

from airflow_provider_pandora.exceptions import PandoraValidationError

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", "", "none"})


def parse_bool_param(value: Any, name: str, *, error: type[PandoraValidationError] = PandoraValidationError) -> bool:
    """``True``/``False`` or their rendered text (``"true"``, ``"0"``, ``"off"``, ``""`` ...)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise error(name, f"must be true or false, got {value!r}")


def parse_int_param(value: Any, name: str, *, error: type[PandoraValidationError] = PandoraValidationError) -> int:
    """An int or its rendered text."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise error(name, f"must be a whole number, got {value!r}") from None


@overload
def parse_seconds_param(
    value: Any, name: str, *, optional: Literal[False] = ..., error: type[PandoraValidationError] = ...
) -> float: ...
@overload
def parse_seconds_param(
    value: Any, name: str, *, optional: bool, error: type[PandoraValidationError] = ...
) -> float | None: ...
def parse_seconds_param(
    value: Any, name: str, *, optional: bool = False, error: type[PandoraValidationError] = PandoraValidationError
) -> float | None:
    """A positive number of seconds, or its rendered text; with ``optional``, ``None`` or blank text is ``None``."""
    if optional and (value is None or (isinstance(value, str) and value.strip().lower() in ("", "none"))):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise error(name, f"must be a number of seconds, got {value!r}") from None
    if not seconds > 0 or seconds == float("inf"):
        raise error(name, f"must be a positive number of seconds, got {value!r}")
    return seconds


def parse_json_param(value: Any, name: str, *, error: type[PandoraValidationError] = PandoraValidationError) -> Any:
    """Templated dicts and lists may arrive rendered as JSON text; blank text is ``None``."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise error(name, f"is a string but not JSON: {value[:80]!r}") from None
    return value
