"""消息队列 (repos): create, list, get, delete and update, as the Go and Java SDKs send them."""

from __future__ import annotations

from typing import Any

from tests.conformance.sdk import GoSdk, JavaSdk, check_error, check_ok, entry, repo_body
from tests.conformance.seed import replays

#: The seed's example schema (创建消息队列 示例), as RepoSchemaEntry values.
SEED_SCHEMA: list[dict[str, Any]] = [
    entry("userName", "string", True),
    entry("age", "float", True),
    entry("addresses", "array", True, elemtype="long"),
    entry(
        "profile",
        "map",
        True,
        schema=[
            entry("position", "string", True),
            entry("salary", "float", True),
            entry("education", "array", False, elemtype="string"),
        ],
    ),
]


@replays(
    "创建消息队列",
    "POST /v2/repos/<RepoName>",
    "go:pipeline/api.go:74",
    "go:pipeline/service.go:117",
    "go:pipeline/models.go:525",
    "go:pipeline/models.go:263",
    "java:pipeline/PipelineClient.java:137",
    "java:pipeline/repo/CreateRepoInput.java:8",
    "java:pipeline/repo/RepoSchemaEntry.java:5",
    "seed:docs/seed-api.md:167",
)
def test_create_repo(go: GoSdk, java: JavaSdk) -> None:
    go.create_group("test_group")
    sent = go.json("POST", "/v2/repos/Test_Repo", repo_body("Test_Repo", SEED_SCHEMA, "test_group"))
    assert sent.sent_body.startswith(b'{"RepoName":"Test_Repo","region":"nb","schema":[{"key":"userName"')
    check_ok(sent)
    shown = check_ok(go.call("GET", "/v2/repos/Test_Repo"))
    assert shown["group"] == "test_group"
    assert shown["schema"] == SEED_SCHEMA  # required echoed, elemtype and nested schema kept
    check_error(go.json("POST", "/v2/repos/Test_Repo", repo_body("Test_Repo", SEED_SCHEMA)), "E18101")
    check_error(go.json("POST", "/v2/repos/r2", repo_body("r2", SEED_SCHEMA, "no_group")), "E18120")

    # the Java SDK: Gson leaves nulls out, so region and schema only; its schema entries have no elemtype
    java_schema = [{"key": "userName", "valtype": "string", "required": True}]
    check_ok(java.json("/v2/repos/java_repo", {"region": "nb", "schema": java_schema, "workflow": None}))
    assert check_ok(go.call("GET", "/v2/repos/java_repo"))["schema"] == java_schema

    # no SDK creates the seed's kodo repos (docs/sdk-facts.md §6.5): the seed's own syntax, Go framing
    kodo = {"region": "nb", "type": "kodo", "bucket": "b1", "keyPrefix": "logs/", "fileType": "json"}
    check_ok(go.json("POST", "/v2/repos/kodo_repo", {**kodo, "schema": [entry("a", "string")]}))
    shown = check_ok(go.call("GET", "/v2/repos/kodo_repo"))
    assert {k: shown[k] for k in ("bucket", "keyPrefix", "fileType")} == {
        "bucket": "b1",
        "keyPrefix": "logs/",
        "fileType": "json",
    }


@replays(
    "查看所有消息队列",
    "GET /v2/repos",
    "go:pipeline/api.go:258",
    "go:pipeline/service.go:121",
    "go:pipeline/models.go:612",
)
def test_list_repos(go: GoSdk) -> None:
    assert check_ok(go.call("GET", "/v2/repos")) == {"repos": []}
    go.create_group("g1")
    go.create_repo("src", [entry("a", "long")], group="g1")
    go.create_transform("src", "t1", "dest", {"mode": "sql", "code": "select a from src", "interval": "1m"})
    repos = {r["name"]: r for r in check_ok(go.call("GET", "/v2/repos"))["repos"]}
    # seed: {"repos": [{"name", "region", "derivedFrom", "group"}]}; derivedFrom names the transform, "" if by hand
    assert {(name, r["region"], r["derivedFrom"], r["group"]) for name, r in repos.items()} == {
        ("src", "nb", "", "g1"),
        ("dest", "nb", "t1", "g1"),
    }


@replays(
    "根据名称查询消息队列",
    "GET /v2/repos/<RepoName>",
    "go:pipeline/api.go:250",
    "go:pipeline/service.go:123",
    "go:pipeline/models.go:605",
    "java:pipeline/PipelineClient.java:148",
    "java:common/PandoraClientImpl.java:52",
)
def test_get_repo(go: GoSdk, java: JavaSdk) -> None:
    go.create_repo("r1", [entry("a", "string", True), entry("n", "long")])
    shown = check_ok(go.call("GET", "/v2/repos/r1"))
    # seed: {"region", "group", "derivedFrom", "schema": [{"key", "valtype", "required"}]}
    assert {"region", "group", "derivedFrom", "schema"} <= set(shown)
    assert shown["schema"] == [entry("a", "string", True), entry("n", "long")]
    check_error(go.call("GET", "/v2/repos/nope"), "E18102")
    # Java's repoExists: a 200 means yes, anything >= 300 (here the documented 404) means no
    check_ok(java.get("/v2/repos/r1"))
    check_error(java.get("/v2/repos/nope"), "E18102")


@replays(
    "根据名称删除消息队列",
    "DELETE /v2/repos/<RepoName>",
    "go:pipeline/api.go:266",
    "go:pipeline/service.go:125",
)
def test_delete_repo(go: GoSdk) -> None:
    go.create_repo("r1", [entry("a", "string")])
    go.create_export("r1", "e1", "http", {"host": "127.0.0.1:9", "uri": "/x"})
    check_error(go.call("DELETE", "/v2/repos/r1"), "E18112")  # 仓库上存在着级联的转换任务或者导出任务
    check_ok(go.call("DELETE", "/v2/repos/r1/exports/e1"))
    check_ok(go.call("DELETE", "/v2/repos/r1"))
    check_error(go.call("GET", "/v2/repos/r1"), "E18102")
    check_error(go.call("DELETE", "/v2/repos/r1"), "E18102")


@replays(
    "根据名称更新消息队列",
    "PUT /v2/repos/<RepoName>",
    "go:pipeline/api.go:196",
    "go:pipeline/api.go:239",
    "go:pipeline/service.go:119",
    "go:pipeline/models.go:563",
)
def test_update_repo(go: GoSdk) -> None:
    old = [entry("ip", "string")]
    go.create_repo("test_repo", old)
    check_ok(go.call("GET", "/v2/repos/test_repo"))  # UpdateRepo reads the repo first (getSchemaSorted)
    # UpdateRepoInput's untagged RepoName, ExportType and Tags go out as JSON keys; the schema is the full new one
    new = [*old, entry("status", "long"), entry("tags", "array", elemtype="string")]
    check_ok(
        go.json("PUT", "/v2/repos/test_repo", {"RepoName": "test_repo", "schema": new, "ExportType": "", "Tags": None})
    )
    assert check_ok(go.call("GET", "/v2/repos/test_repo"))["schema"] == new
    missing = {"RepoName": "nope", "schema": new, "ExportType": "", "Tags": None}
    check_error(go.json("PUT", "/v2/repos/nope", missing), "E18102")
