"""Local validation rules: names, schemas, containers, intervals, exports, schedulers."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_pandora import schema
from airflow_provider_pandora.exceptions import PandoraValidationError


@pytest.mark.parametrize("name", ["a", "_x", "Test_Repo", "a" * 128, "A1_b2"])
def test_valid_names(name):
    assert schema.check_name(name, "repo") == name


@pytest.mark.parametrize("name", ["", "1abc", "a-b", "a b", "a" * 129, "é", None, 5])
def test_invalid_names_name_the_parameter(name):
    with pytest.raises(PandoraValidationError) as info:
        schema.check_name(name, "repo")
    assert info.value.parameter == "repo"
    assert info.value.code == "E18103"


@pytest.mark.parametrize("name", ["com.qiniu.NginxLogParser", "ab", "a_b.C9"])
def test_plugin_names(name):
    assert schema.check_plugin_name(name) == name


@pytest.mark.parametrize("name", ["a", "1com.x", "com.", "com..x-y"])
def test_bad_plugin_names(name):
    with pytest.raises(PandoraValidationError, match="fully qualified"):
        schema.check_plugin_name(name)


def _nested(depth: int) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {"key": "leaf", "valtype": "string"}
    for level in range(depth):
        entry = {"key": f"m{level}", "valtype": "map", "schema": [entry]}
    return [entry]


def test_maps_nest_five_deep_but_not_six():
    schema.parse_schema(_nested(4))  # 4 maps + leaf = depth 5
    with pytest.raises(PandoraValidationError, match="at most 5"):
        schema.parse_schema(_nested(5))


def test_at_most_500_entries_counting_nested_ones():
    flat = [{"key": f"f{i}", "valtype": "long"} for i in range(499)]
    nested = {"key": "m", "valtype": "map", "schema": [{"key": "x", "valtype": "long"}]}
    assert len(schema.parse_schema([*flat[:498], nested])) == 499  # 498 + map + its child = 500
    with pytest.raises(PandoraValidationError) as info:
        schema.parse_schema([*flat, nested])  # 501
    assert info.value.code == "E18134"


@pytest.mark.parametrize(
    ("entries", "parameter", "code"),
    [
        ([], "schema", "E18105"),
        ([{"key": "a", "valtype": "text"}], "schema[0].valtype", "E18107"),
        ([{"key": "a", "valtype": "array"}], "schema[0].elemtype", "E18107"),
        ([{"key": "a", "valtype": "array", "elemtype": "map"}], "schema[0].elemtype", "E18107"),
        ([{"key": "a", "valtype": "map"}], "schema[0].schema", "E18105"),
        ([{"key": "a", "valtype": "long"}, {"key": "a", "valtype": "long"}], "schema[1].key", "E18106"),
        (
            [{"key": "m", "valtype": "map", "schema": [{"key": "9", "valtype": "long"}]}],
            "schema[0].schema[0].key",
            "E18106",
        ),
        ([{"key": "a", "valtype": "long", "required": "yes"}], "schema[0].required", "E18107"),
    ],
)
def test_schema_errors_point_at_the_entry(entries, parameter, code):
    with pytest.raises(PandoraValidationError) as info:
        schema.parse_schema(entries)
    assert (info.value.parameter, info.value.code) == (parameter, code)


def test_schema_tolerates_nulls_and_unknown_keys_and_round_trips():
    fields = schema.parse_schema([{"key": "a", "valtype": "long", "required": None, "description": None, "x": 1}])
    assert schema.schema_to_json(fields) == [{"key": "a", "valtype": "long", "required": False}]


@pytest.mark.parametrize(
    ("container", "parameter"),
    [
        ({"type": "M64C16", "count": 1}, "container.type"),
        ({"type": "M16C4", "count": 0}, "container.count"),
        ({"type": "M16C4", "count": 129}, "container.count"),
        ({"type": "M16C4", "count": True}, "container.count"),
        ("M16C4", "container"),
    ],
)
def test_container_rules(container, parameter):
    with pytest.raises(PandoraValidationError) as info:
        schema.check_container(container)
    assert info.value.parameter == parameter


def test_intervals_are_stricter_on_update():
    assert schema.check_interval("5s") == "5s"
    with pytest.raises(PandoraValidationError):
        schema.check_interval("5s", update=True)
    with pytest.raises(PandoraValidationError):
        schema.check_interval("2m")


@pytest.mark.parametrize(("given", "sent"), [("logDB", "logdb"), ("mongoDB", "mongo"), ("HTTP", "http")])
def test_export_types_accept_the_specs_spellings(given, sent):
    assert schema.normalise_export_type(given) == sent


@pytest.mark.parametrize(
    ("etype", "spec", "parameter"),
    [
        ("http", {"host": "h"}, "spec.uri"),
        ("http", {"host": "h", "uri": "no-slash"}, "spec.uri"),
        ("tsdb", {"destRepoName": "d", "series": "s", "tags": {}}, "spec.tags"),
        ("mongo", {"host": "h", "dbName": "d", "collName": "c", "mode": "MERGE"}, "spec.mode"),
        (
            "kodo",
            {"bucket": "b", "email": "e", "accessKey": "k", "fields": {"a": "#a"}, "format": "xml"},
            "spec.format",
        ),
    ],
)
def test_export_specs(etype, spec, parameter):
    with pytest.raises(PandoraValidationError) as info:
        schema.check_export_spec(etype, spec)
    assert info.value.parameter == parameter


def test_schedulers_and_params():
    assert schema.check_scheduler({"type": "loop", "loop": "10m"}) == {"type": "loop", "loop": "10m"}
    assert schema.check_scheduler({"type": "crontab", "crontab": "0 0 0/1 * * ?"})["crontab"]
    for bad in ({"type": "loop", "loop": "10s"}, {"type": "crontab"}, {"type": "daily"}):
        with pytest.raises(PandoraValidationError):
            schema.check_scheduler(bad)
    assert schema.check_params({"day": "2024-01-01", "n": 3}) == [
        {"name": "day", "value": "2024-01-01"},
        {"name": "n", "value": "3"},
    ]
    with pytest.raises(PandoraValidationError, match=r"params\[0\]"):
        schema.check_params([{"value": "x"}])


def test_schema_extension_only_adds():
    old = schema.parse_schema([{"key": "a", "valtype": "long"}])
    schema.check_schema_extension(
        old, schema.parse_schema([{"key": "a", "valtype": "long"}, {"key": "b", "valtype": "string"}])
    )
    with pytest.raises(PandoraValidationError, match="removed"):
        schema.check_schema_extension(old, schema.parse_schema([{"key": "b", "valtype": "string"}]))
    with pytest.raises(PandoraValidationError, match="change type"):
        schema.check_schema_extension(old, schema.parse_schema([{"key": "a", "valtype": "string"}]))
