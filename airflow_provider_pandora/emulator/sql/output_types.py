"""Output typing: result columns named and typed as repo fields."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from airflow_provider_pandora.emulator.sql.tables import DATE_TEXT_RE
from airflow_provider_pandora.schema import NAME_RE, Field


def column_name(raw: str, position: int) -> str:
    """A repo field name for a result column: ``count(*)`` -> ``count``, ``sum(hits)`` -> ``sum_hits``."""
    if NAME_RE.match(raw):
        return raw
    name = re.sub(r"[^A-Za-z0-9_]+", "_", raw).strip("_")[:128]
    if not name:
        return f"col{position}"
    if name[0].isdigit():
        name = ("_" + name)[:128]
    return name


def _infer_scalar(values: Sequence[Any]) -> str:
    """The valtype of a list of non-null scalar Python values; mixed kinds fall back to ``string``."""
    kinds = {type(v) for v in values}
    if kinds <= {bool}:
        return "boolean"
    if kinds <= {int, bool}:
        return "long"
    if kinds <= {int, float, bool}:
        return "float"
    if kinds <= {datetime}:
        return "date"
    if kinds <= {str} and all(DATE_TEXT_RE.match(v) for v in values):
        return "date"  # min/max/coalesce... of a date column keep the stored date text
    return "string"


def infer_field(key: str, values: Sequence[Any], hint: Field | None, maps: Sequence[Field] = ()) -> Field:
    """The destination field for result column ``key``, from its values; ``hint`` (its source field) wins ties."""
    if not values:
        if hint is not None:
            return Field(key, hint.valtype, False, hint.elemtype, hint.children)
        return Field(key, "string")
    if all(isinstance(v, list) for v in values):
        if hint is not None and hint.valtype == "array":
            return Field(key, "array", False, hint.elemtype)
        elems = [e for v in values for e in v if e is not None]
        elem = _infer_scalar(elems) if elems else "string"
        return Field(key, "array", False, elem if elem in ("long", "float") else "string")
    if all(isinstance(v, dict) for v in values):
        if hint is not None and hint.valtype == "map":
            return Field(key, "map", False, None, hint.children)
        seen_keys = {k for v in values for k in v}
        for candidate in maps:  # an aliased map column: the source map whose keys cover what we see
            if seen_keys <= set(candidate.by_key):
                return Field(key, "map", False, None, candidate.children)
        children = _infer_children(values)
        return Field(key, "map", False, None, children) if children else Field(key, "string")
    valtype = _infer_scalar(values)
    if hint is not None and hint.valtype == valtype:
        return Field(key, valtype, False, hint.elemtype, hint.children)
    return Field(key, str(valtype))


def _infer_children(values: Sequence[Mapping[str, Any]]) -> tuple[Field, ...]:
    keys: dict[str, list[Any]] = {}
    for value in values:
        for key, item in value.items():
            items = keys.setdefault(key, [])
            if item is not None:
                items.append(item)
    if any(not NAME_RE.match(key) for key in keys):
        return ()  # keys that cannot be field names: keep the map as JSON text
    return tuple(infer_field(key, items, None) for key, items in keys.items())
