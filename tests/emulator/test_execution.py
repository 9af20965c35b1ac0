"""The emulator runs what it is given: transforms, offline jobs (once/loop/crontab), exports, group status."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from tests.emulator.conftest import Api

LONGS = [{"key": "user", "valtype": "string"}, {"key": "hits", "valtype": "long"}]


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def history(api: Api, repo: str, job: str, **query: Any) -> list[dict[str, Any]]:
    return api.ok(api.get(f"/v2/repos/{repo}/jobs/{job}/history", params=query or None))  # type: ignore[no-any-return]


def finished(api: Api, repo: str, job: str) -> dict[str, Any] | None:
    runs = history(api, repo, job)
    return runs[0] if runs and runs[0]["status"] != "Running" else None


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 0, 0, 30, tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now


# ---- transforms ------------------------------------------------------------------------------------
def test_transform_runs_over_new_points_into_an_auto_created_repo(api: Api, pandora_emulator: PandoraEmulator):
    api.repo("src", LONGS)
    api.ok(api.push("src", "user=early\thits=9\n"))  # before the transform: whence newest skips it
    api.transform("src", "t", "dest", "select user, hits * 2 as double_hits from src where hits > 1", interval="5s")
    dest = api.ok(api.get("/v2/repos/dest"))
    assert dest["derivedFrom"] == "t"
    assert [(f["key"], f["valtype"]) for f in dest["schema"]] == [("user", "string"), ("double_hits", "long")]
    api.ok(api.push("src", "user=a\thits=1\nuser=b\thits=5\n"))
    assert pandora_emulator.run_transforms() == 1
    assert pandora_emulator.points("dest") == [{"user": "b", "double_hits": 10}]
    api.ok(api.push("src", "user=c\thits=3\n"))
    pandora_emulator.run_transforms()
    assert pandora_emulator.points("dest")[-1] == {"user": "c", "double_hits": 6}  # only the new points
    over_http = requests.post(pandora_emulator.url + "/_emulator/transforms/run", timeout=10).json()
    assert over_http == {"ran": 0}  # nothing new
    got = api.ok(api.get("/v2/repos/src/transforms/t"))
    assert (got["name"], got["to"], got["spec"]["interval"], got["interval"]) == ("t", "dest", "5s", "5s")


def test_transform_whence_oldest_and_its_interval(tmp_path: Path):
    clock = FakeClock()
    with PandoraEmulator(clock=clock, tick=0.02) as emulator:
        api = Api(emulator)
        api.repo("src", LONGS)
        api.ok(api.push("src", "user=old\thits=2\n"))
        api.transform("src", "t", "dest", "select user from src", interval="10s", whence="oldest")
        time.sleep(0.2)
        assert emulator.points("dest") == []  # not due yet
        clock.now += 10
        wait_for(lambda: emulator.points("dest") == [{"user": "old"}])


def test_transform_update_and_delete(api: Api, pandora_emulator: PandoraEmulator):
    api.repo("src", LONGS)
    api.transform("src", "t", "dest", "select user from src")
    api.ok(api.put("/v2/repos/src/transforms/t", {"code": "select user, hits from src", "interval": "10m"}))
    api.ok(api.push("src", "user=a\thits=4\n"))
    pandora_emulator.run_transforms()
    assert pandora_emulator.points("dest") == [{"user": "a", "hits": 4}]  # the new column was added
    assert [t["name"] for t in api.ok(api.get("/v2/repos/src/transforms"))["transforms"]] == ["t"]
    api.ok(api.delete("/v2/repos/src/transforms/t"))
    api.ok(api.push("dest", "user=now-allowed\n"))  # no transform writes into it any more
    api.ok(api.delete("/v2/repos/dest"))
    api.ok(api.delete("/v2/repos/src"))


def test_failing_transform_records_its_error_and_moves_on(api: Api, pandora_emulator: PandoraEmulator):
    api.repo("src", LONGS)
    api.repo("dest", [{"key": "user", "valtype": "string"}, {"key": "hits", "valtype": "date"}])
    api.transform("src", "t", "dest", "select user, hits from src")  # into an existing repo of another type
    api.ok(api.push("src", "user=a\thits=4\n"))
    pandora_emulator.run_transforms()
    assert "hits" in api.ok(api.get("/v2/repos/src/transforms/t"))["lastError"]
    assert pandora_emulator.points("dest") == []


def test_plugin_transform_is_stored_not_run(api: Api, pandora_emulator: PandoraEmulator):
    api.ok(api.post("/v2/plugins/com.example.Parser", data=b"PK jar"))
    api.repo("src", LONGS)
    spec = {"plugin": {"name": "com.example.Parser", "output": [{"name": "word"}, {"name": "n", "type": "long"}]}}
    api.ok(api.post("/v2/repos/src/transforms/p/to/words", spec))
    schema = api.ok(api.get("/v2/repos/words"))["schema"]
    assert [(f["key"], f["valtype"]) for f in schema] == [("word", "string"), ("n", "long")]
    response = api.get("/v2/repos/src/transforms/p")
    assert response.headers["Transform-Type"] == "application/plugin"
    api.ok(api.push("src", "user=a\n"))
    pandora_emulator.run_transforms()
    assert pandora_emulator.points("words") == []
    assert api.ok(api.post("/v2/verify/plugins/com.example.Parser")) == {"outputFields": []}
    assert api.ok(api.get("/v2/plugins/com.example.Parser"))["size"] == 6


# ---- groups ------------------------------------------------------------------------------------------
def status(api: Api, group: str) -> str:
    return api.ok(api.get(f"/v2/groups/{group}"))["container"]["status"]  # type: ignore[no-any-return]


def test_group_status_follows_start_stop_transforms_and_jobs(api: Api):
    api.group("eager", allocateOnStart=True)
    assert status(api, "eager") == "running"
    api.group("g")
    assert status(api, "g") == "idle"
    api.ok(api.post("/v2/groups/g/actions/start"))
    assert status(api, "g") == "running"
    api.ok(api.post("/v2/groups/g/actions/stop"))
    assert status(api, "g") == "idle"
    api.repo("r", LONGS, group="g")
    api.transform("r", "t", "d", "select user from r")
    assert status(api, "g") == "running"  # while a transform in it runs
    api.ok(api.delete("/v2/repos/r/transforms/t"))
    assert status(api, "g") == "idle"
    api.job("r", "j", "jd", "-- emulator: sleep=30\nselect user from r")
    api.ok(api.post("/v2/repos/r/jobs/j/actions/start", {}))
    assert status(api, "g") == "running"  # while a job in it runs
    api.ok(api.post("/v2/repos/r/jobs/j/actions/stop"))
    assert status(api, "g") == "idle"
    listed = api.ok(api.get("/v2/groups"))["groups"]
    assert [g["name"] for g in listed] == ["eager", "g"]
    api.ok(api.put("/v2/groups/g", {"container": {"type": "M32C8", "count": 3}}))
    assert api.ok(api.get("/v2/groups/g"))["container"]["count"] == 3


# ---- jobs ----------------------------------------------------------------------------------------------
def test_job_once_runs_when_started_with_params(api: Api, pandora_emulator: PandoraEmulator):
    api.repo("src", LONGS)
    api.ok(api.push("src", "user=a\thits=1\nuser=b\thits=5\nuser=c\thits=7\n"))
    api.job(
        "src",
        "j",
        "out",
        "select user, hits from src where hits >= ${min_hits}",
        params=[{"name": "min_hits", "value": "2"}],
    )
    assert history(api, "src", "j") == []  # once: not until started
    api.ok(api.post("/v2/repos/src/jobs/j/actions/start", {"params": [{"name": "min_hits", "value": "6"}]}))
    run = wait_for(lambda: finished(api, "src", "j"))
    assert run["status"] == "Success"
    assert run["startTime"] <= run["endTime"]
    assert pandora_emulator.points("out") == [{"user": "c", "hits": 7}]
    api.ok(api.post("/v2/repos/src/jobs/j/actions/start"))  # defaults this time
    wait_for(lambda: len(history(api, "src", "j")) == 2 and finished(api, "src", "j"))
    assert len(pandora_emulator.points("out")) == 3
    assert api.ok(api.get("/v2/repos/out"))["derivedFrom"] == "j"
    job = api.ok(api.get("/v2/repos/src/jobs/j"))
    assert (job["to"], job["status"], job["scheduler"]) == ("out", "Success", {"type": "once"})


def test_history_is_newest_first_and_paged(api: Api):
    api.repo("src", LONGS)
    api.job("src", "j", "out", "select user from src")
    for _ in range(3):
        api.ok(api.post("/v2/repos/src/jobs/j/actions/start", {}))
        wait_for(lambda: finished(api, "src", "j"))
    runs = history(api, "src", "j")
    assert [r["runId"] for r in runs] == sorted((r["runId"] for r in runs), reverse=True)
    assert [r["runId"] for r in history(api, "src", "j", page=2, size=2)] == [runs[2]["runId"]]
    assert history(api, "src", "j", page=3, size=2) == []
    assert set(runs[0]) >= {"startTime", "endTime", "status", "message"}


def test_failing_and_stopped_runs(api: Api):
    api.repo("src", LONGS)
    api.job("src", "boom", "o1", '-- emulator: fail="stage 2 lost"\nselect user from src')
    api.ok(api.post("/v2/repos/src/jobs/boom/actions/start"))
    failed = wait_for(lambda: finished(api, "src", "boom"))
    assert (failed["status"], failed["message"]) == ("Fail", "stage 2 lost")

    api.job("src", "badparam", "o2", "select user from src where hits > ${nope}")
    api.ok(api.post("/v2/repos/src/jobs/badparam/actions/start"))
    failed = wait_for(lambda: finished(api, "src", "badparam"))
    assert failed["status"] == "Fail"
    assert "nope" in failed["message"]

    api.job("src", "slow", "o3", "-- emulator: sleep=30\nselect user from src")
    api.ok(api.post("/v2/repos/src/jobs/slow/actions/start"))
    assert history(api, "src", "slow")[0]["status"] == "Running"
    assert history(api, "src", "slow")[0]["endTime"] == ""
    api.ok(api.post("/v2/repos/src/jobs/slow/actions/stop"))
    assert history(api, "src", "slow")[0]["status"] == "Cancel"
    api.ok(api.post("/v2/repos/src/jobs/slow/actions/stop"))  # stopping a stopped job is a no-op
    api.ok(api.delete("/v2/repos/src/jobs/slow"))
    assert api.get("/v2/repos/src/jobs/slow").status_code == 404


def test_loop_and_crontab_schedules_fire_by_themselves(tmp_path: Path):
    clock = FakeClock()
    with PandoraEmulator(clock=clock, tick=0.02) as emulator:
        api = Api(emulator)
        api.repo("src", LONGS)
        api.ok(api.push("src", "user=a\thits=1\n"))
        api.job("src", "every", "o1", "select user from src", scheduler={"type": "loop", "loop": "10m"})
        api.job("src", "cron", "o2", "select user from src", scheduler={"type": "crontab", "crontab": "*/5 * * * *"})
        wait_for(lambda: finished(api, "src", "every"))  # loop: at once
        assert history(api, "src", "cron") == []  # crontab: not before 00:05
        clock.now += 5 * 60
        wait_for(lambda: finished(api, "src", "cron"))
        assert len(history(api, "src", "every")) == 1
        clock.now += 5 * 60 + 1
        # Two runs each, and the newest one ended (a run shows in the history while it still runs).
        wait_for(lambda: len(history(api, "src", "every")) == 2 and finished(api, "src", "every"))
        wait_for(lambda: len(history(api, "src", "cron")) == 2 and finished(api, "src", "cron"))
        assert [p["user"] for p in emulator.points("o1")] == ["a", "a"]


def test_job_over_a_kodo_repo_reads_json_and_gzip_files(api: Api, pandora_emulator: PandoraEmulator):
    bucket = pandora_emulator.kodo_root / "logs"
    (bucket / "2024").mkdir(parents=True)
    (bucket / "2024" / "a.json").write_text(json.dumps({"user": "u1", "hits": 3, "extra": True}) + "\n")
    (bucket / "2024" / "b.json.gz").write_bytes(gzip.compress(json.dumps({"user": "u2", "hits": 8}).encode() + b"\n"))
    (bucket / "other.json").write_text(json.dumps({"user": "skipped", "hits": 1}) + "\n")
    api.repo("files", LONGS, type="kodo", bucket="logs", keyPrefix="2024/", fileType="json")
    got = api.ok(api.get("/v2/repos/files"))
    assert (got["type"], got["bucket"], got["keyPrefix"], got["fileType"]) == ("kodo", "logs", "2024/", "json")
    assert error_push(api, "files") == "E18109"
    api.job("files", "sum", "totals", "select sum(hits) as total, count(*) as n from files")
    api.ok(api.post("/v2/repos/files/jobs/sum/actions/start", {}))
    assert wait_for(lambda: finished(api, "files", "sum"))["status"] == "Success"
    assert pandora_emulator.points("totals") == [{"total": 11, "n": 2}]


def test_job_over_text_files_and_a_missing_bucket(api: Api, pandora_emulator: PandoraEmulator):
    (pandora_emulator.kodo_root / "raw").mkdir()
    (pandora_emulator.kodo_root / "raw" / "x.txt").write_text("GET /a\nGET /b\n")
    api.repo("lines", [{"key": "text", "valtype": "string"}], type="kodo", bucket="raw", keyPrefix="", fileType="text")
    api.job("lines", "count", "counted", "select count(*) as n from lines")
    api.ok(api.post("/v2/repos/lines/jobs/count/actions/start", {}))
    assert wait_for(lambda: finished(api, "lines", "count"))["status"] == "Success"
    assert pandora_emulator.points("counted") == [{"n": 2}]
    api.repo(
        "ghost", [{"key": "text", "valtype": "string"}], type="kodo", bucket="nobucket", keyPrefix="", fileType="text"
    )
    api.job("ghost", "count", "ghost_out", "select count(*) as n from ghost")
    api.ok(api.post("/v2/repos/ghost/jobs/count/actions/start", {}))
    run = wait_for(lambda: finished(api, "ghost", "count"))
    assert run["status"] == "Fail"
    assert "nobucket" in run["message"]


def error_push(api: Api, repo: str) -> str:
    return api.push(repo, "user=x\n").json()["error"].split(":")[0]  # type: ignore[no-any-return]


def test_datasource_schema_spec_and_sdk_forms(api: Api, pandora_emulator: PandoraEmulator):
    bucket = pandora_emulator.kodo_root / "ds"
    bucket.mkdir()
    line = {
        "user": "u",
        "hits": 3,
        "ratio": 0.5,
        "ok": True,
        "at": "2024-05-01T00:00:00Z",
        "tags": ["a"],
        "m": {"k": 1},
    }
    (bucket / "f.json").write_text(json.dumps(line) + "\n" + json.dumps({"hits": 2.5}) + "\n")
    spec_form = api.ok(
        api.get("/v2/schemas", body={"region": "nb", "bucket": "ds", "keyPrefix": "", "fileType": "json"})
    )
    types = {f["key"]: f["valtype"] for f in spec_form["schema"]}
    assert types == {
        "user": "string",
        "hits": "float",
        "ratio": "float",
        "ok": "boolean",
        "at": "date",
        "tags": "array",
        "m": "map",
    }
    sdk_form = api.ok(
        api.post("/v2/schemas", {"type": "kodo", "spec": {"bucket": "ds", "keyPrefixes": [""], "fileType": "text"}})
    )
    assert sdk_form == {"schema": [{"key": "text", "valtype": "string"}]}
    missing = api.get("/v2/schemas", body={"bucket": "nope", "fileType": "json"})
    assert missing.status_code == 400


# ---- exports -----------------------------------------------------------------------------------------
class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fail_first = 0
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status = 200
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            status = 500
        else:
            self.bodies.append(body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[type[_Receiver]]:
    _Receiver.bodies = []
    _Receiver.fail_first = 2
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Receiver.address = f"127.0.0.1:{server.server_port}"  # type: ignore[attr-defined]
    yield _Receiver
    server.shutdown()
    server.server_close()
    thread.join()


def test_http_export_retries_until_200_and_delivers_every_point_once(
    api: Api, pandora_emulator: PandoraEmulator, receiver: type[_Receiver]
):
    pandora_emulator.allow_export(receiver.address)  # type: ignore[attr-defined]
    api.repo("src", LONGS)
    api.ok(api.push("src", "user=a\thits=1\n"))
    api.export("src", "h", "http", {"host": receiver.address, "uri": "/in"}, whence="oldest")  # type: ignore[attr-defined]
    api.ok(api.push("src", "user=b\thits=2\n"))
    wait_for(
        lambda: requests.get(f"{pandora_emulator.url}/_emulator/exports/src/h", timeout=5).json()["delivered"] == 2
    )
    assert b"".join(receiver.bodies) == b"user=a\thits=1\nuser=b\thits=2\n"
    state = requests.get(f"{pandora_emulator.url}/_emulator/exports/src/h", timeout=5).json()
    assert (state["state"], state["lastError"], state["type"]) == ("running", "", "http")


def test_http_export_to_nowhere_records_the_error(api: Api, pandora_emulator: PandoraEmulator):
    pandora_emulator.allow_export("127.0.0.1:9")  # allowed, but nothing listens there
    api.repo("src", LONGS)
    api.export("src", "h", "http", {"host": "127.0.0.1:9", "uri": "/in"})
    api.ok(api.push("src", "user=a\n"))
    state = wait_for(lambda: (s := pandora_emulator.export_status("src", "h")).get("lastError") and s)
    assert state["status"] == "retrying"
    assert state["delivered"] == 0


def test_kodo_export_writes_gzip_json_under_the_expanded_prefix(api: Api, pandora_emulator: PandoraEmulator):
    api.repo("src", LONGS)
    spec = {
        "bucket": "out",
        "keyPrefix": "exp/date=$(year)/",
        "email": "a@b.c",
        "accessKey": "AK",
        "fields": {"who": "#user", "n": "#hits"},
        "compress": True,
    }
    api.export("src", "k", "kodo", spec)
    api.ok(api.push("src", "user=a\thits=1\nuser=b\thits=2\n"))
    wait_for(lambda: pandora_emulator.export_status("src", "k").get("delivered") == 2)
    files = list((pandora_emulator.kodo_root / "out").rglob("*.json.gz"))
    assert len(files) == 1
    assert files[0].parent.name.startswith("date=")
    lines = gzip.decompress(files[0].read_bytes()).decode().splitlines()
    assert [json.loads(x) for x in lines] == [{"who": "a", "n": 1}, {"who": "b", "n": 2}]


@pytest.mark.parametrize(
    ("etype", "spec"),
    [
        ("tsdb", {"destRepoName": "t", "series": "s", "tags": {"u": "#user"}, "fields": {"h": "#hits"}}),
        ("logDB", {"destRepoName": "l", "doc": {"user": "#user", "nested": {"h": "#hits"}}}),
        ("mongodb", {"host": "127.0.0.1:27017", "dbName": "d", "collName": "c", "mode": "UPSERT"}),
    ],
)
def test_recorded_exports_count_what_they_deliver(
    api: Api, pandora_emulator: PandoraEmulator, etype: str, spec: dict[str, Any]
):
    api.repo("src", LONGS)
    api.ok(api.push("src", "user=before\n"))
    api.export("src", "e", etype, spec, whence="newest")
    api.ok(api.push("src", "user=a\nuser=b\nuser=c\n"))
    wait_for(lambda: pandora_emulator.export_status("src", "e").get("delivered") == 3)
    got = api.ok(api.get("/v2/repos/src/exports/e"))
    assert got["type"] == {"logDB": "logdb", "mongodb": "mongo"}.get(etype, etype)
    assert got["whence"] == "newest"
    changed = api.put("/v2/repos/src/exports/e", {"spec": spec, "whence": "oldest"})
    assert changed.status_code == 400
    api.ok(api.put("/v2/repos/src/exports/e", {"spec": spec}))
    api.ok(api.delete("/v2/repos/src/exports/e"))
    assert api.ok(api.get("/v2/repos/src/exports")) == {"exports": []}


def test_wait_idle_and_deliver_exports_in_process(receiver: type[_Receiver]):
    # no background passes: everything below is explicit
    with PandoraEmulator(tick=3600, export_allow=[receiver.address]) as emulator:  # type: ignore[attr-defined]
        api = Api(emulator)
        api.repo("src", LONGS)
        api.export("src", "h", "http", {"host": receiver.address, "uri": "/in"})  # type: ignore[attr-defined]
        api.ok(api.push("src", "user=a\n"))
        assert not emulator.wait_idle(timeout=0.2)
        receiver.fail_first = 0
        emulator.deliver_exports()
        assert emulator.wait_idle(timeout=1)
        assert receiver.bodies == [b"user=a\n"]
