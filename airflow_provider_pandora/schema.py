"""Validation rules of the Pandora API (spec plus docs/sdk-facts.md §5), shared by client and emulator.

Each check raises :class:`PandoraValidationError` naming the parameter (``schema[2].schema[0].key``)
and the rule, so a user fixes the right thing before any request leaves the machine. The emulator
maps the same failures onto the service's E-codes through :attr:`SchemaProblem.code`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_pandora.exceptions import PandoraValidationError

NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,127}$")
PLUGIN_NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.]{0,127}[a-zA-Z0-9_]$")
NAME_RULE = "must match ^[a-zA-Z_][a-zA-Z0-9_]{0,127}$ (1-128 letters, digits, '_'; not starting with a digit)"
PLUGIN_RULE = "must be the parser's fully qualified class name, matching ^[a-zA-Z][a-zA-Z0-9_.]{0,127}[a-zA-Z0-9_]$"

#: The spec's six, plus ``boolean`` and ``jsonstring`` (later docs) and ``ip`` (Go SDK).
VALTYPES = frozenset({"long", "float", "string", "date", "boolean", "array", "map", "jsonstring", "ip"})
ELEMTYPES = frozenset({"long", "float", "string"})
MAX_MAP_DEPTH = 5
MAX_SCHEMA_ENTRIES = 500

#: Container types: the spec's, and the later ``<n>U<m>G`` family the service also accepts.
CONTAINER_TYPES = frozenset(
    {"M16C4", "M32C8", "1U2G", "1U4G", "2U4G", "4U8G", "4U16G", "8U16G", "8U32G", "16U32G", "16U64G"}
)
MIN_CONTAINER_COUNT, MAX_CONTAINER_COUNT = 1, 128
TRANSFORM_INTERVALS = ("5s", "10s", "20s", "30s", "1m", "5m", "10m")
#: The spec allows only these on update.
TRANSFORM_UPDATE_INTERVALS = ("1m", "5m", "10m")
PLUGIN_OUTPUT_TYPES = frozenset({"string", "long", "float"})
WHENCE_VALUES = ("oldest", "newest")
REGIONS = frozenset({"nb"})
REPO_TYPES = ("rt", "kodo")
KODO_FILE_TYPES = ("json", "text", "parquet")
SCHEDULER_TYPES = ("once", "loop", "crontab")
LOOP_RE = re.compile(r"^[1-9][0-9]*[mh]$")
MONGO_MODES = ("INSERT", "UPDATE", "UPSERT")

#: Export types as the SDKs send them; the spec's spellings are accepted and normalised.
EXPORT_TYPE_ALIASES = {
    "http": "http",
    "tsdb": "tsdb",
    "logdb": "logdb",
    "kodo": "kodo",
    "mongo": "mongo",
    "mongodb": "mongo",
}
EXPORT_REQUIRED_SPEC_KEYS: dict[str, tuple[str, ...]] = {
    "http": ("host", "uri"),
    "tsdb": ("destRepoName", "series", "tags", "fields"),
    "logdb": ("destRepoName",),
    "kodo": ("bucket", "email", "accessKey", "fields"),
    "mongo": ("host", "dbName", "collName", "mode"),
}


def SchemaProblem(parameter: str, problem: str, code: str = "E18007") -> PandoraValidationError:
    """A validation failure that also carries the service's E-code (used by the emulator)."""
    return PandoraValidationError(parameter, problem, code=code)


def check_name(value: Any, parameter: str, *, code: str = "E18103") -> str:
    """Resource and field names: repos, groups, transforms, exports, jobs, schema keys."""
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise SchemaProblem(parameter, f"{value!r} {NAME_RULE}", code)
    return value


#: The E-code the service answers for a malformed name, by the kind of resource it names. One table for the
#: client (which checks names before a request leaves) and the emulator (which checks them in each route).
RESOURCE_NAME_CODES: dict[str, str] = {
    "group": "E18221",
    "repo": "E18103",
    "dest_repo": "E18103",
    "transform": "E18207",
    "export": "E18305",
    "job": "E18604",
    "plugin": "E18117",
}


def check_resource_name(kind: str, value: Any, parameter: str | None = None) -> str:
    """A resource's name, refused with the E-code the service gives for that kind of resource."""
    if kind == "plugin":
        return check_plugin_name(value, parameter or kind)
    return check_name(value, parameter or kind, code=RESOURCE_NAME_CODES[kind])


def check_plugin_name(value: Any, parameter: str = "plugin") -> str:
    """``value`` if it is a valid plugin name; else ``SchemaProblem`` with the service's E18117."""
    if not isinstance(value, str) or not PLUGIN_NAME_RE.match(value):
        raise SchemaProblem(parameter, f"{value!r} {PLUGIN_RULE}", "E18117")
    return value


def check_choice(
    value: Any,
    choices: Iterable[str],
    parameter: str,
    *,
    code: str = "E18007",
    error: type[PandoraValidationError] = PandoraValidationError,
) -> str:
    """``value`` (as text) if it is one of ``choices``; else ``error`` (a validation error) naming the parameter.

    The one choice check of the package: the client, the operators, the transfers and the emulator (which
    answers with ``code``, E18007 by default) all use it.
    """
    options = tuple(choices)
    if value not in options:
        raise error(parameter, f"{value!r} is not one of {', '.join(options)}", code=code)
    return str(value)


