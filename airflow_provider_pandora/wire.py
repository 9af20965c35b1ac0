"""The data-push wire format (``docs/sdk-facts.md`` §2), shared by the client, the transfers and the emulator.

A body is UTF-8 text, one point per ``\\n``-terminated line, fields ``key=value`` separated by a
single TAB. String values use the spec's escaping (``\\`` ``TAB`` ``CR`` ``LF`` become ``\\\\ \\t \\r \\n``;
the SDKs escape only TAB and LF, and their output decodes the same here because an unknown escape
such as ``\\d`` is kept as written). Arrays and maps travel as compact JSON; JSON never contains a
raw TAB or LF, so only string values need escaping.

Encoding converts Python values (or the text of CSV cells) to the repo's types once per field
through converters compiled from the schema, so the per-point cost is a dict walk.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from airflow_provider_pandora.exceptions import (
    PointError as PointError,
)  # re-exported: wire.PointError stays importable
from airflow_provider_pandora.schema import NAME_RE, Field

MAX_BATCH_BYTES = 2 * 1024 * 1024
"""A request body must stay below this, uncompressed (2 MiB; 413 E18005 above it)."""
MAX_FIELD_BYTES = 100 * 1024
"""Each TAB-separated ``key=value`` segment must be at most this long (E18008)."""
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\r": "\\r", "\n": "\\n"})
_UNESCAPE_RE = re.compile(r"\\([\\tnr])")
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
_INT_RE = re.compile(r"^[+-]?\d+$")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


NESTED_TOO_DEEPLY = "is nested too deeply (arrays and objects inside one another past the recursion limit)"


def lone_surrogate(err: UnicodeEncodeError) -> str:
    """The problem of text UTF-8 cannot encode: a lone surrogate, which a JSON ``\\ud800`` escape can produce."""
    char = err.object[err.start] if isinstance(err.object, str) else ""
    return f"a lone surrogate \\u{ord(char):04x} is not a character (UTF-8 cannot encode it)" if char else str(err)


def _utf8(segment: str, where: str, key: str) -> bytes:
    try:
        return segment.encode("utf-8")
    except UnicodeEncodeError as err:
        raise PointError(where, lone_surrogate(err), field=key) from None


def escape(text: str) -> str:
    """Escape backslash, TAB, CR and LF in a wire value, so it cannot split a field or a point."""
    return text.translate(_ESCAPES)


def unescape(text: str) -> str:
    """Undo :func:`escape`; other backslashes are kept as they are."""
    if "\\" not in text:
        return text
    return _UNESCAPE_RE.sub(lambda m: _UNESCAPES[m.group(1)], text)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


# --------------------------------------------------------------------------------------------
# Value conversion: Python value (or CSV text) -> the repo type -> wire text
# --------------------------------------------------------------------------------------------
class _Bad(ValueError):
    """Internal: a value does not fit its type; the message is the reason shown to users."""


def to_long(value: Any) -> int:
    """``value`` as a long: ints, whole floats and integer text within int64; booleans are refused."""
    if isinstance(value, bool):
        raise _Bad(f"{value!r} is a boolean, expected a whole number (long)")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise _Bad(f"{value!r} is not a whole number (long)")
        result = int(value)
    elif isinstance(value, str) and _INT_RE.match(value.strip()):
        result = int(value.strip())
    else:
        raise _Bad(f"{value!r} is not a whole number (long)")
    if not INT64_MIN <= result <= INT64_MAX:
        raise _Bad(f"{result} does not fit in a 64-bit long")
    return result


def to_float(value: Any) -> float:
    """``value`` as a finite float (numbers or numeric text); booleans, NaN and infinity are refused."""
    if isinstance(value, bool):
        raise _Bad(f"{value!r} is a boolean, expected a number (float)")
    try:
        result = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, OverflowError):
        raise _Bad(f"{value!r} is not a number (float)") from None
    if not math.isfinite(result):
        raise _Bad(f"{value!r} is not a finite number; Pandora floats cannot hold NaN or infinity")
    return result


def to_bool(value: Any) -> bool:
    """``value`` as a boolean: a bool, 0/1, or ``true/false/yes/no/1/0`` text; anything else is refused."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise _Bad(f"{value!r} is not a boolean (true/false)")


def to_datetime(value: Any) -> datetime:
    """A timezone-aware datetime; naive values are taken as UTC (Airflow's convention)."""
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "zZ" and text else text)
        except ValueError:
            raise _Bad(f"{value!r} is not an RFC 3339 date such as 2024-05-01T08:00:00Z") from None
    else:
        raise _Bad(f"{value!r} is not a date; give a datetime or RFC 3339 text")
    if result.tzinfo is None:
        result = result.replace(tzinfo=UTC)
    return result


