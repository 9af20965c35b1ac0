"""导出任务 (exports): the five export types and the four export calls, as the Go and Java SDKs send them.

Go's ``CreateExportInput.Validate`` sets ``type`` from the spec struct (pipeline/models.go:1050-1076), so it sends
the lowercase ``http tsdb logdb kodo mongo``; ``whence`` is omitempty. The exports here point nowhere reachable
and their repos get no points, so nothing is delivered.
"""

from __future__ import annotations

from typing import Any

from tests.conformance.sdk import GoSdk, JavaSdk, check_error, check_ok, entry
from tests.conformance.seed import replays

SCHEMA = [
    entry("type", "string"),
    entry("src", "string"),
    entry("hits", "long"),
    entry("flow", "float"),
    entry("time", "date"),
    entry("userName", "string"),
    entry("age", "long"),
]
HTTP_SPEC = {"host": "www.qiniu.com", "uri": "/test/repos"}  # ExportHttpSpec (models.go:991), the seed's example


def _created(go: GoSdk, repo: str, name: str) -> dict[str, Any]:
    shown: dict[str, Any] = check_ok(go.call("GET", f"/v2/repos/{repo}/exports/{name}"))
    return shown


@replays(
    "导出数据至HTTP地址",
    "POST /v2/repos/<RepoName>/exports/<ExportName>",
    "go:pipeline/api.go:503",
    "go:pipeline/service.go:139",
    "go:pipeline/models.go:1008",
    "go:pipeline/models.go:991",
    "java:pipeline/PipelineClient.java:168",
    "java:pipeline/repo/CreateExportInput.java:48",
)
def test_create_http_export(go: GoSdk, java: JavaSdk) -> None:
    go.create_repo("test_Repo", SCHEMA)
    check_ok(go.json("POST", "/v2/repos/test_Repo/exports/export_job1", {"type": "http", "spec": HTTP_SPEC}))
    shown = _created(go, "test_Repo", "export_job1")
    assert (shown["type"], shown["spec"]) == ("http", HTTP_SPEC)
    check_error(
        go.json("POST", "/v2/repos/test_Repo/exports/export_job1", {"type": "http", "spec": HTTP_SPEC}), "E18301"
    )
    check_error(go.json("POST", "/v2/repos/nope/exports/e", {"type": "http", "spec": HTTP_SPEC}), "E18102")
    # Java: CreateExportInput<ExportHTTPSpec>, Gson leaves the null whence and format out
    check_ok(
        java.json("/v2/repos/test_Repo/exports/java_http", {"type": "http", "spec": HTTP_SPEC, "whence": "newest"})
    )
    assert _created(go, "test_Repo", "java_http")["whence"] == "newest"


@replays(
    "导出数据至时序数据库",
    "POST /v2/repos/<RepoName>/exports/<ExportName>",
    "go:pipeline/api.go:503",
    "go:pipeline/models.go:892",
    "java:pipeline/repo/CreateExportInput.java:31",
)
def test_create_tsdb_export(go: GoSdk, java: JavaSdk) -> None:
    go.create_repo("test_Repo", SCHEMA)
    # ExportTsdbSpec: tags and fields are Go maps (sorted keys), timestamp and filter omitempty
    spec = {
        "destRepoName": "test_tsdb",
        "series": "req_io",
        "tags": {"src": "#src", "type": "#type"},
        "fields": {"flow": "#flow", "hits": "#hits"},
    }
    check_ok(go.json("POST", "/v2/repos/test_Repo/exports/export_job4", {"type": "tsdb", "spec": spec}))
    assert _created(go, "test_Repo", "export_job4")["spec"] == spec
    # Java's ExportTSDBSpec also sends its primitive booleans and a timestamp
    java_spec = {**spec, "omitInvalid": False, "omitEmpty": False, "timestamp": "#time"}
    check_ok(java.json("/v2/repos/test_Repo/exports/java_tsdb", {"type": "tsdb", "spec": java_spec}))
    unknown = {**spec, "fields": {"hits": "#nope"}}
    check_error(go.json("POST", "/v2/repos/test_Repo/exports/e3", {"type": "tsdb", "spec": unknown}), "E18305")


