"""离线计算 (offline jobs), 获取数据源schema and 查看历史任务: calls no SDK makes at the seed's paths.

The SDKs moved these to ``/v2/jobs/<job>`` and ``POST /v2/schemas`` with other bodies (pipeline/service.go:165,
:191; docs/sdk-facts.md §6.1-§6.4), so the request here is the seed's own syntax (cited by line), framed and
signed the way the Go SDK frames every call (base/request/request.go:227, base/sign.go:75). The SDK's
``RetrieveSchema`` is replayed too, since the emulator serves it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from tests.conformance.sdk import JSON, GoSdk, check_error, check_ok, container, entry, marshal
from tests.conformance.seed import replays

SCHEMA = [entry("user", "string", True), entry("hits", "long")]
#: 查看历史任务: the seed's statuses.
SEED_STATUSES = {"Success", "Fail", "Running", "Cancel"}


def _job(code: str, **extra: Any) -> dict[str, Any]:
    """The seed's body: code, container, scheduler, params."""
    return {"code": code, "container": container(), "scheduler": {"type": "once"}, **extra}


def _history(go: GoSdk, path: str) -> list[dict[str, Any]]:
    # the seed's syntax sends Content-Type on this GET (and the query, which is not signed)
    runs: list[dict[str, Any]] = check_ok(go.call("GET", f"{path}/history?page=1&size=20", content_type=JSON))
    return runs


