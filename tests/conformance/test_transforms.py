"""计算任务 (transforms) and plugin jars, as the Go SDK sends them (the Java SDK has neither)."""

from __future__ import annotations

from tests.conformance.sdk import JAR, GoSdk, check_error, check_ok, container, entry
from tests.conformance.seed import replays
from tests.conformance.signer import content_md5

SCHEMA = [entry("user", "string", True), entry("hits", "long")]
#: The seed's example transform (创建计算任务 示例), in TransformSpec's field order (models.go:785).
SEED_SPEC = {
    "mode": "sql",
    "code": "select count(*) from test_repo",
    "interval": "1m",
    "container": container("M16C4", 5),
}
JAR_BYTES = b"PK\x03\x04 not really a jar, the emulator never runs it"


@replays(
    "创建计算任务",
    "POST /v2/repos/<RepoName>/transforms/<TransformName>/to/<DestinationRepoName>",
    "go:pipeline/api.go:458",
    "go:pipeline/service.go:129",
    "go:pipeline/models.go:785",
    "go:pipeline/models.go:775",
)
def test_create_transform(go: GoSdk) -> None:
    go.create_repo("test_repo", SCHEMA)
    check_ok(go.json("POST", "/v2/repos/test_repo/transforms/transform_job/to/compute_repo", SEED_SPEC))
    # the destination did not exist: it is created, derived from the transform
    assert check_ok(go.call("GET", "/v2/repos/compute_repo"))["derivedFrom"] == "transform_job"
    again = go.json("POST", "/v2/repos/test_repo/transforms/transform_job/to/other", SEED_SPEC)
    check_error(again, "E18201")  # 计算任务已经存在
    check_error(go.json("POST", "/v2/repos/test_repo/transforms/t2/to/d2", {**SEED_SPEC, "interval": "2m"}), "E18208")
    check_error(go.json("POST", "/v2/repos/test_repo/transforms/t3/to/d3", {**SEED_SPEC, "code": "selec"}), "E18209")
    check_error(go.json("POST", "/v2/repos/nope/transforms/t4/to/d4", SEED_SPEC), "E18102")
    # a plugin transform (TransformPlugin, models.go:780) needs the plugin uploaded first
    plugin = {"name": "com.qiniu.MyParser", "output": [{"name": "user"}, {"name": "n", "type": "long"}]}
    check_error(go.json("POST", "/v2/repos/test_repo/transforms/t5/to/d5", {"plugin": plugin}), "E18216")
    check_ok(go.call("POST", "/v2/plugins/com.qiniu.MyParser", JAR_BYTES, content_type=JAR, md5=True))
    check_ok(go.json("POST", "/v2/repos/test_repo/transforms/t5/to/d5", {"plugin": plugin}))


@replays(
    "上传jar包(自定义计算使用)",
    "POST /v2/plugins/<PluginName>",
    "go:pipeline/api.go:409",
    "go:pipeline/service.go:149",
    "go:base/request/request.go:132",
    "go:base/const.go:92",
    "seed:docs/seed-api.md:408",
)
def test_upload_plugin(go: GoSdk) -> None:
    answer = go.call("POST", "/v2/plugins/com.qiniu.MyParser", JAR_BYTES, content_type=JAR, md5=True)
    assert ("Content-Md5", content_md5(JAR_BYTES)) in answer.sent  # Go's spelling of Content-MD5
    check_ok(answer)
    again = go.call("POST", "/v2/plugins/com.qiniu.MyParser", JAR_BYTES, content_type=JAR, md5=True)
    check_error(again, "E18217")  # Plugin已存在
    # the seed: Content-MD5 is optional, and one that does not match the body is refused
    plain = go.call("POST", "/v2/plugins/com.qiniu.Other", JAR_BYTES, content_type=JAR)
    assert "Content-Md5" not in dict(plain.sent)
    check_ok(plain)
    corrupt = go.call("POST", "/v2/plugins/com.qiniu.Bad", JAR_BYTES, content_type=JAR, md5_of=b"other bytes")
    check_error(corrupt, "E18220")  # Plugin上传内容的MD5不一致
    check_error(go.call("GET", "/v2/plugins/com.qiniu.Bad"), "E18216")  # nothing was stored


