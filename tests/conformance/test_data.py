"""数据推送: push bodies built the way each SDK builds them (see :mod:`tests.conformance.points`)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from tests.conformance.points import go_body, java_body
from tests.conformance.sdk import TEXT, GoSdk, JavaSdk, check_error, check_ok, entry
from tests.conformance.seed import replays
from tests.conformance.signer import token

SCHEMA = [
    entry("name", "string", True),
    entry("count", "long"),
    entry("ratio", "float"),
    entry("ts", "date"),
    entry("tags", "array", elemtype="string"),
    entry("meta", "map", schema=[entry("k", "long"), entry("note", "string")]),
]


@replays(
    "数据推送",
    "POST /v2/repos/<RepoName>/data",
    "go:pipeline/api.go:273",
    "go:pipeline/service.go:127",
    "go:pipeline/models.go:637",
    "go:pipeline/models.go:670",
    "go:pipeline/models.go:687",
    "go:base/const.go:93",
    "go:base/request/request.go:186",
    "java:pipeline/sender/DataSender.java:46",
    "java:pipeline/points/Point.java:72",
    "java:pipeline/points/Point.java:142",
    "java:http/HttpCommon.java:13",
    "seed:docs/seed-api.md:339",
)
def test_push_data(go: GoSdk, java: JavaSdk, pandora_emulator: PandoraEmulator) -> None:
    go.create_repo("r1", SCHEMA)
    # Go: TAB and LF escaped, the backslash sent as it is; %v floats; json.Marshal (with \u003c...) for arrays and
    # maps, whose own JSON escapes (\n, \t inside strings) must survive; a nil field left out; no trailing LF
    go_points = [
        [
            ("name", "a\tb\nc\\d"),
            ("count", 42),
            ("ratio", 1e6),
            ("ts", "2017-06-01T08:00:00.5Z"),
            ("tags", ["x", "tab\there"]),
            ("meta", {"k": 1, "note": "<b>&\nnext"}),
        ],
        [("name", "second"), ("count", 7), ("ratio", 1.0), ("ts", None)],
    ]
    answer = go.push("r1", go_points)
    assert not answer.sent_body.endswith(b"\n")
    check_ok(answer)
    # Java: every point ends with LF, Double.toString floats, its local-time millisecond dates
    java_points = [[("name", "j\tone"), ("count", 3), ("ratio", 1e10), ("ts", "2017-04-11T15:06:44.224+08:00")]]
    check_ok(java.post("/v2/repos/r1/data", java_body(java_points), TEXT))
    # the seed's own Content-Type (docs/sdk-facts.md §6.7: the SDKs send text/plain)
    check_ok(go.call("POST", "/v2/repos/r1/data", go_body([[("name", "seed")]]), content_type="application/text"))
    # Go with Config.Gzip; raw CR (Go does not escape it), '=' and spaces in a value
    gzipped = go_body([[("name", "k=v with spaces 小张\rcr"), ("count", 9)]])
    check_ok(go.call("POST", "/v2/repos/r1/data", gzipped, content_type=TEXT, gzip_body=True))

    points = pandora_emulator.points("r1")
    assert points[0] == {
        "name": "a\tb\nc\\d",
        "count": 42,
        "ratio": 1e6,
        "ts": datetime(2017, 6, 1, 8, 0, 0, 500000, tzinfo=UTC),
        "tags": ["x", "tab\there"],
        "meta": {"k": 1, "note": "<b>&\nnext"},
    }
    assert {k: v for k, v in points[1].items() if v is not None} == {"name": "second", "count": 7, "ratio": 1.0}
    assert {k: points[2][k] for k in ("name", "count", "ratio", "ts")} == {
        "name": "j\tone",
        "count": 3,
        "ratio": 1e10,
        "ts": datetime(2017, 4, 11, 15, 6, 44, 224000, tzinfo=timezone(timedelta(hours=8))),
    }
    assert points[3]["name"] == "seed"
    assert (points[4]["name"], points[4]["count"]) == ("k=v with spaces 小张\rcr", 9)
    assert len(points) == 5


@replays(
    "数据推送",
    "POST /v2/repos/<RepoName>/data",
    "go:pipeline/api.go:273",
    "go:base/request/request.go:240",
    "go:pipeline/models.go:670",
)
def test_push_data_errors_and_tokens(go: GoSdk) -> None:
    go.create_repo("r1", SCHEMA)
    check_error(go.push("r1", [[("name", "a"), ("f7", 1)]]), "E18111")  # 字段不存在
    check_error(go.push("nope", [[("name", "a")]]), "E18102")
    check_error(go.push("r1", []), "E18006")  # PostData with no points: an empty body, 请求实体为空
    broken = go.call("POST", "/v2/repos/r1/data", b"\x1f\x8b not gzip", content_type=TEXT, content_encoding="gzip")
    check_error(broken, "E18125")  # 读取gzip的打点请求体出错
    check_error(go.push("r1", [[("name", "x" * (100 * 1024 + 1))]]), "E18008")  # one field over 100 KB
    check_error(go.push("r1", [[("name", "y" * 60_000)]] * 36), "E18005")  # > 2 MiB: Go's PostData does not split

    go.create_transform("r1", "t1", "dest", {"mode": "sql", "code": "select name from r1"})
    check_error(go.push("dest", [[("name", "a")]]), "E18223")  # 不能向计算任务的目标仓库中打点

    # PostData with input.Token: the token goes out verbatim as Authorization (docs/sdk-facts.md §1.2)
    def with_token(expires: int) -> str:
        return token(
            go.access_key,
            go.secret_key,
            method="POST",
            resource="/v2/repos/r1/data",
            expires=expires,
            content_type=TEXT,
        )

    body = go_body([[("name", "by token")]])
    check_ok(go.call("POST", "/v2/repos/r1/data", body, content_type=TEXT, token=with_token(int(time.time()) + 600)))
    expired = go.call("POST", "/v2/repos/r1/data", body, content_type=TEXT, token=with_token(int(time.time()) - 60))
    assert expired.status == 401, expired  # §1.3: 401 bad token; Go maps it to UnauthorizedError
    assert expired.header("Content-Type") == "application/json"
    assert expired.header("X-Reqid")
    assert expired.json() == {"error": "bad token"}