def format_datetime(value: datetime) -> str:
    """RFC 3339 text. Its offsets are whole minutes, so a zone with a seconds offset (historic local
    mean times, odd tzinfos) is written as the same instant in UTC instead of an offset Go cannot parse."""
    offset = value.utcoffset()
    if offset is not None and offset % timedelta(minutes=1):
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            raise _Bad(f"{value!r} is out of range once converted to UTC") from None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def format_float(value: float) -> str:
    """The shortest text that reads back as the same float (Python's ``repr``)."""
    return repr(value)


_SCALAR_TO_PY: dict[str, Callable[[Any], Any]] = {
    "long": to_long,
    "float": to_float,
    "boolean": to_bool,
    "date": to_datetime,
}


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return _json(value) if isinstance(value, bool) else str(value)
    raise _Bad(f"{type(value).__name__} value {value!r} cannot be stored in a string field")


def _container(value: Any, kind: type, label: str) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _Bad(f"{value!r} is not JSON {label}") from None
    if kind is list and isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, kind):
        raise _Bad(f"{type(value).__name__} value {value!r} is not {label}")
    return value


def _json_ready(field: Field) -> Callable[[Any], Any]:
    """Converter to a JSON-ready Python value (used inside arrays and maps)."""
    if field.valtype == "array":
        elem: Callable[[Any], Any] = _SCALAR_TO_PY.get(field.elemtype or "string", _string)

        def array(value: Any) -> list[Any]:
            items = _container(value, list, "an array")
            try:
                return [elem(item) for item in items]
            except _Bad as err:
                raise _Bad(f"array element {err}") from None

        return array
    if field.valtype == "map":
        children = {child.key: _json_ready(child) for child in field.children}
        required = [child.key for child in field.children if child.required]

        def mapping(value: Any) -> dict[str, Any]:
            obj = _container(value, dict, "an object")
            out: dict[str, Any] = {}
            for key, item in obj.items():
                convert = children.get(key)
                if convert is None:
                    raise _Bad(f"key {key!r} is not in the map's schema ({', '.join(children) or 'empty'})")
                if item is not None:
                    try:
                        out[key] = convert(item)
                    except _Bad as err:
                        raise _Bad(f"{key}: {err}") from None
            for key in required:
                if key not in out:
                    raise _Bad(f"required key {key!r} is missing")
            return out

        return mapping
    if field.valtype == "date":
        return lambda value: format_datetime(to_datetime(value))
    if field.valtype == "jsonstring":
        return lambda value: json.loads(value) if isinstance(value, str) else value
    return _SCALAR_TO_PY.get(field.valtype, _string)


def _wire_text(field: Field) -> Callable[[Any], str]:
    """Converter from a Python value to the field's wire text (without key)."""
    vt = field.valtype
    if vt in ("string", "ip"):
        return lambda value: escape(_string(value))
    if vt == "long":
        return lambda value: str(to_long(value))
    if vt == "float":
        return lambda value: format_float(to_float(value))
    if vt == "boolean":
        return lambda value: "true" if to_bool(value) else "false"
    if vt == "date":
        return lambda value: format_datetime(to_datetime(value))
    if vt == "jsonstring":

        def jsonstring(value: Any) -> str:
            try:
                return _json(json.loads(value) if isinstance(value, str) else value)
            except (TypeError, ValueError):
                raise _Bad(f"{value!r} is not JSON") from None

        return jsonstring
    convert = _json_ready(field)
    return lambda value: _json(convert(value))


def _infer_wire_text(value: Any) -> str:
    """Without a schema: the Go SDK's rendering by Python type."""
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(to_long(value))
    if isinstance(value, float):
        return format_float(to_float(value))
    if isinstance(value, datetime | date):
        return format_datetime(to_datetime(value))
    if isinstance(value, (list, tuple, dict)):
        try:
            return _json(value)
        except (TypeError, ValueError) as err:
            raise _Bad(f"cannot be rendered as JSON: {err}") from None
    raise _Bad(f"{type(value).__name__} value {value!r} has no Pandora type; give the repo schema")