@replays(
    "查看所有计算任务",
    "GET /v2/repos/<RepoName>/transforms",
    "go:pipeline/api.go:480",
    "go:pipeline/service.go:133",
    "go:pipeline/models.go:848",
    "go:pipeline/models.go:875",
)
def test_list_transforms(go: GoSdk) -> None:
    go.create_repo("test_repo", SCHEMA)
    assert check_ok(go.call("GET", "/v2/repos/test_repo/transforms")) == {"transforms": []}
    go.create_transform("test_repo", "t1", "d1", {"mode": "sql", "code": "select user from test_repo"})
    go.create_transform(
        "test_repo", "t2", "d2", {"mode": "sql", "code": "select hits from test_repo", "interval": "5m"}
    )
    listed = check_ok(go.call("GET", "/v2/repos/test_repo/transforms"))["transforms"]
    # TransformDesc: {"name", "to", "spec": TransformSpec}
    assert [(t["name"], t["to"], t["spec"]["code"], t["spec"]["interval"]) for t in listed] == [
        ("t1", "d1", "select user from test_repo", "1m"),  # the seed's default interval
        ("t2", "d2", "select hits from test_repo", "5m"),
    ]
    check_error(go.call("GET", "/v2/repos/nope/transforms"), "E18102")


@replays(
    "查看指定计算任务的信息",
    "GET /v2/repos/<RepoName>/transforms/<TransformName>",
    "go:pipeline/api.go:488",
    "go:pipeline/service.go:135",
    "go:pipeline/models.go:848",
)
def test_get_transform(go: GoSdk) -> None:
    go.create_repo("test_repo", SCHEMA)
    go.create_transform("test_repo", "test_transform", "d1", SEED_SPEC)
    answer = go.call("GET", "/v2/repos/test_repo/transforms/test_transform")
    shown = check_ok(answer)
    assert answer.header("Transform-Type") == "application/sql"  # the seed's response header
    # seed: {"name", "to", "spec": {"plugin", "mode", "code", "interval"}}
    assert (shown["name"], shown["to"]) == ("test_transform", "d1")
    assert {k: shown["spec"][k] for k in ("mode", "code", "interval")} == {
        "mode": "sql",
        "code": "select count(*) from test_repo",
        "interval": "1m",
    }
    check_error(go.call("GET", "/v2/repos/test_repo/transforms/nope"), "E18202")  # 计算任务不存在


@replays(
    "修改计算任务",
    "PUT /v2/repos/<RepoName>/transforms/<TransformName>",
    "go:pipeline/api.go:469",
    "go:pipeline/service.go:131",
    "go:pipeline/models.go:785",
)
def test_update_transform(go: GoSdk) -> None:
    go.create_repo("test_repo", SCHEMA)
    go.create_transform("test_repo", "t1", "d1", {"mode": "sql", "code": "select user from test_repo"})
    # UpdateTransform marshals the whole TransformSpec: omitempty leaves out what the caller did not set
    new_spec = {"mode": "sql", "code": "select user, hits from test_repo", "interval": "5m", "container": container()}
    check_ok(go.json("PUT", "/v2/repos/test_repo/transforms/t1", new_spec))
    spec = check_ok(go.call("GET", "/v2/repos/test_repo/transforms/t1"))["spec"]
    assert (spec["code"], spec["interval"], spec["container"]) == (new_spec["code"], "5m", container())
    # the seed allows only 1m, 5m and 10m on update
    check_error(go.json("PUT", "/v2/repos/test_repo/transforms/t1", {"mode": "sql", "interval": "5s"}), "E18208")
    check_error(go.json("PUT", "/v2/repos/test_repo/transforms/nope", new_spec), "E18202")


@replays(
    "删除计算任务",
    "DELETE /v2/repos/<RepoName>/transforms/<TransformName>",
    "go:pipeline/api.go:496",
    "go:pipeline/service.go:137",
)
def test_delete_transform(go: GoSdk) -> None:
    go.create_repo("test_repo", SCHEMA)
    go.create_transform("test_repo", "t1", "d1", {"mode": "sql", "code": "select user from test_repo"})
    check_error(go.call("DELETE", "/v2/repos/d1"), "E18206")  # 目的仓库必须通过删除计算任务的方式删除
    check_ok(go.call("DELETE", "/v2/repos/test_repo/transforms/t1"))
    check_error(go.call("GET", "/v2/repos/test_repo/transforms/t1"), "E18202")
    check_error(go.call("DELETE", "/v2/repos/test_repo/transforms/t1"), "E18202")