@replays(
    "导出数据至日志检索服务",
    "POST /v2/repos/<RepoName>/exports/<ExportName>",
    "go:pipeline/api.go:503",
    "go:pipeline/models.go:950",
    "java:pipeline/repo/CreateExportInput.java:20",
    "seed:docs/seed-api.md:589",
)
def test_create_logdb_export(go: GoSdk, java: JavaSdk) -> None:
    go.create_repo("test_Repo", SCHEMA)
    spec = {"destRepoName": "logdb_testrepo", "doc": {"age": "#age", "user": "#userName"}}  # ExportLogDBSpec
    check_ok(go.json("POST", "/v2/repos/test_Repo/exports/export_job2", {"type": "logdb", "spec": spec}))
    assert _created(go, "test_Repo", "export_job2")["type"] == "logdb"
    # doc is optional (seed: 如果不填写该字段,则默认按照源消息队列字段信息录入); Go sends a nil map as null
    check_ok(
        go.json(
            "POST", "/v2/repos/test_Repo/exports/no_doc", {"type": "logdb", "spec": {"destRepoName": "l2", "doc": None}}
        )
    )
    java_spec = {**spec, "omitInvalid": False, "omitEmpty": False}
    check_ok(java.json("/v2/repos/test_Repo/exports/java_logdb", {"type": "logdb", "spec": java_spec}))
    # the seed's example spells the type "logDB" (docs/sdk-facts.md §6.6)
    check_ok(go.json("POST", "/v2/repos/test_Repo/exports/seed_logdb", {"type": "logDB", "spec": spec}))


@replays(
    "导出数据至对象存储服务",
    "POST /v2/repos/<RepoName>/exports/<ExportName>",
    "go:pipeline/api.go:503",
    "go:pipeline/models.go:967",
)
def test_create_kodo_export(go: GoSdk) -> None:
    go.create_repo("repox", [entry("f1", "string"), entry("f2", "long")])
    # ExportKodoSpec in field order; rotateInterval and filter are omitempty, the rest always sent
    spec = {
        "bucket": "bucket2",
        "keyPrefix": "key1/",
        "fields": {"f1": "#f1", "f2": "#f2"},
        "email": "xiaoming@qiniu.com",
        "accessKey": "7H4FDc1M-FxXFZKwjbN_Up1OfY7DotXDjaM5jXzm",
        "format": "json",
        "compress": True,
        "retention": 0,
    }
    check_ok(go.json("POST", "/v2/repos/repox/exports/export1", {"type": "kodo", "spec": spec}))
    assert _created(go, "repox", "export1")["spec"]["format"] == "json"
    # a caller who leaves Format unset sends its zero value, "": the seed's format is optional, default json
    zero = {**spec, "keyPrefix": "", "format": "", "compress": False, "rotateInterval": 30}
    check_ok(go.json("POST", "/v2/repos/repox/exports/export2", {"type": "kodo", "spec": zero}))
    bad = {**spec, "format": "xml"}
    check_error(go.json("POST", "/v2/repos/repox/exports/export3", {"type": "kodo", "spec": bad}), "E18305")


@replays(
    "导出数据至MongoDB",
    "POST /v2/repos/<RepoName>/exports/<ExportName>",
    "go:pipeline/api.go:503",
    "go:pipeline/models.go:916",
)
def test_create_mongo_export(go: GoSdk) -> None:
    go.create_repo("test_Repo", [entry("uid", "long"), entry("zone", "string"), entry("hits", "long")])
    # ExportMongoSpec with the seed's example values; updateKey and version are omitempty
    spec = {
        "host": "192.168.61.31:37217",
        "dbName": "test_mongo",
        "collName": "req_rs_5m",
        "mode": "UPDATE",
        "updateKey": ["uid", "zone"],
        "doc": {"$inc": {"hits": "#hits"}},
        "version": "2.4.7",
    }
    check_ok(go.json("POST", "/v2/repos/test_Repo/exports/export_job3", {"type": "mongo", "spec": spec}))
    assert _created(go, "test_Repo", "export_job3")["type"] == "mongo"
    bad = {**spec, "mode": "MERGE"}
    check_error(go.json("POST", "/v2/repos/test_Repo/exports/export_job4", {"type": "mongo", "spec": bad}), "E18305")