def _finished(go: GoSdk, path: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = _history(go, path)
        if runs and runs[0]["status"] != "Running":
            return runs[0]
        time.sleep(0.05)
    raise AssertionError(f"no finished run of {path}: {_history(go, path)}")


@replays(
    "提交离线计算任务",
    "POST /v2/repos/<RepoName>jobs/<JobName>/to/<DestinationRepoName>",
    "seed:docs/seed-api.md:773",
    "go:base/request/request.go:227",
    "go:base/sign.go:75",
    "go:pipeline/service.go:165",
)
def test_submit_job(go: GoSdk) -> None:
    go.create_repo("src", SCHEMA)
    body = _job(
        "select user, hits from src where hits > ${min}",
        scheduler={"type": "crontab", "crontab": "0 0 0/1 * * ?"},
        params=[{"name": "min", "value": "1"}],
    )
    check_ok(go.json("POST", "/v2/repos/src/jobs/j1/to/out", body))
    assert check_ok(go.call("GET", "/v2/repos/out"))["derivedFrom"] == "j1"
    loop = _job("select user from src", scheduler={"type": "loop", "loop": "1h"})
    check_ok(go.json("POST", "/v2/repos/src/jobs/j2/to/out2", loop))
    check_error(go.json("POST", "/v2/repos/src/jobs/j1/to/out", body), "E18605")  # the job exists (later docs)
    check_error(go.json("POST", "/v2/repos/nope/jobs/j3/to/out3", _job("select 1")), "E18102")
    check_error(go.json("POST", "/v2/repos/src/jobs/j4/to/out4", _job("selec user")), "E18209")


@replays(
    "启动离线计算",
    "POST /v2/repos/<RepoNmae>/jobs/<JobName>/actions/start",
    "seed:docs/seed-api.md:819",
    "go:base/request/request.go:227",
)
def test_start_job(go: GoSdk, pandora_emulator: PandoraEmulator) -> None:
    go.create_repo("src", SCHEMA)
    check_ok(go.push("src", [[("user", "a"), ("hits", 1)], [("user", "b"), ("hits", 5)]]))
    check_ok(go.json("POST", "/v2/repos/src/jobs/j1/to/out", _job("select user, hits from src where hits > ${min}")))
    # the seed's start has a JSON body but no Content-Type line: signed with an empty one
    params = {"params": [{"name": "min", "value": "2"}]}
    check_ok(go.call("POST", "/v2/repos/src/jobs/j1/actions/start", marshal(params)))
    run = _finished(go, "/v2/repos/src/jobs/j1")
    assert run["status"] == "Success", run
    assert pandora_emulator.points("out") == [{"user": "b", "hits": 5}]
    check_error(go.call("POST", "/v2/repos/src/jobs/nope/actions/start", marshal(params)), "E18606")


@replays(
    "停止离线计算",
    "POST /v2/repos/<RepoName>/jobs/<JobName>/actions/stop",
    "seed:docs/seed-api.md:836",
    "go:base/request/request.go:227",
)
def test_stop_job(go: GoSdk) -> None:
    go.create_repo("src", SCHEMA)
    check_ok(go.push("src", [[("user", "a"), ("hits", 1)]]))
    # a slow run: the comment is the emulator's (the service ignores SQL comments)
    slow = "select user from src -- emulator: sleep=5"
    check_ok(go.json("POST", "/v2/repos/src/jobs/j1/to/out", _job(slow)))
    check_ok(go.call("POST", "/v2/repos/src/jobs/j1/actions/start", marshal({"params": []})))
    assert _history(go, "/v2/repos/src/jobs/j1")[0]["status"] == "Running"
    check_ok(go.call("POST", "/v2/repos/src/jobs/j1/actions/stop"))  # no body
    assert _finished(go, "/v2/repos/src/jobs/j1")["status"] == "Cancel"
    check_error(go.call("POST", "/v2/repos/src/jobs/nope/actions/stop"), "E18606")


@replays(
    "获取数据源schema",
    "GET /v2/schemas",
    "seed:docs/seed-api.md:844",
    "go:pipeline/service.go:191",
    "go:pipeline/models.go:1235",
    "go:pipeline/models.go:1197",
)
def test_retrieve_schema(go: GoSdk, pandora_emulator: PandoraEmulator) -> None:
    folder = pandora_emulator.kodo_root / "logs-bucket" / "app"
    folder.mkdir(parents=True)
    rows = [{"user": "a", "hits": 3, "ratio": 0.5}, {"user": "b", "hits": 4, "ratio": 1}]
    (folder / "part-0.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    # the seed: a GET with a JSON body
    seed_body = {"region": "nb", "bucket": "logs-bucket", "keyPrefix": "app/", "fileType": "json"}
    answer = go.call("GET", "/v2/schemas", marshal(seed_body), content_type=JSON)
    expected = [
        {"key": "user", "valtype": "string"},
        {"key": "hits", "valtype": "long"},
        {"key": "ratio", "valtype": "float"},
    ]
    assert check_ok(answer) == {"schema": expected}
    text = check_ok(go.call("GET", "/v2/schemas", marshal({**seed_body, "fileType": "text"}), content_type=JSON))
    assert [(e["key"], e["valtype"].lower()) for e in text["schema"]] == [("text", "string")]  # seed: <text>, <String>
    # the Go SDK's RetrieveSchema: POST {"type": "kodo", "spec": KodoSourceSpec}
    sdk_body = {"type": "kodo", "spec": {"bucket": "logs-bucket", "keyPrefixes": ["app/"], "fileType": "json"}}
    assert check_ok(go.json("POST", "/v2/schemas", sdk_body)) == {"schema": expected}


@replays(
    "查看历史任务",
    "GET /v2/repos/<RepoName>/jobs/<jobName>/history?page=1&size=20",
    "seed:docs/seed-api.md:883",
    "go:base/sign.go:86",
)
def test_job_history(go: GoSdk) -> None:
    go.create_repo("src", SCHEMA)
    check_ok(go.push("src", [[("user", "a"), ("hits", 1)]]))
    check_ok(go.json("POST", "/v2/repos/src/jobs/j1/to/out", _job("select user from src")))
    assert _history(go, "/v2/repos/src/jobs/j1") == []  # the seed's answer is a bare list
    for _ in range(2):
        check_ok(go.call("POST", "/v2/repos/src/jobs/j1/actions/start", marshal({})))
        _finished(go, "/v2/repos/src/jobs/j1")
    runs = _history(go, "/v2/repos/src/jobs/j1")
    assert len(runs) == 2
    for run in runs:
        # seed: [{"startTime", "endTime", "status": Success|Fail|Running|Cancel, "message"}]
        assert {"startTime", "endTime", "status", "message"} <= set(run)
        assert run["status"] in SEED_STATUSES
    page = check_ok(go.call("GET", "/v2/repos/src/jobs/j1/history?page=2&size=1", content_type=JSON))
    assert page == runs[1:]
    check_error(go.call("GET", "/v2/repos/src/jobs/nope/history?page=1&size=20"), "E18606")
