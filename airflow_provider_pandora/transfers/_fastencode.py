"""A fast path in front of :class:`~airflow_provider_pandora.wire.PointEncoder` for bulk JSON lines.

``PointEncoder.encode`` is general (any Python value, precise errors) and costs a few microseconds per
field; a transfer of millions of lines spends most of its time there. Most values in a JSON line
already have the repo's type (a ``str`` for a string field, an ``int`` for a long, ...), and for
those the wire text is one cheap call. Points with the same keys in the same order (lines from one
producer) go through a small function compiled once per key order, with no per-field loop. This
encoder handles exactly those cases, producing the very
bytes ``PointEncoder`` would (a property test checks it), and hands the whole point to
``PointEncoder`` for everything else: other types, arrays and maps, long values, missing required
fields, and every error (so messages and codes stay the encoder's).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from airflow_provider_pandora import wire

_DATE_CACHE_LIMIT = 4096
_SHORT = wire.MAX_FIELD_BYTES // 4 - 200
"""Values up to this many characters cannot make a ``key=value`` segment (key <= 128) exceed 100 KB in UTF-8."""


_SHAPE_LIMIT = 256
"""Compiled key orders kept (JSON lines from one producer share one or a few)."""
_SHAPE_FIELDS = 200
_MISSING = object()
_STRING, _LONG, _FLOAT, _BOOLEAN, _DATE = range(5)
_KINDS = {"string": _STRING, "ip": _STRING, "long": _LONG, "float": _FLOAT, "boolean": _BOOLEAN, "date": _DATE}


class FastPointEncoder:
    """``encode(point) -> bytes`` identical to ``PointEncoder(schema, field_map=...).encode(point)``."""

    def __init__(self, encoder: wire.PointEncoder) -> None:
        self.encoder = encoder
        self.field_map = dict(encoder.field_map)
        self.enabled = encoder.schema is not None
        schema = encoder.schema or ()
        self._kinds = {f.key: _KINDS[f.valtype] for f in schema if f.valtype in _KINDS}
        self._required = tuple(f.key for f in schema if f.required)
        self._dates: dict[str, str] = {}
        self._shapes: dict[tuple[str, ...], Any] = {}

    def encode(self, point: Mapping[str, Any], clean: bool = False) -> bytes:
        """The wire line; ``clean`` promises that no string value holds ``\\``, TAB, CR or LF.

        A JSON line without a backslash is clean: JSON cannot carry those characters unescaped.
        """
        if not self.enabled or type(point) is not dict:
            return self.encoder.encode(point)
        original = point
        if self.field_map:
            point = self._map(point)
        shape = tuple(point)
        compiled = self._shapes.get(shape, _MISSING)
        if compiled is _MISSING:
            compiled = self._compile(shape)
        if compiled is not None:
            text = compiled(point, clean)
            if text is not None:
                try:
                    return text.encode("utf-8")  # type: ignore[no-any-return]
                except UnicodeEncodeError:  # a lone surrogate: the encoder names its field
                    return self.encoder.encode(original)
        return self._generic(original, point)

    def compiled_shapes(self) -> dict[tuple[str, ...], Any] | None:
        """Key order -> compiled ``f(point, clean) -> str | None`` (``None``: not compilable), filled by
        :meth:`encode`; for callers that parse and dispatch themselves. ``None`` with a field map (the
        functions take mapped points)."""
        return None if self.field_map or not self.enabled else self._shapes

    def _compile(self, shape: tuple[str, ...]) -> Any:
        """A function for points with exactly these keys in this order, all of a simple kind.

        It returns the wire text, or ``None`` when a value is not of the plain type its field expects
        (then the general loop, and ``PointEncoder`` behind it, decide).
        """
        if len(self._shapes) >= _SHAPE_LIMIT:
            self._shapes.clear()
        kinds = self._kinds
        if (
            not shape
            or len(shape) > _SHAPE_FIELDS
            or any(key not in kinds or not key.isidentifier() or not key.isascii() for key in shape)
            or any(key not in shape for key in self._required)
        ):
            self._shapes[shape] = None
            return None
        names = [f"v{i}" for i in range(len(shape))]
        lines = [
            "def encode(point, clean):",
            f"    {', '.join(names)}{',' if len(names) == 1 else ''} = point.values()",
        ]
        parts = []
        for key, name in zip(shape, names, strict=True):
            kind = kinds[key]
            if kind == _STRING:
                lines += [
                    f"    if type({name}) is not str or len({name}) > SHORT:",
                    "        return None",
                    "    if not clean:",
                    f"        {name} = escape({name})",
                    f"        if len({name}) > SHORT:",
                    "            return None",
                ]
                parts.append(f"{key}={{{name}}}")
            elif kind == _LONG:
                lines += [f"    if type({name}) is not int or not MIN <= {name} <= MAX:", "        return None"]
                parts.append(f"{key}={{{name}}}")
            elif kind == _FLOAT:
                lines += [f"    if type({name}) is not float or not isfinite({name}):", "        return None"]
                parts.append(f"{key}={{{name}!r}}")
            elif kind == _BOOLEAN:
                lines += [
                    f"    if type({name}) is not bool:",
                    "        return None",
                    f"    {name} = 'true' if {name} else 'false'",
                ]
                parts.append(f"{key}={{{name}}}")
            else:  # date
                lines += [
                    f"    if type({name}) is not str:",
                    "        return None",
                    f"    {name} = dates.get({name}) or date({name})",
                    f"    if {name} is None:",
                    "        return None",
                ]
                parts.append(f"{key}={{{name}}}")
        lines.append("    return f'" + "\t".join(parts) + "'")
        scope: dict[str, Any] = {
            "SHORT": _SHORT,
            "MIN": wire.INT64_MIN,
            "MAX": wire.INT64_MAX,
            "escape": wire.escape,
            "isfinite": math.isfinite,
            "dates": self._dates,
            "date": self._date,
        }
        exec(compile("\n".join(lines), f"<pandora encoder {len(shape)} fields>", "exec"), scope)  # noqa: S102
        self._shapes[shape] = scope["encode"]
        return scope["encode"]

    def _generic(self, original: Mapping[str, Any], point: dict[str, Any]) -> bytes:
        kinds = self._kinds
        parts: list[str] = []
        append = parts.append
        for key, value in point.items():
            if value is None:
                continue
            kind = kinds.get(key)
            kind_of_value = type(value)
            if kind == _STRING and kind_of_value is str:
                if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
                    value = wire.escape(value)
                if len(value) > _SHORT:
                    return self.encoder.encode(original)
                append(f"{key}={value}")
            elif kind == _LONG and kind_of_value is int and wire.INT64_MIN <= value <= wire.INT64_MAX:
                append(f"{key}={value}")
            elif kind == _FLOAT and kind_of_value is float and math.isfinite(value):
                append(f"{key}={value!r}")
            elif kind == _BOOLEAN and kind_of_value is bool:
                append(f"{key}=true" if value else f"{key}=false")
            elif kind == _DATE and kind_of_value is str:
                text = self._dates.get(value)
                if text is None:
                    text = self._date(value)
                    if text is None:
                        return self.encoder.encode(original)
                append(f"{key}={text}")
            else:
                return self.encoder.encode(original)
        if not parts:
            return self.encoder.encode(original)
        for key in self._required:
            if point.get(key) is None:
                return self.encoder.encode(original)
        try:
            return "\t".join(parts).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: the encoder names its field
            return self.encoder.encode(original)

    def _date(self, value: str) -> str | None:
        try:
            text = wire.format_datetime(wire.to_datetime(value))
        except ValueError:
            return None
        if len(text) > _SHORT:
            return None
        if len(self._dates) >= _DATE_CACHE_LIMIT:
            self._dates.clear()
        self._dates[value] = text
        return text

    def _map(self, point: dict[str, Any]) -> dict[str, Any]:
        mapping = self.field_map
        out: dict[str, Any] = {}
        for key, value in point.items():
            if key in mapping:
                target = mapping[key]
                if target is not None:
                    out[target] = value
            else:
                out[key] = value
        return out