def check_region(value: Any, parameter: str = "region") -> str:
    """``value`` if it is a Pandora region; else ``SchemaProblem`` E18212."""
    return check_choice(value, sorted(REGIONS), parameter, code="E18212")


def check_container(value: Any, parameter: str = "container") -> dict[str, Any]:
    """A container ``{"type", "count"}`` with a known type and a count in range; else ``SchemaProblem`` E18213."""
    if not isinstance(value, Mapping):
        raise SchemaProblem(parameter, 'must be an object like {"type": "M16C4", "count": 1}', "E18213")
    ctype = value.get("type")
    if ctype not in CONTAINER_TYPES:
        raise SchemaProblem(
            f"{parameter}.type", f"{ctype!r} is not one of {', '.join(sorted(CONTAINER_TYPES))}", "E18213"
        )
    count = value.get("count")
    if (
        isinstance(count, bool)
        or not isinstance(count, int)
        or not (MIN_CONTAINER_COUNT <= count <= MAX_CONTAINER_COUNT)
    ):
        raise SchemaProblem(
            f"{parameter}.count",
            f"{count!r} must be a whole number from {MIN_CONTAINER_COUNT} to {MAX_CONTAINER_COUNT}",
            "E18214",
        )
    return {"type": ctype, "count": count}


def check_interval(value: Any, parameter: str = "interval", *, update: bool = False) -> str:
    """A transform interval the service allows (``update`` allows the update call's set); else E18208."""
    return check_choice(value, TRANSFORM_UPDATE_INTERVALS if update else TRANSFORM_INTERVALS, parameter, code="E18208")


# --------------------------------------------------------------------------------------------
# Repo schemas
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """One schema entry, normalised. ``children`` is set for ``map`` fields."""

    key: str
    valtype: str
    required: bool = False
    elemtype: str | None = None
    children: tuple[Field, ...] = field(default_factory=tuple)

    @property
    def by_key(self) -> dict[str, Field]:
        """The ``map`` field's children by key, for looking up nested values."""
        return {child.key: child for child in self.children}

    def to_json(self) -> dict[str, Any]:
        """The field in the service's JSON form (``key``, ``valtype``, ``required``, ``elemtype``, map ``schema``)."""
        out: dict[str, Any] = {"key": self.key, "valtype": self.valtype, "required": self.required}
        if self.elemtype:
            out["elemtype"] = self.elemtype
        if self.children:
            out["schema"] = [child.to_json() for child in self.children]
        return out


def parse_schema(entries: Any, parameter: str = "schema", *, allow_empty: bool = False) -> tuple[Field, ...]:
    """Validate a spec-shaped schema list and return it normalised.

    Rules: keys match the name rule and are unique per level; valtype known; arrays need an
    elemtype of long/float/string; maps need a non-empty sub-schema, nested at most 5 deep;
    at most 500 entries counting nested ones.
    """
    counter = [0]
    fields = _parse_level(entries, parameter, depth=1, counter=counter, allow_empty=allow_empty)
    return fields


def _parse_level(
    entries: Any, parameter: str, *, depth: int, counter: list[int], allow_empty: bool
) -> tuple[Field, ...]:
    if entries is None or (isinstance(entries, Sequence) and not isinstance(entries, str) and not entries):
        if allow_empty:
            return ()
        raise SchemaProblem(parameter, "must list at least one field", "E18105")
    if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)):
        raise SchemaProblem(parameter, "must be a list of {key, valtype, ...} objects", "E18105")
    seen: set[str] = set()
    out: list[Field] = []
    for index, entry in enumerate(entries):
        where = f"{parameter}[{index}]"
        if not isinstance(entry, Mapping):
            raise SchemaProblem(where, "must be an object with key and valtype", "E18106")
        counter[0] += 1
        if counter[0] > MAX_SCHEMA_ENTRIES:
            raise SchemaProblem(parameter, f"has more than {MAX_SCHEMA_ENTRIES} entries (nested ones count)", "E18134")
        key = check_name(entry.get("key"), f"{where}.key", code="E18106")
        if key in seen:
            raise SchemaProblem(f"{where}.key", f"{key!r} appears twice at this level", "E18106")
        seen.add(key)
        valtype = entry.get("valtype")
        if valtype not in VALTYPES:
            raise SchemaProblem(
                f"{where}.valtype", f"{valtype!r} is not one of {', '.join(sorted(VALTYPES))}", "E18107"
            )
        required = entry.get("required", False)
        if required is None:
            required = False
        if not isinstance(required, bool):
            raise SchemaProblem(f"{where}.required", f"{required!r} must be true or false", "E18107")
        elemtype = None
        children: tuple[Field, ...] = ()
        if valtype == "array":
            elemtype = entry.get("elemtype")
            if elemtype not in ELEMTYPES:
                raise SchemaProblem(
                    f"{where}.elemtype",
                    f"{elemtype!r} must be one of {', '.join(sorted(ELEMTYPES))} for arrays",
                    "E18107",
                )
        elif valtype == "map":
            if depth >= MAX_MAP_DEPTH:
                raise SchemaProblem(f"{where}.schema", f"maps nest at most {MAX_MAP_DEPTH} levels deep", "E18107")
            children = _parse_level(
                entry.get("schema"), f"{where}.schema", depth=depth + 1, counter=counter, allow_empty=False
            )
        out.append(Field(key, valtype, required, elemtype, children))
    return tuple(out)


