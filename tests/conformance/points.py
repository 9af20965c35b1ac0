"""Push bodies built by hand the way each SDK builds them (docs/sdk-facts.md §2), not with our ``wire.py``.

* Go (pandora-go-sdk/pipeline/models.go:637 ``PointField.String``, :670 ``Points.Buffer``, :687
  ``escapeStringField``): ``key=value`` fields joined by one TAB, points by LF, **no trailing LF**; a value is
  ``fmt``'s ``%v`` (floats in shortest ``%g``, so ``1e6`` is ``1e+06``), slices and maps ``json.Marshal``-ed
  (compact, keys sorted, ``<>&`` as ``\\u003c``...); only TAB and LF are escaped (``\\t``, ``\\n``), a backslash
  is sent as it is; a nil value leaves the field out.
* Java (pandora-java-sdk/.../pipeline/points/Point.java:72 ``append(String)``, :142 ``toString``): the same
  fields, but **every** point ends with LF; strings escape LF then TAB; doubles are ``Double.toString``
  (``1.0``, ``1.0E10``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

_GO_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _digits(value: float) -> tuple[str, int]:
    """The shortest round-trip digits of ``value`` and its decimal point position (``1234.5`` -> ``12345``, 4)."""
    _sign, digits, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    return text, len(text) + exponent


def go_float(value: float) -> str:
    """Go's ``%v`` of a float64 (``strconv`` 'g', shortest): ``%e`` form when the exponent is below -4 or at
    least 6, with a two-digit exponent; otherwise plain digits."""
    if value == 0:
        return "0"
    digits, point = _digits(value)
    sign = "-" if value < 0 else ""
    exp = point - 1
    eprec = 6  # strconv decides with precision 6 when it prints the shortest form
    if exp < -4 or exp >= eprec:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def java_double(value: float) -> str:
    """Java's ``Double.toString``: plain with at least one decimal in [1e-3, 1e7), else ``d.dddE<n>``."""
    if value == 0:
        return "0.0"
    if 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "." in text else text + ".0"
    digits, point = _digits(value)
    sign = "-" if value < 0 else ""
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{point - 1}"


def go_json(value: Any) -> str:
    """``json.Marshal``: compact, map keys sorted, HTML-significant characters escaped."""
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return "".join(_GO_HTML.get(char, char) for char in text)


def go_escape(text: str) -> str:
    """``escapeStringField``: TAB and LF only."""
    return text.replace("\t", "\\t").replace("\n", "\\n")


def go_value(value: Any) -> str:
    """One field value as ``PointField.String`` renders it."""
    if isinstance(value, Mapping | list | tuple):
        return go_escape(go_json(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return go_escape(str(value))


def go_body(points: Sequence[Sequence[tuple[str, Any]]]) -> bytes:
    """``Points.Buffer()``: fields in the given order, nil values left out, no LF after the last point."""
    lines = ["\t".join(f"{key}={go_value(value)}" for key, value in point if value is not None) for point in points]
    return "\n".join(lines).encode("utf-8")


def java_value(value: Any) -> str:
    """One field value as ``Point.append`` stores it (strings escaped LF first, then TAB)."""
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return str(value).replace("\n", "\\n").replace("\t", "\\t")


def java_body(points: Sequence[Sequence[tuple[str, Any]]]) -> bytes:
    """``Batch``/``Point.toString``: fields joined by TAB, every point terminated by LF."""
    return "".join("\t".join(f"{key}={java_value(value)}" for key, value in point) + "\n" for point in points).encode(
        "utf-8"
    )
