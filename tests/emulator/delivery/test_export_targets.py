"""Export delivery: kodo files (magic variables, formats, gzip, read back) and http POSTs to a real server."""

from __future__ import annotations

import csv
import gzip
import io
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_pandora.emulator.delivery.export_targets import (
    deliver_http,
    expand_key_prefix,
    export_content,
    http_bodies,
    http_body,
    select_fields,
    write_kodo,
)
from airflow_provider_pandora.emulator.delivery.kodo_source import iter_kodo_points
from airflow_provider_pandora.schema import parse_schema
from airflow_provider_pandora.wire import PointDecoder, PointError

NOW = datetime(2017, 1, 12, 15, 30, 0, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))
BEIJING_NOW = datetime(2017, 1, 12, 15, 30, 0, tzinfo=BEIJING)
FIELDS = parse_schema(
    [
        {"key": "f1", "valtype": "string"},
        {"key": "f2", "valtype": "long"},
        {"key": "ts", "valtype": "date"},
        {"key": "tags", "valtype": "array", "elemtype": "string"},
        {"key": "profile", "valtype": "map", "schema": [{"key": "position", "valtype": "string"}]},
    ]
)
POINTS: list[dict[str, Any]] = [
    {"f1": "a\tb", "f2": 1, "ts": NOW, "tags": ["x"], "profile": {"position": "eng"}},
    {"f1": "c", "f2": 2},
]


# ---- magic variables --------------------------------------------------------------------------
def test_spec_magic_variable_example_in_beijing_time():
    prefix = "kodo-parquet/date=$(year)-$(mon)-$(day)/hour=$(hour)/min=$(min)/$(sec)"
    assert expand_key_prefix(prefix, BEIJING_NOW) == "kodo-parquet/date=2017-01-12/hour=15/min=30/00"


def test_default_prefix_is_the_timestamp_and_plain_prefixes_get_it_appended():
    assert expand_key_prefix("", BEIJING_NOW) == "2017-01-12-15-30-00"
    assert expand_key_prefix("key1/", BEIJING_NOW) == "key1/2017-01-12-15-30-00"


def test_one_magic_variable_suppresses_the_timestamp_and_unknown_ones_stay():
    moment = datetime(2024, 3, 4, 5, 6, 7, tzinfo=BEIJING)
    assert expand_key_prefix("logs/$(year)/$(foo)/", moment) == "logs/2024/$(foo)/"
    assert expand_key_prefix("$(foo)", moment) == "$(foo)2024-03-04-05-06-07"


def test_magic_variables_are_in_beijing_time_whatever_the_zone_of_now():
    assert expand_key_prefix("$(day)T$(hour)", NOW) == "12T23"  # 15:30 UTC
    assert expand_key_prefix("$(day)T$(hour)", datetime(2017, 1, 12, 15, 30)) == "12T23"  # naive = UTC
    new_york = NOW.astimezone(timezone(timedelta(hours=-5)))
    assert expand_key_prefix("$(day)T$(hour)", new_york) == "12T23"


# ---- field mapping --------------------------------------------------------------------------
def test_select_fields_maps_hash_references():
    point = {"f1": "x", "f2": 2, "profile": {"position": "eng"}}
    assert select_fields({"a": "#f1", "b": "#f2", "gone": "#missing"}, point) == {"a": "x", "b": 2}
    assert select_fields({"pos": "#profile.position", "doc": {"user": "f1"}}, point) == {
        "pos": "eng",
        "doc": {"user": "x"},
    }
    assert select_fields(None, point) == point
    assert select_fields({}, point) == point


@pytest.mark.parametrize("ref", ["#", 3, None])
def test_select_fields_refuses_references_that_name_nothing(ref: Any):
    with pytest.raises(ValueError, match=r"fields\.a: .* must name a source field"):
        select_fields({"a": ref}, {"f1": "x"})


# ---- kodo files -----------------------------------------------------------------------------
def kodo_spec(**extra: Any) -> dict[str, Any]:
    spec = {"bucket": "bucket2", "keyPrefix": "key1/", "email": "x@qiniu.com", "accessKey": "AK"}
    spec.update(extra)
    return spec


