"""Reading a kodo-type repo's files from the local Kodo folder: json, text, gzip, bad lines."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from airflow_provider_pandora.emulator.delivery.kodo_source import iter_kodo_files, iter_kodo_points, text_field
from airflow_provider_pandora.schema import Field, parse_schema

FIELDS = parse_schema(
    [
        {"key": "user", "valtype": "string", "required": True},
        {"key": "hits", "valtype": "long"},
        {"key": "ratio", "valtype": "float"},
        {"key": "ok", "valtype": "boolean"},
        {"key": "ts", "valtype": "date"},
        {"key": "tags", "valtype": "array", "elemtype": "string"},
        {"key": "meta", "valtype": "map", "schema": [{"key": "at", "valtype": "date"}]},
    ]
)


def put(root: Path, key: str, data: bytes | str) -> Path:
    path = root / "logs" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_json_lines_are_typed_by_the_schema(tmp_path: Path):
    lines = [
        {"user": "a", "hits": "3", "ratio": 1, "ok": "true", "ts": "2024-01-01T08:00:00+08:00", "extra": [1]},
        {"user": "b", "tags": ["x", "y"], "meta": {"at": "2024-01-02T00:00:00Z"}, "hits": None},
    ]
    put(tmp_path, "app/2024-01-01.json", "\n".join(json.dumps(line) for line in lines) + "\n\n")
    points = list(iter_kodo_points(tmp_path, "logs", "app/", "json", FIELDS))
    assert points == [
        {"user": "a", "hits": 3, "ratio": 1.0, "ok": True, "ts": datetime(2024, 1, 1, tzinfo=UTC)},
        {"user": "b", "tags": ["x", "y"], "meta": {"at": datetime(2024, 1, 2, tzinfo=UTC)}},
    ]


def test_only_keys_with_the_prefix_are_read_in_key_order(tmp_path: Path):
    put(tmp_path, "app/b.json", '{"user": "b"}')
    put(tmp_path, "app/a/deep.json", '{"user": "a"}')
    put(tmp_path, "other/c.json", '{"user": "c"}')
    put(tmp_path, "app/.c.json.tmp", '{"user": "half-written"}')
    put(tmp_path, "apple.json", '{"user": "apple"}')
    assert [p["user"] for p in iter_kodo_points(tmp_path, "logs", "app/", "json", FIELDS)] == ["a", "b"]
    assert [p["user"] for p in iter_kodo_points(tmp_path, "logs", "app", "json", FIELDS)] == ["a", "b", "apple"]
    assert [p["user"] for p in iter_kodo_points(tmp_path, "logs", "", "json", FIELDS)] == ["a", "b", "apple", "c"]
    assert [key for key, _ in iter_kodo_files(tmp_path, "logs", "other")] == ["other/c.json"]


def test_gzip_is_detected_by_magic_bytes_not_name(tmp_path: Path):
    put(tmp_path, "z/one.json.gz", gzip.compress(b'{"user": "gz"}\n'))
    put(tmp_path, "z/two.json", gzip.compress(b'{"user": "gz-unnamed"}\r\n'))
    put(tmp_path, "z/three.json", b'{"user": "plain"}')
    users = [p["user"] for p in iter_kodo_points(tmp_path, "logs", "z/", "json", FIELDS)]
    assert users == ["gz", "plain", "gz-unnamed"]


def test_text_lines_go_to_the_single_string_field(tmp_path: Path):
    put(tmp_path, "t/1.log", "GET /a 200\n\nPOST /b\t500 \u2028still line 3\r\n")
    put(tmp_path, "t/2.log.gz", gzip.compress("日志\n".encode()))
    points = list(iter_kodo_points(tmp_path, "logs", "t/", "text", [Field("text", "string")]))
    assert points == [{"text": "GET /a 200"}, {"text": "POST /b\t500 \u2028still line 3"}, {"text": "日志"}]
    assert list(iter_kodo_points(tmp_path, "logs", "t/2", "TEXT", [Field("raw", "string")])) == [{"raw": "日志"}]


def test_text_field_choice():
    assert text_field([Field("a", "long"), Field("text", "string")]).key == "text"
    with pytest.raises(ValueError, match=r"one string field, but the repo schema has 2 fields \(a, b\)"):
        text_field([Field("a", "string"), Field("b", "string")])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"user": "a"}\n{"user": "b", "hits": "many"}', r"logs/bad/f\.json line 2: field 'hits': 'many' is not"),
        ('{"user": "a"}\n\n{"user": ', r"logs/bad/f\.json line 3: not a JSON object"),
        ('["user", "a"]', r"logs/bad/f\.json line 1: not a JSON object but list"),
        ('{"hits": 1}', r"logs/bad/f\.json line 1: required field 'user' is missing"),
        ('{"user": "a", "ts": "yesterday"}', r"line 1: field 'ts': 'yesterday' is not an RFC 3339 date"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, content: str, message: str):
    put(tmp_path, "bad/f.json", content)
    points = iter_kodo_points(tmp_path, "logs", "bad/", "json", FIELDS)
    with pytest.raises(ValueError, match=message):
        list(points)


def test_points_before_a_bad_line_are_yielded_lazily(tmp_path: Path):
    put(tmp_path, "bad/f.json", '{"user": "a"}\n{"user": 1.5, "hits": "x"}')
    points = iter_kodo_points(tmp_path, "logs", "bad/", "json", FIELDS)
    assert next(points) == {"user": "a"}
    with pytest.raises(ValueError, match="line 2"):
        next(points)


def test_unreadable_files_are_reported(tmp_path: Path):
    put(tmp_path, "bin/a.json", b"\x1f\x8bnot really gzip")
    with pytest.raises(ValueError, match=r"logs/bin/a\.json: not a readable gzip file"):
        list(iter_kodo_points(tmp_path, "logs", "bin/", "json", FIELDS))
    put(tmp_path, "bin2/a.json", b"\xff\xfe\x00")
    with pytest.raises(ValueError, match=r"logs/bin2/a\.json: not UTF-8"):
        list(iter_kodo_points(tmp_path, "logs", "bin2/", "json", FIELDS))


def test_missing_bucket_unsupported_type_and_bad_bucket_name(tmp_path: Path):
    with pytest.raises(ValueError, match="bucket 'nope' does not exist"):
        list(iter_kodo_points(tmp_path, "nope", "", "json", FIELDS))
    put(tmp_path, "p.parquet", b"PAR1")
    with pytest.raises(ValueError, match="fileType 'parquet' is not supported by the emulator"):
        list(iter_kodo_points(tmp_path, "logs", "", "parquet", FIELDS))
    with pytest.raises(ValueError, match="not a bucket name"):
        list(iter_kodo_points(tmp_path, "../etc", "", "json", FIELDS))


def test_empty_prefix_match_yields_nothing(tmp_path: Path):
    put(tmp_path, "a.json", '{"user": "a"}')
    assert list(iter_kodo_points(tmp_path, "logs", "zzz", "json", FIELDS)) == []