class PointEncoder:
    """Encodes dict points to wire lines for one repo schema (or by Python type without one).

    :param schema: the repo's fields; unknown keys and missing required fields are refused, as the
        service would refuse them (E18111 / E18110), so a bad point is caught before upload.
    :param field_map: rename keys before encoding (``{"src": "dest"}``); map a key to ``None`` to drop it.
    """

    def __init__(
        self, schema: Sequence[Field] | None = None, *, field_map: Mapping[str, str | None] | None = None
    ) -> None:
        self.schema = tuple(schema) if schema else None
        self.field_map = dict(field_map or {})
        if self.schema is not None:
            self._converters: dict[str, Callable[[Any], str]] | None = {f.key: _wire_text(f) for f in self.schema}
            self._required = tuple(f.key for f in self.schema if f.required)
        else:
            self._converters = None
            self._required = ()

    def encode(self, point: Mapping[str, Any], *, where: str = "point") -> bytes:
        """One wire line (no trailing newline). Raises :class:`PointError` naming ``where`` and the field."""
        if not isinstance(point, Mapping):
            raise PointError(
                where, f"must be a mapping of field names to values, got {type(point).__name__}", code="E18007"
            )
        if self.field_map:
            point = self._apply_field_map(point)
        converters = self._converters
        parts: list[str] = []
        for key, value in point.items():
            if value is None:
                continue
            try:
                if converters is None:
                    if not isinstance(key, str) or not NAME_RE.match(key):
                        raise PointError(f"{where}.{key}", "is not a valid field name", code="E18106", field=str(key))
                    text = _infer_wire_text(value)
                else:
                    convert = converters.get(key)
                    if convert is None:
                        raise PointError(
                            f"{where}.{key}",
                            f"is not a field of the repo schema ({', '.join(converters)})",
                            code="E18111",
                            field=str(key),
                        )
                    text = convert(value)
            except _Bad as err:
                raise PointError(f"{where}.{key}", str(err), field=str(key)) from None
            except RecursionError:  # arrays or maps inside one another past the recursion limit
                raise PointError(f"{where}.{key}", NESTED_TOO_DEEPLY, field=str(key)) from None
            segment = f"{key}={text}"
            if len(segment) * 4 > MAX_FIELD_BYTES and len(_utf8(segment, f"{where}.{key}", key)) > MAX_FIELD_BYTES:
                raise PointError(
                    f"{where}.{key}",
                    f"is longer than {MAX_FIELD_BYTES} bytes once encoded",
                    code="E18008",
                    field=str(key),
                )
            parts.append(segment)
        for key in self._required:
            if point.get(key) is None:
                raise PointError(f"{where}.{key}", "is required by the repo schema but missing", field=key)
        if not parts:
            raise PointError(where, "has no fields to send", code="E18007")
        try:
            return "\t".join(parts).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (a JSON "\\ud800" escape without its pair): name its field
            for segment in parts:
                key = segment.partition("=")[0]
                _utf8(segment, f"{where}.{key}", key)
            raise

    def _apply_field_map(self, point: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in point.items():
            if key in self.field_map:
                target = self.field_map[key]
                if target is None:
                    continue
                out[target] = value
            else:
                out[key] = value
        return out

    def encode_all(self, points: Iterable[Mapping[str, Any]], *, name: str = "points") -> Iterator[bytes]:
        """Encode each point in turn; a ``PointError`` carries the failing point's index."""
        for index, point in enumerate(points):
            try:
                yield self.encode(point, where=f"{name}[{index}]")
            except PointError as err:
                err.index = index
                raise


# --------------------------------------------------------------------------------------------
# Batching
# --------------------------------------------------------------------------------------------
class BatchBuilder:
    """Packs wire lines into bodies strictly below ``max_bytes`` without ever splitting a line.

    ``add`` returns the finished batch when the new line does not fit (the Go SDK's rule), so a
    streaming caller sends each body as soon as it is complete.
    """

    __slots__ = ("_lines", "_size", "max_bytes")

    def __init__(self, max_bytes: int = MAX_BATCH_BYTES) -> None:
        self.max_bytes = max_bytes
        self._lines: list[bytes] = []
        self._size = 0

    def fits_alone(self, line: bytes) -> bool:
        """Whether ``line`` could be sent at all: a batch of it alone stays below ``max_bytes``."""
        return len(line) + 1 < self.max_bytes

    def add(self, line: bytes) -> list[bytes] | None:
        """Add a line; returns the finished batch when this line did not fit, else ``None``.

        Raises ``PointError`` (E18005) for a line that cannot fit in any batch.
        """
        cost = len(line) + 1
        if cost >= self.max_bytes:
            raise PointError(
                "point", f"is {cost} bytes encoded; a point must stay below {self.max_bytes} bytes", code="E18005"
            )
        full = None
        if self._lines and self._size + cost >= self.max_bytes:
            full = self._lines
            self._lines, self._size = [], 0
        self._lines.append(line)
        self._size += cost
        return full

    def take(self) -> list[bytes]:
        """The pending lines (possibly none), leaving the builder empty."""
        lines, self._lines, self._size = self._lines, [], 0
        return lines

    def __len__(self) -> int:
        return len(self._lines)

    @property
    def size(self) -> int:
        """Bytes the pending lines take in a body, newlines included."""
        return self._size


def body_of(lines: Sequence[bytes]) -> bytes:
    """The request body for a batch: every line terminated by ``\\n``."""
    return b"\n".join(lines) + b"\n" if lines else b""


def batches(lines: Iterable[bytes], max_bytes: int = MAX_BATCH_BYTES) -> Iterator[list[bytes]]:
    """Group lines into batches below ``max_bytes``, never splitting a line; ``PointError`` for an oversized line."""
    builder = BatchBuilder(max_bytes)
    for line in lines:
        full = builder.add(line)
        if full:
            yield full
    if len(builder):
        yield builder.take()


# --------------------------------------------------------------------------------------------
# Decoding (the emulator's side; also validates ``pandora``-format pass-through lines)
# --------------------------------------------------------------------------------------------
def split_lines(body: bytes) -> list[bytes]:
    """Lines of a body, split on LF only (never on ``\\u2028`` and friends); blank lines skipped."""
    return [line for line in body.split(b"\n") if line]


def split_fields(line: str, *, where: str = "line") -> list[tuple[str, str]]:
    """``k=v<TAB>k=v`` -> pairs, splitting each field at its first ``=``."""
    out = []
    for segment in line.split("\t"):
        key, sep, raw = segment.partition("=")
        if not sep or not key:
            raise PointError(where, f"field {segment[:60]!r} is not key=value", code="E18007")
        out.append((key, raw))
    return out


def _from_json(raw: str, label: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise _Bad(f"{raw[:60]!r} is not JSON {label}") from None


def _decoder(field: Field) -> Callable[[str], Any]:
    vt = field.valtype
    if vt in ("string", "ip"):
        return unescape
    if vt == "long":
        return to_long
    if vt == "float":
        return to_float
    if vt == "boolean":
        return lambda raw: to_bool(raw) if raw in ("true", "false", "True", "False") else _reject_bool(raw)
    if vt == "date":
        return to_datetime
    if vt == "jsonstring":
        return lambda raw: _from_json(raw, "text")
    convert = _json_ready(field)
    label = "an array" if vt == "array" else "an object"
    date_paths = _date_paths(field)

    def container(raw: str) -> Any:
        value = convert(_from_json(raw, label))
        return _revive_dates(value, date_paths) if date_paths else value

    return container


def _reject_bool(raw: str) -> bool:
    raise _Bad(f"{raw!r} is not a boolean (true/false)")


def _date_paths(field: Field) -> Any:
    if field.valtype != "map":
        return None
    paths: dict[str, Any] = {}
    for child in field.children:
        if child.valtype == "date":
            paths[child.key] = True
        elif child.valtype == "map":
            sub = _date_paths(child)
            if sub:
                paths[child.key] = sub
    return paths or None


def _revive_dates(value: dict[str, Any], paths: dict[str, Any]) -> dict[str, Any]:
    for key, sub in paths.items():
        if key in value:
            value[key] = to_datetime(value[key]) if sub is True else _revive_dates(value[key], sub)
    return value


class PointDecoder:
    """Decodes and validates wire lines against a repo schema, returning typed dicts.

    Values come back as Python types (``int``, ``float``, ``bool``, aware ``datetime``, ``list``,
    ``dict``), which is what the emulator stores and what round-trip tests compare.
    """

    def __init__(self, schema: Sequence[Field]) -> None:
        self.schema = tuple(schema)
        self._decoders = {f.key: _decoder(f) for f in self.schema}
        self._required = tuple(f.key for f in self.schema if f.required)

    def decode(self, line: bytes | str, *, where: str = "line") -> dict[str, Any]:
        """One wire line as a typed point; raises ``PointError`` naming the field for a value the schema refuses."""
        if isinstance(line, bytes):
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                raise PointError(where, "is not valid UTF-8", code="E18007") from None
        else:
            text = line
        decoders = self._decoders
        point: dict[str, Any] = {}
        for key, raw in split_fields(text, where=where):
            if len(key) + len(raw) + 1 > MAX_FIELD_BYTES // 4 and len(f"{key}={raw}".encode()) > MAX_FIELD_BYTES:
                raise PointError(f"{where}.{key}", f"is longer than {MAX_FIELD_BYTES} bytes", code="E18008", field=key)
            decode = decoders.get(key)
            if decode is None:
                raise PointError(
                    f"{where}.{key}", f"no such field key {key} in the repo schema", code="E18111", field=key
                )
            try:
                point[key] = decode(raw)
            except _Bad as err:
                raise PointError(f"{where}.{key}", str(err), field=key) from None
        for key in self._required:
            if key not in point:
                raise PointError(f"{where}.{key}", "is required by the repo schema but missing", field=key)
        return point

    def decode_body(self, body: bytes) -> list[dict[str, Any]]:
        """Every line of a request body decoded, errors naming the 1-based line number."""
        return [self.decode(line, where=f"line {n}") for n, line in enumerate(split_lines(body), start=1)]
