"""Every error the issue lists, over real HTTP: the right status, the right code, the error contract.

Each case sets up what it needs through signed calls, makes one bad call and checks ``status`` and
``Exxxxx`` (the codes come from the shared table, so the hook maps them to the right exception).
"""

from __future__ import annotations

import gzip
import socket
from collections.abc import Callable

import pytest
import requests

from airflow_provider_pandora import auth
from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.hooks._transport import PandoraAuth
from tests.common import CONTAINER, SCHEMA
from tests.emulator.conftest import Api, error_code

Case = Callable[[Api], requests.Response]


def _repo_then(call: Case) -> Case:
    def run(api: Api) -> requests.Response:
        api.repo("src")
        return call(api)

    return run


def _transform_then(call: Case) -> Case:
    def run(api: Api) -> requests.Response:
        api.repo("src")
        api.transform("src", "t1", "dest", "select user, hits from src")
        return call(api)

    return run


CASES: dict[str, tuple[Case, int, str]] = {
    # invalid names
    "repo name": (lambda a: a.post("/v2/repos/9bad", {"region": "nb", "schema": SCHEMA}), 400, "E18103"),
    "field name": (
        lambda a: a.post("/v2/repos/r", {"region": "nb", "schema": [{"key": "a-b", "valtype": "string"}]}),
        400,
        "E18106",
    ),
    "plugin name": (
        lambda a: a.post("/v2/plugins/9.bad.", data=b"jar", headers={"Content-Type": "application/java-archive"}),
        400,
        "E18117",
    ),
    "group name": (lambda a: a.post("/v2/groups/bad-name", {"region": "nb", "container": CONTAINER}), 400, "E18221"),
    # duplicates
    "repo exists": (_repo_then(lambda a: a.post("/v2/repos/src", {"region": "nb", "schema": SCHEMA})), 409, "E18101"),
    "transform exists": (
        _transform_then(lambda a: a.post("/v2/repos/src/transforms/t1/to/other", {"code": "select user from src"})),
        409,
        "E18201",
    ),
    "plugin exists": (
        lambda a: (a.post("/v2/plugins/com.x.P", data=b"jar"), a.post("/v2/plugins/com.x.P", data=b"jar"))[1],
        409,
        "E18217",
    ),
    "group exists": (
        lambda a: (a.group("g"), a.post("/v2/groups/g", {"region": "nb", "container": CONTAINER}))[1],
        409,
        "E18218",
    ),
    "export exists": (
        _repo_then(
            lambda a: (
                a.export("src", "e", "logdb", {"destRepoName": "x"}),
                a.post("/v2/repos/src/exports/e", {"type": "logdb", "spec": {"destRepoName": "x"}}),
            )[1]
        ),
        409,
        "E18301",
    ),
    # missing
    "repo missing": (lambda a: a.get("/v2/repos/nope"), 404, "E18102"),
    "group missing": (lambda a: a.get("/v2/groups/nope"), 404, "E18120"),
    "repo group missing": (
        lambda a: a.post("/v2/repos/r", {"region": "nb", "schema": SCHEMA, "group": "nope"}),
        404,
        "E18120",
    ),
    "transform missing": (_repo_then(lambda a: a.get("/v2/repos/src/transforms/nope")), 404, "E18202"),
    "plugin missing": (lambda a: a.get("/v2/plugins/com.x.Nope"), 404, "E18216"),
    "transform plugin missing": (
        _repo_then(
            lambda a: a.post(
                "/v2/repos/src/transforms/t/to/d", {"plugin": {"name": "com.x.Nope", "output": [{"name": "a"}]}}
            )
        ),
        404,
        "E18216",
    ),
    "export missing": (_repo_then(lambda a: a.delete("/v2/repos/src/exports/nope")), 404, "E18302"),
    "job missing": (_repo_then(lambda a: a.get("/v2/repos/src/jobs/nope/history")), 404, "E18606"),
    # schema and values
    "empty schema": (lambda a: a.post("/v2/repos/r", {"region": "nb", "schema": []}), 400, "E18105"),
    "bad valtype": (
        lambda a: a.post("/v2/repos/r", {"region": "nb", "schema": [{"key": "a", "valtype": "decimal"}]}),
        400,
        "E18107",
    ),
    "type change on update": (
        _repo_then(lambda a: a.put("/v2/repos/src", {"schema": [{"key": "user", "valtype": "long"}]})),
        400,
        "E18107",
    ),
    "bad value": (_repo_then(lambda a: a.push("src", "user=a\thits=many\n")), 400, "E18110"),
    "missing required": (_repo_then(lambda a: a.push("src", "hits=1\n")), 400, "E18110"),
    "unknown key": (_repo_then(lambda a: a.push("src", "user=a\tnope=1\n")), 404, "E18111"),
    # cascade and in-use
    "cascade transform": (_transform_then(lambda a: a.delete("/v2/repos/src")), 400, "E18112"),
    "cascade export": (
        _repo_then(lambda a: (a.export("src", "e", "logdb", {"destRepoName": "x"}), a.delete("/v2/repos/src"))[1]),
        400,
        "E18112",
    ),
    "dest of a transform": (_transform_then(lambda a: a.delete("/v2/repos/dest")), 400, "E18206"),
    "group in use": (
        lambda a: (a.group("g"), a.repo("r", group="g"), a.delete("/v2/groups/g"))[2],
        409,
        "E18215",
    ),
    # bodies
    "empty push": (_repo_then(lambda a: a.push("src", b"")), 400, "E18006"),
    "blank push": (_repo_then(lambda a: a.push("src", b"\n\n")), 400, "E18006"),
    "malformed json": (
        lambda a: a.post("/v2/groups/g", data=b"{nope", headers={"Content-Type": "application/json"}),
        400,
        "E18007",
    ),
    "json not an object": (lambda a: a.post("/v2/groups/g", [1, 2]), 400, "E18007"),
    "line not key=value": (_repo_then(lambda a: a.push("src", "user=a\tjunk\n")), 400, "E18007"),
    "not utf-8": (_repo_then(lambda a: a.push("src", b"user=\xff\xfe\n")), 400, "E18007"),
    "push content type": (
        _repo_then(lambda a: a.push("src", "user=a\n", **{"Content-Type": "application/json"})),
        400,
        "E18007",
    ),
    "over 2 MiB": (
        _repo_then(lambda a: a.push("src", b"".join(b"user=" + b"y" * 50_000 + b"\n" for _ in range(45)))),
        413,
        "E18005",
    ),
    "over 2 MiB once gunzipped": (
        _repo_then(
            lambda a: a.push(
                "src", gzip.compress(b"user=" + b"z" * (3 * 1024 * 1024) + b"\n"), **{"Content-Encoding": "gzip"}
            )
        ),
        413,
        "E18005",
    ),
    "field over 100 KB": (_repo_then(lambda a: a.push("src", b"user=" + b"x" * 102_400 + b"\n")), 400, "E18008"),
    "bad gzip": (_repo_then(lambda a: a.push("src", b"not gzip", **{"Content-Encoding": "gzip"})), 400, "E18125"),
    "truncated gzip": (
        _repo_then(lambda a: a.push("src", gzip.compress(b"user=a\n")[:-6], **{"Content-Encoding": "gzip"})),
        400,
        "E18125",
    ),
    # transforms
    "src = dest": (
        _repo_then(lambda a: a.post("/v2/repos/src/transforms/t/to/src", {"code": "select 1"})),
        409,
        "E18204",
    ),
    "dest taken": (
        _transform_then(lambda a: a.post("/v2/repos/src/transforms/t2/to/dest", {"code": "select user from src"})),
        409,
        "E18205",
    ),
    "push into transform dest": (_transform_then(lambda a: a.push("dest", "user=a\n")), 400, "E18223"),
    "bad mode": (
        _repo_then(lambda a: a.post("/v2/repos/src/transforms/t/to/d", {"mode": "spark", "code": "x"})),
        415,
        "E18203",
    ),
    "no code nor plugin": (_repo_then(lambda a: a.post("/v2/repos/src/transforms/t/to/d", {})), 400, "E18207"),
    "bad interval": (
        _repo_then(lambda a: a.post("/v2/repos/src/transforms/t/to/d", {"code": "select 1", "interval": "2m"})),
        400,
        "E18208",
    ),
    "update interval not allowed": (
        _transform_then(lambda a: a.put("/v2/repos/src/transforms/t1", {"interval": "5s"})),
        400,
        "E18208",
    ),
    "container type": (
        _repo_then(
            lambda a: a.post(
                "/v2/repos/src/transforms/t/to/d", {"code": "select 1", "container": {"type": "XL", "count": 1}}
            )
        ),
        400,
        "E18213",
    ),
    "container count": (
        lambda a: a.post("/v2/groups/g", {"region": "nb", "container": {"type": "M16C4", "count": 0}}),
        400,
        "E18214",
    ),
    "bad sql": (
        _repo_then(lambda a: a.post("/v2/repos/src/transforms/t/to/d", {"code": "selec nothing frm"})),
        400,
        "E18209",
    ),
    "unknown column": (
        _repo_then(lambda a: a.post("/v2/repos/src/transforms/t/to/d", {"code": "select hitz from src"})),
        400,
        "E18209",
    ),
    "job bad sql": (
        _repo_then(
            lambda a: a.post(
                "/v2/repos/src/jobs/j/to/d",
                {"code": "drop table src", "container": CONTAINER, "scheduler": {"type": "once"}},
            )
        ),
        400,
        "E18209",
    ),
    "plugin output type": (
        _repo_then(
            lambda a: a.post(
                "/v2/repos/src/transforms/t/to/d",
                {"plugin": {"name": "com.x.P", "output": [{"name": "a", "type": "date"}]}},
            )
        ),
        400,
        "E18211",
    ),
    "plugin md5": (
        lambda a: a.post("/v2/plugins/com.x.P", data=b"other", headers={"Content-MD5": "gLL29S04bTCxYd2kCqsEIQ=="}),
        400,
        "E18220",
    ),
    "region": (lambda a: a.post("/v2/groups/g", {"region": "us", "container": CONTAINER}), 400, "E18212"),
    "group region mismatch": (
        lambda a: (a.group("g"), a.post("/v2/repos/r", {"region": "xx", "schema": SCHEMA, "group": "g"}))[1],
        400,
        "E18212",
    ),
    "repo type": (lambda a: a.post("/v2/repos/r", {"schema": SCHEMA, "type": "hdfs"}), 400, "E18109"),
    "kodo repo without bucket": (lambda a: a.post("/v2/repos/r", {"schema": SCHEMA, "type": "kodo"}), 400, "E18109"),
    "export type": (
        _repo_then(lambda a: a.post("/v2/repos/src/exports/e", {"type": "ftp", "spec": {}})),
        400,
        "E18305",
    ),
    "export spec": (
        _repo_then(lambda a: a.post("/v2/repos/src/exports/e", {"type": "http", "spec": {"host": "h"}})),
        400,
        "E18305",
    ),
    "export field reference": (
        _repo_then(
            lambda a: a.post(
                "/v2/repos/src/exports/e",
                {
                    "type": "tsdb",
                    "spec": {"destRepoName": "t", "series": "s", "tags": {"u": "#nope"}, "fields": {"h": "#hits"}},
                },
            )
        ),
        400,
        "E18305",
    ),
    "job name": (_repo_then(lambda a: a.post("/v2/repos/src/jobs/9j/to/d", {"code": "select 1"})), 400, "E18604"),
    "job scheduler": (
        _repo_then(
            lambda a: a.post(
                "/v2/repos/src/jobs/j/to/d",
                {"code": "select user from src", "container": CONTAINER, "scheduler": {"type": "hourly"}},
            )
        ),
        400,
        "E18614",
    ),
    "job exists": (
        _repo_then(
            lambda a: (
                a.job("src", "j", "d", "select user from src"),
                a.post(
                    "/v2/repos/src/jobs/j/to/d2",
                    {"code": "select user from src", "container": CONTAINER, "scheduler": {"type": "once"}},
                ),
            )[1]
        ),
        409,
        "E18605",
    ),
    "job already running": (
        _repo_then(
            lambda a: (
                a.job("src", "j", "d", "-- emulator: sleep=30\nselect user from src"),
                a.post("/v2/repos/src/jobs/j/actions/start", {}),
                a.post("/v2/repos/src/jobs/j/actions/start", {}),
            )[2]
        ),
        400,
        "E18621",
    ),
    "history page": (
        _repo_then(
            lambda a: (a.job("src", "j", "d", "select user from src"), a.get("/v2/repos/src/jobs/j/history?page=0"))[1]
        ),
        400,
        "E18007",
    ),
    "unknown endpoint": (lambda a: a.get("/v2/nothing/here"), 501, "E9001"),
    "wrong method": (lambda a: a.call("PATCH", "/v2/repos"), 501, "E9001"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_error(api: Api, case: str):
    call, status, code = CASES[case]
    response = call(api)
    assert response.status_code == status, response.text
    assert error_code(response) == code, response.text


def test_refused_push_stores_nothing(api: Api, pandora_emulator: PandoraEmulator):
    api.repo("src")
    assert api.push("src", "user=a\thits=1\nuser=b\thits=x\n").status_code == 400
    assert pandora_emulator.points("src") == []
    message = api.push("src", "user=a\nuser=b\tnope=1\n").json()["error"]
    assert "line 2" in message
    assert "nope" in message


def _raw(emulator: PandoraEmulator, head: str, body: bytes = b"", *, half_close: bool = False) -> bytes:
    host, port = emulator.url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def _signed_head(emulator: PandoraEmulator, method: str, path: str, content_type: str, extra: str) -> str:
    headers = auth.sign_headers(
        emulator.access_key, emulator.secret_key, method, emulator.url + path, {"Content-Type": content_type}
    )
    lines = [f"{method} {path} HTTP/1.1", "Host: x", f"Content-Type: {content_type}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return "\r\n".join(lines) + "\r\n" + extra + "\r\n"


def test_push_without_content_length_is_411(api: Api, pandora_emulator: PandoraEmulator):
    api.repo("src")
    head = _signed_head(pandora_emulator, "POST", "/v2/repos/src/data", "text/plain", "Connection: close\r\n")
    answer = _raw(pandora_emulator, head)
    assert answer.startswith(b"HTTP/1.1 411")
    assert b"E18003" in answer
    chunked = requests.post(
        pandora_emulator.url + "/v2/repos/src/data",
        data=iter([b"user=a\n"]),
        headers={"Content-Type": "text/plain"},
        auth=PandoraAuth(pandora_emulator.access_key, pandora_emulator.secret_key),
        timeout=10,
    )
    assert chunked.status_code == 411
    assert error_code(chunked) == "E18003"


def test_bad_content_length_is_400(api: Api, pandora_emulator: PandoraEmulator):
    head = _signed_head(pandora_emulator, "POST", "/v2/repos/src/data", "text/plain", "Content-Length: lots\r\n")
    answer = _raw(pandora_emulator, head)
    assert answer.startswith(b"HTTP/1.1 400")
    assert b"E18004" in answer


def test_plugin_shorter_than_its_content_length_is_e18219(pandora_emulator: PandoraEmulator):
    head = _signed_head(
        pandora_emulator, "POST", "/v2/plugins/com.x.Short", "application/java-archive", "Content-Length: 100\r\n"
    )
    answer = _raw(pandora_emulator, head, b"x" * 40, half_close=True)
    assert answer.startswith(b"HTTP/1.1 400")
    assert b"E18219" in answer


def test_unknown_json_keys_and_nulls_are_tolerated(api: Api):
    """The Go SDK's bodies carry RepoName, PipelineGetRepoToken, Option and nulls (docs/sdk-facts.md §6.17)."""
    api.ok(
        api.post(
            "/v2/repos/go_repo",
            {
                "RepoName": "go_repo",
                "region": "nb",
                "schema": [{"key": "s", "valtype": "string", "required": False, "description": None}],
                "options": None,
                "group": None,
                "workflow": "",
                "ruleNames": None,
                "description": None,
            },
        )
    )
    api.ok(
        api.put(
            "/v2/repos/go_repo",
            {
                "RepoName": "go_repo",
                "PipelineGetRepoToken": {},
                "Option": None,
                "schema": [
                    {"key": "s", "valtype": "string", "required": False},
                    {"key": "n", "valtype": "long", "required": None},
                ],
            },
        )
    )
    api.ok(api.post("/v2/groups/go_group", {"region": "nb", "container": CONTAINER, "allocateOnStart": None, "x": 1}))
    api.ok(
        api.post(
            "/v2/repos/go_repo/exports/e",
            {"type": "http", "whence": None, "spec": {"host": "127.0.0.1:1", "uri": "/x", "format": None}, "x": [1]},
        )
    )
    assert [f["key"] for f in api.ok(api.get("/v2/repos/go_repo"))["schema"]] == ["s", "n"]


def test_every_answer_has_a_reqid_and_json_errors(api: Api, pandora_emulator: PandoraEmulator):
    responses: list[requests.Response] = [
        api.get("/v2/groups"),
        api.get("/v2/repos/missing"),
        requests.get(pandora_emulator.url + "/v2/groups", timeout=10),
        requests.get(pandora_emulator.url + "/_emulator/stats", timeout=10),
    ]
    reqids = [r.headers["X-Reqid"] for r in responses]
    assert all(reqids)
    assert len(set(reqids)) == len(reqids)
    for response in responses[1:3]:
        assert response.headers["Content-Type"] == "application/json"
