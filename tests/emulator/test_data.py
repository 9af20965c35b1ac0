"""Data push over HTTP: every rendering the SDKs send decodes to typed points, durably and without loss."""

from __future__ import annotations

import gzip
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.hooks.pandora import PandoraHook
from tests.common import SCHEMA
from tests.emulator.conftest import Api

GO_BODY = (
    'user=a\\tb\\nc\\d\thits=42\tratio=1e+06\tok=true\tat=2017-06-01T08:00:00.5Z\ttags=["x","y"]\t'
    'meta={"zone":"nb"}\nuser=second\thits=7'
)


def test_go_sdk_body_decodes_to_typed_points(api: Api, pandora_emulator: PandoraEmulator):
    api.repo("r")
    api.ok(api.push("r", GO_BODY))  # no trailing newline, as the Go SDK's PostData sends it
    first, second = pandora_emulator.points("r")
    assert first == {
        "user": "a\tb\nc\\d",
        "hits": 42,
        "ratio": 1e6,
        "ok": True,
        "at": datetime(2017, 6, 1, 8, 0, 0, 500000, tzinfo=UTC),
        "tags": ["x", "y"],
        "meta": {"zone": "nb"},
    }
    assert second == {"user": "second", "hits": 7}


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1", 1.0), ("3.14", 3.14), ("1e+06", 1e6), ("1.234567e+06", 1234567.0), ("1.0E10", 1e10), ("-0.5", -0.5)],
)
def test_float_in_every_sdk_form(api: Api, pandora_emulator: PandoraEmulator, raw: str, value: float):
    api.repo("f", [{"key": "x", "valtype": "float"}])
    api.ok(api.push("f", f"x={raw}\n"))
    assert pandora_emulator.points("f") == [{"x": value}]


def test_java_dates_and_spec_escapes(api: Api, pandora_emulator: PandoraEmulator):
    api.repo("d", [{"key": "at", "valtype": "date"}, {"key": "s", "valtype": "string"}])
    api.ok(api.push("d", "at=2017-04-11T15:06:44.224+08:00\ts=cr\\rtab\\tback\\\\slash\\qkept\n"))
    (point,) = pandora_emulator.points("d")
    assert point["at"] == datetime(2017, 4, 11, 15, 6, 44, 224000, tzinfo=timezone(timedelta(hours=8)))
    assert point["s"] == "cr\rtab\tback\\slash\\qkept"


def test_values_may_contain_equals_signs(api: Api, pandora_emulator: PandoraEmulator):
    api.repo("e", [{"key": "c", "valtype": "string"}])
    api.ok(api.push("e", "c=4=4\n"))
    assert pandora_emulator.points("e") == [{"c": "4=4"}]


@pytest.mark.parametrize("content_type", ["text/plain", "application/text", "text/plain; charset=utf-8"])
def test_both_content_types_and_gzip(api: Api, pandora_emulator: PandoraEmulator, content_type: str):
    api.repo("g", [{"key": "s", "valtype": "string"}])
    api.ok(api.push("g", b"s=plain\n", **{"Content-Type": content_type}))
    api.ok(api.push("g", gzip.compress(b"s=zipped\n"), **{"Content-Type": content_type, "Content-Encoding": "gzip"}))
    assert pandora_emulator.points("g") == [{"s": "plain"}, {"s": "zipped"}]


def test_tags_query_is_accepted(api: Api, pandora_emulator: PandoraEmulator):
    api.repo("t", [{"key": "s", "valtype": "string"}])
    api.ok(api.call("POST", "/v2/repos/t/data?tags=", data=b"s=x\n", headers={"Content-Type": "text/plain"}))
    assert pandora_emulator.points("t") == [{"s": "x"}]


