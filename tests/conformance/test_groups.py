"""资源池 (groups): the seed's seven calls, as the Go SDK sends them (the Java SDK has no group calls)."""

from __future__ import annotations

from tests.conformance.sdk import GoSdk, check_error, check_ok, container
from tests.conformance.seed import replays


@replays(
    "创建资源池",
    "POST /v2/groups/<GroupName>",
    "go:pipeline/api.go:15",
    "go:pipeline/service.go:103",
    "go:pipeline/models.go:176",
)
def test_create_group(go: GoSdk) -> None:
    # the seed's example body, in CreateGroupInput's field order
    body = {"region": "nb", "container": container("M16C4", 5), "allocateOnStart": True}
    assert check_ok(go.json("POST", "/v2/groups/test_group", body)) in (None, {})
    shown = check_ok(go.call("GET", "/v2/groups/test_group"))
    assert shown["region"] == "nb"
    assert shown["container"] == {"type": "M16C4", "count": 5, "status": "running"}  # allocated on start
    check_error(go.json("POST", "/v2/groups/test_group", body), "E18218")  # 共享资源池已存在


@replays(
    "修改资源池",
    "PUT /v2/groups/<GroupName>",
    "go:pipeline/api.go:26",
    "go:pipeline/service.go:105",
    "go:pipeline/models.go:202",
)
def test_update_group(go: GoSdk) -> None:
    go.create_group("g1")
    check_ok(go.json("PUT", "/v2/groups/g1", {"container": container("M32C8", 2)}))
    shown = check_ok(go.call("GET", "/v2/groups/g1"))
    assert {k: shown["container"][k] for k in ("type", "count")} == {"type": "M32C8", "count": 2}
    check_error(go.json("PUT", "/v2/groups/nope", {"container": container()}), "E18120")  # 共享资源池不存在


@replays(
    "启动/停止资源池",
    "POST /v2/groups/<GroupName>/actions/start",
    "go:pipeline/api.go:37",
    "go:pipeline/service.go:107",
)
def test_start_group(go: GoSdk) -> None:
    go.create_group("g1")
    assert check_ok(go.call("GET", "/v2/groups/g1"))["container"]["status"] == "idle"
    started = go.call("POST", "/v2/groups/g1/actions/start")  # no body, no Content-Type, Content-Length: 0
    assert ("Content-Length", "0") in started.sent
    check_ok(started)
    assert check_ok(go.call("GET", "/v2/groups/g1"))["container"]["status"] == "running"
    check_error(go.call("POST", "/v2/groups/nope/actions/start"), "E18120")


@replays(
    "启动/停止资源池",
    "POST /v2/groups/<GroupName>/actions/stop",
    "go:pipeline/api.go:44",
    "go:pipeline/service.go:109",
)
def test_stop_group(go: GoSdk) -> None:
    go.create_group("g1", allocateOnStart=True)
    check_ok(go.call("POST", "/v2/groups/g1/actions/stop"))
    assert check_ok(go.call("GET", "/v2/groups/g1"))["container"]["status"] == "idle"
    check_error(go.call("POST", "/v2/groups/nope/actions/stop"), "E18120")


@replays(
    "查询所有资源池",
    "GET /v2/groups",
    "go:pipeline/api.go:51",
    "go:pipeline/service.go:111",
    "go:pipeline/models.go:249",
    "go:pipeline/models.go:259",
)
def test_list_groups(go: GoSdk) -> None:
    assert check_ok(go.call("GET", "/v2/groups")) == {"groups": []}
    go.create_group("g1")
    go.create_group("g2")
    groups = check_ok(go.call("GET", "/v2/groups"))["groups"]
    # seed: {"groups": [{"name", "region", "container": {"type", "count"}}]}
    assert [(g["name"], g["region"], g["container"]["type"], g["container"]["count"]) for g in groups] == [
        ("g1", "nb", "M16C4", 1),
        ("g2", "nb", "M16C4", 1),
    ]


@replays(
    "根据名称查询资源池",
    "GET /v2/groups/<GroupName>",
    "go:pipeline/api.go:59",
    "go:pipeline/service.go:113",
    "go:pipeline/models.go:237",
)
def test_get_group(go: GoSdk) -> None:
    go.create_group("g1")
    answer = go.call("GET", "/v2/groups/g1")
    assert "Content-Type" not in dict(answer.sent)  # a GET carries no Content-Type; its line is signed empty
    shown = check_ok(answer)
    # seed: {"region", "container": {"type", "count", "status"}, "createTime", "updateTime"}
    assert {"region", "container", "createTime", "updateTime"} <= set(shown)
    assert shown["container"]["status"] in ("running", "idle")
    assert isinstance(shown["createTime"], str)
    assert isinstance(shown["updateTime"], str)
    check_error(go.call("GET", "/v2/groups/nope"), "E18120")


@replays(
    "根据名称删除资源池",
    "DELETE /v2/groups/<GroupName>",
    "go:pipeline/api.go:67",
    "go:pipeline/service.go:115",
    "go:pipeline/api.go:74",
)
def test_delete_group(go: GoSdk) -> None:
    go.create_group("g1")
    go.create_repo("r1", [{"key": "a", "valtype": "string", "required": False}], group="g1")
    check_error(go.call("DELETE", "/v2/groups/g1"), "E18215")  # 共享资源池处于使用中
    check_ok(go.call("DELETE", "/v2/repos/r1"))
    check_ok(go.call("DELETE", "/v2/groups/g1"))
    check_error(go.call("GET", "/v2/groups/g1"), "E18120")
    check_error(go.call("DELETE", "/v2/groups/g1"), "E18120")