@replays(
    "更新导出任务",
    "PUT /v2/repos/<RepoName>/exports/<ExportName>",
    "go:pipeline/api.go:514",
    "go:pipeline/service.go:141",
    "go:pipeline/models.go:1017",
)
def test_update_export(go: GoSdk) -> None:
    go.create_repo("test_Repo", SCHEMA)
    go.create_export("test_Repo", "e1", "http", HTTP_SPEC)
    new_spec = {"host": "www.qiniu.com", "uri": "/other"}
    check_ok(go.json("PUT", "/v2/repos/test_Repo/exports/e1", {"spec": new_spec}))  # UpdateExportInput: spec only
    shown = _created(go, "test_Repo", "e1")
    assert (shown["type"], shown["spec"]) == ("http", new_spec)
    check_error(go.json("PUT", "/v2/repos/test_Repo/exports/nope", {"spec": new_spec}), "E18302")  # 导出任务不存在


@replays(
    "查看所有导出任务",
    "GET /v2/repos/<RepoName>/exports",
    "go:pipeline/api.go:525",
    "go:pipeline/service.go:143",
    "go:pipeline/models.go:1089",
    "go:pipeline/models.go:1111",
)
def test_list_exports(go: GoSdk) -> None:
    go.create_repo("test_Repo", SCHEMA)
    assert check_ok(go.call("GET", "/v2/repos/test_Repo/exports")) == {"exports": []}
    go.create_export("test_Repo", "e1", "http", HTTP_SPEC)
    check_ok(go.json("POST", "/v2/repos/test_Repo/exports/e2", {"type": "http", "spec": HTTP_SPEC, "whence": "newest"}))
    # the seed shows one {"name", "type", "spec", "whence"}; the SDK reads {"exports": [...]} of them (§6.8)
    exports = check_ok(go.call("GET", "/v2/repos/test_Repo/exports"))["exports"]
    assert [(e["name"], e["type"], e["spec"], e.get("whence")) for e in exports] == [
        ("e1", "http", HTTP_SPEC, None),
        ("e2", "http", HTTP_SPEC, "newest"),
    ]
    check_error(go.call("GET", "/v2/repos/nope/exports"), "E18102")


@replays(
    "根据名称查看导出任务",
    "GET /v2/repos/<RepoName>/exports/<ExportName>",
    "go:pipeline/api.go:533",
    "go:pipeline/service.go:145",
    "java:pipeline/PipelineClient.java:179",
)
def test_get_export(go: GoSdk, java: JavaSdk) -> None:
    go.create_repo("test_Repo", SCHEMA)
    go.create_export("test_Repo", "e1", "http", HTTP_SPEC)
    shown = _created(go, "test_Repo", "e1")
    assert {"name": "e1", "type": "http", "spec": HTTP_SPEC}.items() <= shown.items()
    check_error(go.call("GET", "/v2/repos/test_Repo/exports/nope"), "E18302")
    # Java's exportExists: 200 yes, >= 300 no
    check_ok(java.get("/v2/repos/test_Repo/exports/e1"))
    check_error(java.get("/v2/repos/test_Repo/exports/nope"), "E18302")


@replays(
    "根据名称删除导出任务",
    "DELETE /v2/repos/<RepoName>/exports/<ExportName>",
    "go:pipeline/api.go:541",
    "go:pipeline/service.go:147",
)
def test_delete_export(go: GoSdk) -> None:
    go.create_repo("test_Repo", SCHEMA)
    go.create_export("test_Repo", "e1", "http", HTTP_SPEC)
    check_ok(go.call("DELETE", "/v2/repos/test_Repo/exports/e1"))
    check_error(go.call("GET", "/v2/repos/test_Repo/exports/e1"), "E18302")
    check_error(go.call("DELETE", "/v2/repos/test_Repo/exports/e1"), "E18302")