def test_admin_points_endpoint_pages_and_encodes_dates(api: Api, pandora_emulator: PandoraEmulator):
    api.repo("p", [{"key": "n", "valtype": "long"}, {"key": "at", "valtype": "date"}])
    api.ok(api.push("p", "".join(f"n={i}\tat=2024-05-01T00:00:0{i}Z\n" for i in range(5))))
    page = requests.get(pandora_emulator.url + "/_emulator/repos/p/points?offset=1&limit=2", timeout=10).json()
    assert page == {
        "total": 5,
        "points": [{"n": 1, "at": "2024-05-01T00:00:01Z"}, {"n": 2, "at": "2024-05-01T00:00:02Z"}],
    }
    missing = requests.get(pandora_emulator.url + "/_emulator/repos/nope/points", timeout=10)
    assert missing.status_code == 404


def test_sample_endpoint_returns_the_latest_points(api: Api):
    api.repo("s", [{"key": "n", "valtype": "long"}])
    api.ok(api.push("s", "".join(f"n={i}\n" for i in range(20))))
    records = api.ok(api.get("/v2/repos/s/data?count=3"))["records"]
    assert records == [{"n": 17}, {"n": 18}, {"n": 19}]


def test_points_survive_a_restart(tmp_path: Path):
    data_dir = tmp_path / "state"
    with PandoraEmulator(data_dir=data_dir) as first:
        api = Api(first)
        api.group("g")
        api.repo("r", group="g")
        api.ok(api.push("r", "user=a\thits=1\nuser=b\thits=2\n"))
        api.export(
            "r", "e", "tsdb", {"destRepoName": "t", "series": "s", "tags": {"u": "#user"}, "fields": {"h": "#hits"}}
        )
    assert data_dir.exists()  # a given data dir is kept
    with PandoraEmulator(data_dir=data_dir) as second:
        api = Api(second)
        assert second.points("r") == [{"user": "a", "hits": 1}, {"user": "b", "hits": 2}]
        assert api.ok(api.get("/v2/groups/g"))["name"] == "g"
        assert api.ok(api.get("/v2/repos/r"))["group"] == "g"
        assert [e["name"] for e in api.ok(api.get("/v2/repos/r/exports"))["exports"]] == ["e"]


def test_concurrent_pushers_lose_nothing(api: Api, pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch):
    api.repo("c", [{"key": "w", "valtype": "long"}, {"key": "i", "valtype": "long"}])
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_CONC", pandora_emulator.connection_json())
    errors: list[BaseException] = []

    def pusher(worker: int) -> None:
        hook = PandoraHook("pandora_conc")
        try:
            for batch in range(10):
                hook.push_data("c", [{"w": worker, "i": batch * 100 + i} for i in range(100)], schema=api_schema)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)
        finally:
            hook.close()

    api_schema = [{"key": "w", "valtype": "long"}, {"key": "i", "valtype": "long"}]
    threads = [threading.Thread(target=pusher, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    points = pandora_emulator.points("c")
    assert len(points) == 8 * 1000
    assert {(p["w"], p["i"]) for p in points} == {(w, i) for w in range(8) for i in range(1000)}
    assert pandora_emulator.stats()["points"] == 8000


def test_schema_update_adds_fields_and_old_points_still_read(api: Api, pandora_emulator: PandoraEmulator):
    api.repo("u", [{"key": "a", "valtype": "string"}])
    api.ok(api.push("u", "a=old\n"))
    api.ok(api.put("/v2/repos/u", {"schema": [{"key": "a", "valtype": "string"}, {"key": "b", "valtype": "long"}]}))
    api.ok(api.push("u", "a=new\tb=2\n"))
    assert pandora_emulator.points("u") == [{"a": "old"}, {"a": "new", "b": 2}]
    removed = api.put("/v2/repos/u", {"schema": [{"key": "b", "valtype": "long"}]})
    assert removed.status_code == 400


def test_deleting_a_repo_drops_its_points(api: Api, pandora_emulator: PandoraEmulator):
    api.repo("x", SCHEMA)
    api.ok(api.push("x", "user=a\n"))
    api.ok(api.delete("/v2/repos/x"))
    api.repo("x", SCHEMA)
    assert pandora_emulator.points("x") == []