def schema_to_json(fields: Iterable[Field]) -> list[dict[str, Any]]:
    """A schema as the service's JSON list, the inverse of ``parse_schema``."""
    return [f.to_json() for f in fields]


def check_schema_extension(old: Sequence[Field], new: Sequence[Field], parameter: str = "schema") -> None:
    """A repo update may only add fields: every existing field must stay with the same type."""
    new_by_key = {f.key: f for f in new}
    for old_field in old:
        replacement = new_by_key.get(old_field.key)
        if replacement is None:
            raise SchemaProblem(
                parameter, f"field {old_field.key!r} cannot be removed; fields may only be added", "E18107"
            )
        if (replacement.valtype, replacement.elemtype) != (old_field.valtype, old_field.elemtype):
            raise SchemaProblem(
                parameter, f"field {old_field.key!r} cannot change type from {old_field.valtype}", "E18107"
            )
        if old_field.children:
            check_schema_extension(old_field.children, replacement.children, f"{parameter}.{old_field.key}")


# --------------------------------------------------------------------------------------------
# Exports, transforms, jobs
# --------------------------------------------------------------------------------------------
def normalise_export_type(value: Any, parameter: str = "export_type") -> str:
    """The canonical export type for ``value`` (aliases and case accepted); else ``SchemaProblem`` E18305."""
    normalised = EXPORT_TYPE_ALIASES.get(str(value).lower()) if isinstance(value, str) else None
    if normalised is None:
        raise SchemaProblem(parameter, f"{value!r} is not one of http, tsdb, logdb, kodo, mongo", "E18305")
    return normalised


def check_export_spec(export_type: str, spec: Any, parameter: str = "spec") -> dict[str, Any]:
    """A copy of ``spec`` once the keys its export type requires are present and valid; else E18305."""
    if not isinstance(spec, Mapping):
        raise SchemaProblem(parameter, "must be an object", "E18305")
    for key in EXPORT_REQUIRED_SPEC_KEYS[export_type]:
        if spec.get(key) in (None, "", {}):
            raise SchemaProblem(f"{parameter}.{key}", f"is required for {export_type} exports", "E18305")
    if export_type == "mongo":
        check_choice(spec.get("mode"), MONGO_MODES, f"{parameter}.mode", code="E18305")
    if export_type == "http" and not str(spec.get("uri", "")).startswith("/"):
        raise SchemaProblem(f"{parameter}.uri", "must start with '/'", "E18305")
    if export_type == "kodo":
        fmt = spec.get("format", "json")
        check_choice(fmt, ("json", "text", "parquet", "csv"), f"{parameter}.format", code="E18305")
    return dict(spec)


def check_scheduler(value: Any, parameter: str = "scheduler") -> dict[str, Any]:
    """A job scheduler (``once``, ``loop`` with ``10m``/``1h``, or ``crontab``) normalised; else E18614."""
    if not isinstance(value, Mapping):
        raise SchemaProblem(parameter, 'must be an object like {"type": "once"}', "E18614")
    stype = check_choice(value.get("type"), SCHEDULER_TYPES, f"{parameter}.type", code="E18614")
    out: dict[str, Any] = {"type": stype}
    if stype == "loop":
        loop = value.get("loop")
        if not isinstance(loop, str) or not LOOP_RE.match(loop):
            raise SchemaProblem(
                f"{parameter}.loop", f"{loop!r} must be a number of minutes or hours like '10m' or '1h'", "E18614"
            )
        out["loop"] = loop
    elif stype == "crontab":
        crontab = value.get("crontab")
        if not isinstance(crontab, str) or len(crontab.split()) not in (5, 6):
            raise SchemaProblem(
                f"{parameter}.crontab", f"{crontab!r} must be a 5- or 6-field crontab expression", "E18614"
            )
        out["crontab"] = crontab
    return out


def check_params(value: Any, parameter: str = "params") -> list[dict[str, str]]:
    """Job params as the spec's ``[{name, value}]``; a plain mapping is accepted and converted."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        value = [{"name": k, "value": v} for k, v in value.items()]
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise SchemaProblem(parameter, 'must be a list of {"name", "value"} objects or a mapping', "E18614")
    out = []
    for index, item in enumerate(value):
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"]:
            raise SchemaProblem(f"{parameter}[{index}]", 'must be an object with a non-empty "name"', "E18614")
        if not 1 <= len(item["name"]) <= 64:
            raise SchemaProblem(f"{parameter}[{index}].name", "must be 1-64 characters", "E18614")
        val = item.get("value", "")
        out.append({"name": item["name"], "value": "" if val is None else str(val)})
    return out