def test_spec_kodo_example_writes_gzip_json_lines_that_read_back(tmp_path: Path):
    spec = kodo_spec(fields={"f1": "#f1", "f2": "#f2"}, format="json", compress=True)
    path = write_kodo(tmp_path, spec, POINTS, BEIJING_NOW)
    key = path.relative_to(tmp_path / "bucket2").as_posix()
    assert key.startswith("key1/2017-01-12-15-30-00_")
    assert key.endswith(".json.gz")
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert [json.loads(line) for line in lines] == [{"f1": "a\tb", "f2": 1}, {"f1": "c", "f2": 2}]
    back = list(iter_kodo_points(tmp_path, "bucket2", "key1/", "json", FIELDS))
    assert back == [{"f1": "a\tb", "f2": 1}, {"f1": "c", "f2": 2}]


def test_whole_points_round_trip_through_json_with_types(tmp_path: Path):
    write_kodo(tmp_path, kodo_spec(keyPrefix="all/$(year)/"), POINTS, NOW)
    assert list(iter_kodo_points(tmp_path, "bucket2", "all/2017/", "json", FIELDS)) == POINTS


def test_text_format_is_the_push_format(tmp_path: Path):
    path = write_kodo(tmp_path, kodo_spec(format="text"), POINTS, NOW)
    assert path.suffix == ".txt"
    assert PointDecoder(FIELDS).decode_body(path.read_bytes()) == POINTS


def test_csv_format_has_a_header_and_the_delimiter(tmp_path: Path):
    path = write_kodo(tmp_path, kodo_spec(format="csv", delimiter=";", fields={"a": "#f1", "t": "#ts"}), POINTS, NOW)
    rows = list(csv.reader(io.StringIO(path.read_text()), delimiter=";"))
    assert rows == [["a", "t"], ["a\tb", "2017-01-12T15:30:00Z"], ["c", ""]]


def test_each_write_is_a_new_file(tmp_path: Path):
    first = write_kodo(tmp_path, kodo_spec(), POINTS, NOW)
    second = write_kodo(tmp_path, kodo_spec(), POINTS, NOW)
    assert first != second
    assert len(list(iter_kodo_points(tmp_path, "bucket2", "", "json", FIELDS))) == 4


def test_prefix_ending_in_slash_after_expansion_names_the_file_inside_the_folder(tmp_path: Path):
    path = write_kodo(tmp_path, kodo_spec(keyPrefix="d=$(year)$(mon)$(day)/"), POINTS, NOW)
    assert path.parent == tmp_path / "bucket2" / "d=20170112"  # 23:30 in Beijing
    assert not path.name.startswith("_")
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left behind


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (kodo_spec(bucket="../x"), r"spec\.bucket '\.\./x' must be a bucket name"),
        (kodo_spec(bucket=None), r"spec\.bucket None"),
        (kodo_spec(keyPrefix="../../etc/"), "would leave the bucket"),
        (kodo_spec(keyPrefix="/abs/"), "would leave the bucket"),
        (kodo_spec(format="parquet"), "'parquet' is not supported by the emulator"),
        (kodo_spec(format="xml"), "format 'xml' is not one of json, text, csv"),
        (kodo_spec(format="csv", delimiter="||"), "must be one character"),
    ],
)
def test_bad_kodo_specs_are_refused_without_writing(tmp_path: Path, spec: dict[str, Any], message: str):
    with pytest.raises(ValueError, match=message):
        write_kodo(tmp_path / "root", spec, POINTS, NOW)
    assert not (tmp_path / "etc").exists()
    assert not list(tmp_path.rglob("*.json"))


def test_export_content_json_formats_dates():
    assert export_content([{"ts": NOW, "n": 1.5}]) == b'{"ts":"2017-01-12T15:30:00Z","n":1.5}\n'


# ---- http bodies ------------------------------------------------------------------------------
def test_http_body_is_the_push_format_for_the_schema():
    body = http_body(POINTS, FIELDS)
    assert body.endswith(b"\n")
    assert PointDecoder(FIELDS).decode_body(body) == POINTS
    assert http_body(POINTS[1:], FIELDS, fmt="json") == b'{"f1":"c","f2":2}\n'


def test_http_body_refuses_points_that_do_not_fit_the_schema():
    with pytest.raises(PointError, match="nope"):
        http_body([{"nope": 1}], FIELDS)


