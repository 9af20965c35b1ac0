"""The emulator's SQL engine: spec examples, Spark spellings, typing of results, params and directives."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_pandora.emulator.sql import (
    SqlCancelled,
    SqlError,
    check_sql,
    coerce_value,
    directives,
    referenced_repos,
    run_sql,
    substitute_params,
)
from airflow_provider_pandora.schema import Field, parse_schema
from airflow_provider_pandora.wire import PointDecoder, PointEncoder

# The spec's repo example (seed-api "创建消息队列"), plus a date, a boolean and a long.
SCHEMA = parse_schema(
    [
        {"key": "userName", "valtype": "string", "required": True},
        {"key": "age", "valtype": "float", "required": True},
        {"key": "addresses", "valtype": "array", "elemtype": "long"},
        {
            "key": "profile",
            "valtype": "map",
            "schema": [
                {"key": "position", "valtype": "string"},
                {"key": "salary", "valtype": "float"},
                {"key": "education", "valtype": "array", "elemtype": "string"},
                {"key": "since", "valtype": "date"},
            ],
        },
        {"key": "ts", "valtype": "date"},
        {"key": "ok", "valtype": "boolean"},
        {"key": "hits", "valtype": "long"},
    ]
)
T1 = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
T2 = datetime(2024, 1, 2, 0, 0, 0, 500000, tzinfo=UTC)
POINTS: list[dict[str, Any]] = [
    {
        "userName": "小张",
        "age": 22.0,
        "addresses": [1, 2],
        "profile": {"position": "engineer", "salary": 15000.0, "education": ["bsc"], "since": T1},
        "ts": T1,
        "ok": True,
        "hits": 3,
    },
    {
        "userName": "小王",
        "age": 28.5,
        "addresses": [],
        "profile": {"position": "manager", "salary": 12000.0},
        "ts": T2,
        "ok": False,
        "hits": 5,
    },
    {"userName": "tab\tand\nnewline", "age": 40.0},
]


def run(code: str, points: list[dict[str, Any]] | None = None, name: str = "test_repo") -> Any:
    return run_sql(code, {name: (list(SCHEMA), POINTS if points is None else points)})


def types(result: Any) -> dict[str, tuple[str, str | None]]:
    return {f.key: (f.valtype, f.elemtype) for f in result.fields}


# ---- the spec's SQL examples ------------------------------------------------------------------
def test_spec_transform_example_counts_rows_into_a_valid_field_name():
    result = run("select count(*) from test_repo")
    assert types(result) == {"count": ("long", None)}
    assert result.rows == [{"count": 3}]


def test_readme_job_example_groups_and_sums():
    points = [{"userName": "a", "age": 1.0, "hits": 2}, {"userName": "a", "age": 1.0, "hits": 3}]
    points.append({"userName": "b", "age": 1.0, "hits": 7})
    result = run("select userName as user, sum(hits) as hits from test_repo group by userName order by user", points)
    assert types(result) == {"user": ("string", None), "hits": ("long", None)}
    assert result.rows == [{"user": "a", "hits": 5}, {"user": "b", "hits": 7}]


# ---- typing ---------------------------------------------------------------------------------
def test_select_star_round_trips_every_type_and_schema():
    result = run("select * from test_repo")
    # destination fields are optional: a later run may produce nulls
    assert result.fields == [dataclasses.replace(f, required=False) for f in SCHEMA]
    assert result.rows == POINTS


def test_result_rows_encode_and_decode_with_the_inferred_schema():
    result = run("select * from test_repo")
    encoder = PointEncoder(result.fields)
    lines = [encoder.encode(row) for row in result.rows]
    assert PointDecoder(result.fields).decode_body(b"\n".join(lines)) == POINTS


def test_aliases_keep_the_source_column_type():
    result = run("select ts as moment, ok as flag, addresses as a, profile as p from test_repo where hits = 3")
    assert types(result) == {
        "moment": ("date", None),
        "flag": ("boolean", None),
        "a": ("array", "long"),
        "p": ("map", None),
    }
    assert result.rows == [{"moment": T1, "flag": True, "a": [1, 2], "p": POINTS[0]["profile"]}]


def test_computed_columns_are_typed_from_values():
    result = run(
        "select avg(age) as a, max(ts) as latest, min(hits) as least, 'x' || userName as s, 1.5 * 2 as f,"
        " hits > 3 as cmp from test_repo group by hits is null order by a"
    )
    assert types(result) == {
        "a": ("float", None),
        "latest": ("date", None),
        "least": ("long", None),
        "s": ("string", None),
        "f": ("float", None),
        "cmp": ("long", None),
    }
    assert result.rows[0] == {"a": 25.25, "latest": T2, "least": 3, "s": "x小张", "f": 3.0, "cmp": 0}


def test_mixed_int_and_float_values_make_a_float_column():
    result = run("select case when hits = 3 then 1 else 2.5 end as v from test_repo where hits is not null")
    assert types(result) == {"v": ("float", None)}
    assert result.rows == [{"v": 1.0}, {"v": 2.5}]


def test_mixed_text_and_numbers_make_a_string_column():
    result = run("select case when hits = 3 then 'three' else hits end as v from test_repo where hits is not null")
    assert types(result) == {"v": ("string", None)}
    assert result.rows == [{"v": "three"}, {"v": "5"}]


def test_empty_result_takes_types_from_same_named_source_columns():
    result = run("select hits, ts, count(*) as n, 'k' as other from test_repo where 1 = 0 group by hits, ts")
    assert types(result) == {
        "hits": ("long", None),
        "ts": ("date", None),
        "n": ("string", None),
        "other": ("string", None),
    }
    assert result.rows == []


def test_nulls_are_left_out_of_rows():
    result = run("select userName, hits from test_repo order by age")
    assert result.rows[-1] == {"userName": "tab\tand\nnewline"}


def test_unnamed_expressions_get_valid_unique_names():
    result = run("select sum(hits), 1, upper(userName) from test_repo group by userName order by 3 limit 1")
    assert [f.key for f in result.fields] == ["sum_hits", "_1", "upper_userName"]


def test_duplicate_output_names_are_refused_with_a_hint():
    with pytest.raises(SqlError, match=r"two columns named 'hits'.*unique alias"):
        run("select hits, hits from test_repo")


def test_dates_compare_and_sort_as_text_whatever_their_offset():
    points = [
        {"userName": "late", "age": 1.0, "ts": datetime.fromisoformat("2024-01-01T09:00:00.5+08:00")},
        {"userName": "early", "age": 1.0, "ts": datetime.fromisoformat("2024-01-01T00:59:59+00:00")},
    ]
    result = run("select userName from test_repo where ts >= '2024-01-01T01' order by ts", points)
    assert result.rows == [{"userName": "late"}]
    ordered = run("select userName, substr(ts, 1, 13) as hour from test_repo order by ts", points)
    assert ordered.rows == [
        {"userName": "early", "hour": "2024-01-01T00"},
        {"userName": "late", "hour": "2024-01-01T01"},
    ]


# ---- maps, arrays and Spark spellings ---------------------------------------------------------
def test_map_fields_read_with_spark_dot_and_bracket_syntax():
    result = run(
        "select t.profile.position, profile['salary'], addresses[1], profile.education[0] as edu,"
        " json_extract(profile, '$.since') as since from test_repo t where hits = 3"
    )
    assert types(result) == {
        "position": ("string", None),
        "salary": ("float", None),
        "addresses_1": ("long", None),
        "edu": ("string", None),
        "since": ("string", None),
    }
    assert result.rows == [
        {"position": "engineer", "salary": 15000.0, "addresses_1": 2, "edu": "bsc", "since": "2024-01-01T08:00:00Z"}
    ]


def test_map_key_text_inside_string_literals_is_left_alone():
    result = run("select 'profile.position' as lit from test_repo where profile.position = 'manager'")
    assert result.rows == [{"lit": "profile.position"}]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("cast(hits as string)", "3"),
        ("cast('12' as long)", 12),
        ("cast('2.5' as double)", 2.5),
        ("if(ok, 'yes', 'no')", "yes"),
        ("nvl(null, 'dflt')", "dflt"),
        ("concat(userName, '-', hits)", "小张-3"),
        ("concat_ws('/', 'a', null, 'b')", "a/b"),
        ("year(ts)", 2024),
        ("month(ts)", 1),
        ("dayofmonth(ts)", 1),
        ("hour(ts)", 8),
        ("minute(ts)", 0),
        ("to_date(ts)", "2024-01-01"),
        ("date_format(ts, 'yyyy/MM/dd HH:mm:ss.SSS')", "2024/01/01 08:00:00.000"),
        ("unix_timestamp(ts)", 1704096000),
        ("from_unixtime(0)", "1970-01-01 00:00:00"),
        ("get_json_object(profile, '$.education[0]')", "bsc"),
        ("size(addresses)", 2),
        ("array_contains(addresses, 2)", 1),
        ("split('a,b', ',')", '["a", "b"]'),
        ("userName rlike '^小'", 1),
        ("lcase('AB') || ucase('cd')", "abCD"),
        ("floor(2.7) + ceil(0.2)", 3),
        ("`hits` + 1", 4),
    ],
)
def test_spark_functions_and_spellings(expr: str, expected: Any):
    result = run(f"select {expr} as v from test_repo where hits = 3")
    assert result.rows == [{"v": expected}]


def test_current_timestamp_and_rand_run():
    result = run("select current_timestamp() as n, current_date() as d, rand() as r from test_repo limit 1")
    row = result.rows[0]
    assert row["n"].endswith("Z")
    assert row["d"] == datetime.now(UTC).date().isoformat()
    assert 0 <= row["r"] < 1


def test_join_of_two_repos_and_cte():
    users = [Field("name", "string"), Field("team", "string")]
    result = run_sql(
        "with h as (select userName, hits from clicks where hits is not null)"
        " select u.team, sum(h.hits) as total from h join users u on u.name = h.userName group by u.team",
        {
            "clicks": (list(SCHEMA), POINTS),
            "users": (users, [{"name": "小张", "team": "red"}, {"name": "小王", "team": "red"}]),
        },
    )
    assert result.rows == [{"team": "red", "total": 8}]


def test_repo_names_match_case_insensitively():
    assert run("select count(*) as n from Test_Repo").rows == [{"n": 3}]


def test_points_are_consumed_from_any_iterable():
    result = run_sql("select count(*) as n from r", {"r": ([Field("x", "long")], ({"x": i} for i in range(1000)))})
    assert result.rows == [{"n": 1000}]


# ---- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "empty"),
        ("-- just a comment", "only comments"),
        ("selec * from test_repo", "one SELECT statement.*'selec'"),
        ("delete from test_repo", "one SELECT statement"),
        ("select 1; select 2", "more than one statement"),
        ("select nosuch from test_repo", "invalid SQL: no such column: nosuch"),
        ("select * from test_repo where", "invalid SQL: incomplete input"),
        ("select frobnicate(hits) from test_repo", "no such function: frobnicate"),
        ("select * from other_repo", "reads from 'other_repo', which is not a source.*test_repo"),
        ("with x as (select 1) delete from test_repo", "must only read"),
        ("select 'unterminated from test_repo", "invalid SQL: unrecognized token"),
    ],
)
def test_bad_sql_raises_an_actionable_error(code: str, message: str):
    with pytest.raises(SqlError, match=message):
        run(code)


def test_bad_point_value_names_repo_point_and_field():
    with pytest.raises(SqlError, match=r"repo 'test_repo' point 2, field 'ts'"):
        run("select * from test_repo", [{"userName": "a", "age": 1.0}, {"userName": "b", "age": 1.0, "ts": "soon"}])


def test_should_stop_cancels_a_long_query():
    stop = threading.Event()
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    started = time.monotonic()
    with pytest.raises(SqlCancelled):
        run_sql(
            "with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n, r",
            {"r": ([Field("x", "long")], [{"x": 1}])},
            should_stop=stop.is_set,
        )
    assert time.monotonic() - started < 5
    timer.cancel()


# ---- check_sql ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "code",
    [
        "select count(*) from test_repo",
        "select user, hits from j_src where hits >= ${min_hits}",
        "select * from t where d = '$(year)-$(mon)-$(day)' limit $(n)",
        "select profile.position, x['k'] from t",
        "-- emulator: sleep=2\nselect a from t;",
        "with x as (select a from t) select * from x",
        "select * from ${table} join t on t.a = b",
        "select 1",
    ],
)
def test_check_sql_accepts_valid_code_before_schemas_or_params_exist(code: str):
    check_sql(code)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("select count(* from t", "invalid SQL"),
        ("update t set a = 1", "one SELECT"),
        ("select nosuch_fn(a) from t", "no such function: nosuch_fn"),
        ("select a from t where sum(b) > 1", "misuse of aggregate"),
        ("with x as (select a from t) delete from t", "must only read"),
        ('-- emulator: fail="x" nap=1\nselect 1', "unknown emulator directive 'nap'"),
    ],
)
def test_check_sql_refuses_bad_code(code: str, message: str):
    with pytest.raises(SqlError, match=message):
        check_sql(code)


def test_check_sql_with_sources_checks_columns_and_repos():
    sources = {"t": [Field("a", "long"), Field("m", "map", children=(Field("k", "string"),))]}
    check_sql("select a, m.k from t where a > ${n}", sources)
    with pytest.raises(SqlError, match="no such column: b"):
        check_sql("select b from t", sources)
    with pytest.raises(SqlError, match="reads from 'u'"):
        check_sql("select a from u", sources)


# ---- referenced_repos -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "repos"),
    [
        ("select count(*) from test_repo", ["test_repo"]),
        ("select * from a, b as bb, `c` cc where 1", ["a", "b", "c"]),
        ("select * from a join b on a.i = b.i left outer join c using (i), d", ["a", "b", "c", "d"]),
        ("with x as (select * from a), y(k) as (select 1 from b) select * from x, y", ["a", "b"]),
        ("select * from (select * from a) q where q.i in (select i from b) group by 1", ["a", "b"]),
        ("select substring(s from 2), trim(both from s) from a", ["a"]),
        ("select * from json_each(x), ${table}", []),
        ("select 'from b' as s from a -- from c\n/* from d */", ["a"]),
        ("select * from A join a", ["A"]),
        ('select * from "Q" union select * from db.r', ["Q", "r"]),
    ],
)
def test_referenced_repos(code: str, repos: list[str]):
    assert referenced_repos(code) == repos


# ---- directives -----------------------------------------------------------------------------
def test_directives_parse_sleep_and_quoted_fail_message():
    code = '-- emulator: sleep=1.5 fail="division by zero in \\"stage\\" 2"\nselect 1'
    assert directives(code) == {"sleep": "1.5", "fail": 'division by zero in "stage" 2'}


def test_directives_later_ones_override_and_plain_comments_are_ignored():
    code = "-- a comment\n--emulator: sleep=1\nselect 1 -- emulator: sleep=2\n  -- EMULATOR:fail=boom"
    assert directives(code) == {"sleep": "2", "fail": "boom"}
    assert directives("select 1") == {}
    assert directives("select 1 -- the emulator runs this too\n") == {}


@pytest.mark.parametrize(
    "code",
    [
        "select user from src -- emulator: sleep=20",  # trailing a line of SQL (was silently ignored)
        "select user from src -- slow on purpose; emulator: sleep=20",  # anywhere in the comment
        "select user /* emulator: sleep=20 */ from src",
        "/*\n  emulator: sleep=20\n*/ select user from src",
        "select user\nfrom src  --emulator:sleep=20",
    ],
)
def test_a_directive_is_read_anywhere_in_a_comment(code: str):
    assert directives(code) == {"sleep": "20"}


def test_directive_text_in_a_string_literal_is_not_a_directive():
    assert directives("select '-- emulator: sleep=20' as s from src") == {}


@pytest.mark.parametrize(
    "code",
    ["select 1 -- emulator sleep=20", "-- emulator: sleep=20 please\nselect 1", "/* emulator fail=boom */ select 1"],
)
def test_a_directive_that_cannot_be_read_is_refused_showing_the_right_form(code: str):
    with pytest.raises(SqlError, match='-- emulator: sleep=3 fail="message"'):
        directives(code)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-- emulator: sleep=-1", "number of seconds >= 0"),
        ("-- emulator: sleep=soon", "number of seconds"),
        ('-- emulator: fail="unterminated', "malformed"),
        ("-- emulator: wait=3", "unknown emulator directive 'wait'; known: sleep, fail"),
    ],
)
def test_bad_directives_are_refused(line: str, message: str):
    with pytest.raises(SqlError, match=message):
        directives(line + "\nselect 1")


# ---- params ---------------------------------------------------------------------------------
def test_params_substitute_both_placeholder_forms():
    code = "select * from t where hits >= ${min_hits} and tag = '$(tag)' and x = ${ min_hits }"
    assert substitute_params(code, {"min_hits": "3", "tag": "a b"}) == (
        "select * from t where hits >= 3 and tag = 'a b' and x = 3"
    )


def test_system_variables_come_from_now_in_beijing_time_unless_a_param_overrides_them():
    now = datetime(2017, 1, 12, 16, 30, 5, 123, tzinfo=UTC)
    code = "$(year)-$(mon)-$(day) $(hour):$(min):$(sec) $(date) $(now)"
    assert substitute_params(code, {}, now=now) == "2017-01-13 00:30:05 2017-01-13 2017-01-13T00:30:05+08:00"
    assert substitute_params("$(year)", {"year": "1999"}, now=now) == "1999"


def test_missing_params_are_all_named():
    with pytest.raises(SqlError, match=r"undefined param\(s\) 'min_hits', 'other'.*known: date, day, .*tag"):
        substitute_params("select ${min_hits}, $(other), ${min_hits}, $(tag)", {"tag": "x"})


def test_substituted_job_sql_runs():
    code = substitute_params("select userName from test_repo where hits >= ${min_hits}", {"min_hits": "4"})
    assert run(code).rows == [{"userName": "小王"}]


# ---- coerce_value ---------------------------------------------------------------------------
def test_coerce_value_converts_to_the_field_type():
    assert coerce_value("5", Field("x", "long")) == 5
    assert coerce_value(True, Field("x", "long")) == 1
    assert coerce_value(1, Field("x", "float")) == 1.0
    assert coerce_value("true", Field("x", "boolean")) is True
    assert coerce_value("2024-01-01T08:00:00Z", Field("x", "date")) == T1
    assert coerce_value(T1, Field("x", "string")) == "2024-01-01T08:00:00Z"
    assert coerce_value(2.5, Field("x", "string")) == "2.5"
    assert coerce_value("[1, 2]", Field("x", "array", elemtype="float")) == [1.0, 2.0]
    nested = Field("m", "map", children=(Field("d", "date"),))
    assert coerce_value({"d": "2024-01-01T08:00:00Z", "extra": 1}, nested) == {"d": T1}
    with pytest.raises(ValueError, match="not a whole number"):
        coerce_value("x", Field("x", "long"))


def test_types_survive_ctes_subqueries_and_window_functions():
    result = run(
        "with x as (select ts as moment, ok from test_repo) select moment, ok,"
        " row_number() over (order by moment) as n from (select * from x where moment is not null)"
    )
    assert types(result) == {"moment": ("date", None), "ok": ("boolean", None), "n": ("long", None)}
    assert result.rows == [{"moment": T1, "ok": True, "n": 1}, {"moment": T2, "ok": False, "n": 2}]


def test_booleans_filter_directly_and_dates_compare_with_short_text():
    assert run("select hits from test_repo where ok").rows == [{"hits": 3}]
    assert run("select hits from test_repo where ts >= '2024-01-02'").rows == [{"hits": 5}]


def test_values_statement_runs_without_repos():
    result = run_sql("values (1, 'a')", {})
    assert result.rows == [{"column1": 1, "column2": "a"}]


RUNAWAY = "with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n, t"


def test_check_sql_compiles_without_running_the_query():
    started = time.monotonic()
    check_sql(RUNAWAY)
    check_sql(RUNAWAY, {"t": [Field("x", "long")]})
    assert time.monotonic() - started < 2


def test_run_sql_stops_a_runaway_query_after_the_timeout():
    with pytest.raises(SqlError, match=r"ran longer than 0\.2 s"):
        run_sql(RUNAWAY, {"t": ([Field("x", "long")], [{"x": 1}])}, timeout=0.2)


@pytest.mark.parametrize(
    "code",
    ["with x as (select 1) insert into t select * from x", "with x as (select 1) update t set x = 2"],
)
def test_writes_hidden_behind_with_are_refused(code: str):
    with pytest.raises(SqlError, match="must only read"):
        run_sql(code, {"t": ([Field("x", "long")], [{"x": 1}])})
    with pytest.raises(SqlError, match="must only read"):
        check_sql(code)


def test_replace_function_is_not_mistaken_for_a_write():
    assert run("select replace(userName, '小', 'x') as u from test_repo where hits = 3").rows == [{"u": "x张"}]
    with pytest.raises(SqlError, match="'replace' would write"):
        check_sql("with x as (select 1) replace into t select * from x")


# ---- property: any typed points survive a round trip through SQLite ----------------------------
_SCALARS = {
    "long": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "string": st.text(st.characters(exclude_categories=["Cs"]), max_size=20),
    "boolean": st.booleans(),
    "date": st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
}


def _values(field: Field) -> st.SearchStrategy[Any]:
    if field.valtype == "array":
        return st.lists(_SCALARS[field.elemtype or "string"], max_size=3)
    if field.valtype == "map":
        return st.fixed_dictionaries({}, optional={c.key: _values(c) for c in field.children})
    return _SCALARS[field.valtype]


def _field(key: str, kind: str, draw: st.DrawFn) -> Field:
    if kind == "array":
        return Field(key, "array", elemtype=draw(st.sampled_from(["long", "float", "string"])))
    if kind == "map":
        child_kinds = draw(st.lists(st.sampled_from([*_SCALARS, "array"]), min_size=1, max_size=3))
        return Field(key, "map", children=tuple(_field(f"c{i}", k, draw) for i, k in enumerate(child_kinds)))
    return Field(key, kind)


@st.composite
def _repo(draw: st.DrawFn) -> tuple[list[Field], list[dict[str, Any]]]:
    kinds = draw(st.lists(st.sampled_from([*_SCALARS, "array", "map"]), min_size=1, max_size=6))
    fields = [_field(f"f{i}", kind, draw) for i, kind in enumerate(kinds)]
    point = st.fixed_dictionaries({}, optional={f.key: _values(f) for f in fields})
    return fields, draw(st.lists(point, min_size=1, max_size=5))


@settings(max_examples=int(os.environ.get("PANDORA_HYPOTHESIS_EXAMPLES", "60")), deadline=None)
@given(_repo())
def test_any_points_round_trip_through_select_star(repo: tuple[list[Field], list[dict[str, Any]]]):
    fields, points = repo
    result = run_sql("select * from r", {"r": (fields, points)})
    assert result.rows == points
    assert result.fields == fields


def test_subscripts_after_a_table_alias_with_and_without_map_fields():
    assert run("select t.addresses[1] as a from test_repo t where hits = 3").rows == [{"a": 2}]
    arrays = [Field("tags", "array", elemtype="string")]
    result = run_sql("select r.tags[0] as first, tags[1] from r", {"r": (arrays, [{"tags": ["x", "y"]}])})
    assert result.rows == [{"first": "x", "tags_1": "y"}]