def test_http_bodies_split_by_count_and_size():
    points = [{"f1": "x" * 10, "f2": i} for i in range(25)]
    batches = list(http_bodies(points, FIELDS, max_points=10))
    assert [count for count, _ in batches] == [10, 10, 5]
    decoded = [p for _, body in batches for p in PointDecoder(FIELDS).decode_body(body)]
    assert decoded == points
    small = list(http_bodies(points, FIELDS, max_bytes=60))
    assert all(len(body) < 60 for _, body in small)
    assert sum(count for count, _ in small) == 25


# ---- http delivery against a real local server ----------------------------------------------
class Receiver:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            state.requests.append(
                {"path": self.path, "type": self.headers["Content-Type"], "body": self.rfile.read(length)}
            )
            self.send_response(state.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state, f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_deliver_http_posts_the_body_to_host_plus_uri(receiver: tuple[Receiver, str]):
    state, host = receiver
    body = http_body(POINTS, FIELDS)
    assert deliver_http({"host": host, "uri": "/test/repos"}, body) == 200
    assert state.requests == [{"path": "/test/repos", "type": "text/plain", "body": body}]


def test_deliver_http_accepts_a_scheme_and_json_format(receiver: tuple[Receiver, str]):
    state, host = receiver
    assert deliver_http({"host": f"http://{host}/base/", "uri": "in", "format": "json"}, b"{}\n") == 200
    assert state.requests[0]["path"] == "/base/in"
    assert state.requests[0]["type"] == "application/json"


def test_deliver_http_returns_non_200_statuses(receiver: tuple[Receiver, str]):
    state, host = receiver
    state.status = 503
    assert deliver_http({"host": host, "uri": "/x"}, b"a=1\n") == 503
    state.status = 404
    assert deliver_http({"host": host, "uri": "/x"}, b"a=1\n") == 404


def test_deliver_http_connection_refused_raises_oserror():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectionRefusedError):
        deliver_http({"host": f"127.0.0.1:{port}", "uri": "/x"}, b"a=1\n", timeout=2)


def test_deliver_http_timeout_raises_oserror():
    with socket.socket() as listener:  # accepts the connection but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with pytest.raises(TimeoutError):
            deliver_http({"host": f"127.0.0.1:{listener.getsockname()[1]}", "uri": "/x"}, b"a=1\n", timeout=0.3)


def test_deliver_http_garbage_response_raises_connection_error():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"NOT HTTP\r\n\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        with pytest.raises(ConnectionError, match=r"http export to http://127\.0\.0\.1"):
            deliver_http({"host": f"127.0.0.1:{listener.getsockname()[1]}", "uri": "/x"}, b"a=1\n", timeout=2)
        thread.join(2)


@pytest.mark.parametrize(
    ("spec", "message"),
    [({"uri": "/x"}, r"spec\.host is required"), ({"host": "ftp://h", "uri": "/x"}, r"must be http\(s\)")],
)
def test_deliver_http_refuses_bad_hosts(spec: dict[str, str], message: str):
    with pytest.raises(ValueError, match=message):
        deliver_http(spec, b"")


# ---- property: kodo files read back as the points written -------------------------------------
_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=15)
_POINT = st.fixed_dictionaries(
    {},
    optional={
        "f1": _TEXT,
        "f2": st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "ts": st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
        "tags": st.lists(_TEXT, max_size=3),
        "profile": st.fixed_dictionaries({}, optional={"position": _TEXT}),
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(points=st.lists(_POINT, min_size=1, max_size=5), fmt=st.sampled_from(["json", "text"]), gz=st.booleans())
def test_any_points_written_to_kodo_read_back(tmp_path: Path, points: list[dict[str, Any]], fmt: str, gz: bool):
    prefix = f"p{uuid.uuid4().hex}/"
    path = write_kodo(tmp_path, kodo_spec(keyPrefix=prefix, format=fmt, compress=gz), points, NOW)
    if fmt == "json":
        assert list(iter_kodo_points(tmp_path, "bucket2", prefix, "json", FIELDS)) == points
    else:
        data = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
        assert PointDecoder(FIELDS).decode_body(data) == [p for p in points if p]
