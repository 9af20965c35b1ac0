"""Every public method of ``PandoraHook`` against a recording transport (no emulator): one table row per call.

Each row says, for one call, the request the API expects (method, path, query, body), whether the hook sends it
again after a transient failure, and what one refusal turns into. The expected requests are written from the API
spec, ``docs/seed-api.md`` (a copy of ``/work/shared/pandora/seed-api.md``), cited by its section title in the
comment over each row; where the spec is silent, from ``docs/sdk-facts.md`` (cited ``§N``), never from the hook
or ``schema.py``. The emulator shares ``schema.py`` with the client, so a wrong rule there would pass every
emulator test; here it fails a row.

The recording transports are a ``requests`` adapter mounted on the hook's own session (the hook's signing and
retry policy run as in production) and an ``httpx.MockTransport`` under the shared async client.

Retry policy (our decision, not the spec's: the spec says nothing on retries): idempotent calls (GET, PUT, DELETE
and the start/stop *actions* of groups and the stop of a job) are sent again on a 503 or a broken connection;
a POST that creates something or may have acted (create, submit, upload, push, start a job) never is, because a
lost answer may mean it was done (docs/sdk-facts.md §2.9: the SDKs never retry a push on their own).
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import inspect
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests
import requests.adapters
from requests.structures import CaseInsensitiveDict

from airflow_provider_pandora.exceptions import (
    PandoraAlreadyExistsError,
    PandoraApiError,
    PandoraAuthError,
    PandoraConflictError,
    PandoraInvalidRequestError,
    PandoraNotFoundError,
    PandoraServerError,
    PandoraTooLargeError,
)
from airflow_provider_pandora.hooks.base import PandoraBaseHook
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.hooks.runs import JobRun, JobStatus, PushResult

ENDPOINT = "http://pandora.test"
ACCESS_KEY = "AK-table"
CONN_ID = "pandora_table"

#: A canned answer: an HTTP status and a JSON body (or raw bytes), or an exception the transport raises.
Answer = tuple[int, Any] | BaseException
OK: Answer = (200, {})
#: A transient refusal: 503 with no E-code is a PandoraServerError, which a retry may fix.
BUSY: Answer = (503, {"error": "service unavailable"})


def reqid(path: str) -> str:
    """The ``X-Reqid`` every answer to ``path`` carries (the same for a retry, so results compare)."""
    return f"reqid:{path}"


def _error(status: int, text: str) -> Answer:
    """The spec's error answer (seed-api.md "API返回内容": ``{"error": "<errMsg>"}``)."""
    return (status, {"error": text})


# The spec's error table (seed-api.md "错误代码及相关说明"), the answers the rows refuse with.
GROUP_MISSING = _error(404, "E18120: 共享资源池不存在")
REPO_MISSING = _error(404, "E18102: 仓库不存在")
TRANSFORM_MISSING = _error(404, "E18202: 计算任务不存在")
EXPORT_MISSING = _error(404, "E18302: 导出任务不存在")
PLUGIN_MISSING = _error(404, "E18216: Plugin不存在")
BAD_TOKEN = _error(401, "bad token")  # docs/sdk-facts.md §1.3: every auth failure is 401 "bad token"
#: Job codes are not in the spec's table; docs/sdk-facts.md §4 (E18606 "job missing", status undocumented).
JOB_MISSING = _error(404, "E18606: job does not exist")


@dataclass(frozen=True)
class Req:
    """One request a call must send. ``json``/``raw`` is its body (neither: no body at all)."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    raw: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    """One call of the hook: what it sends, its answers, what it returns, whether it is retried, how it fails.

    :ivar method: the hook method the row covers (the completeness test wants one row at least per method).
    :ivar call: calls it on a hook (an ``a``-method returns its coroutine).
    :ivar sends: the requests, in order; retries and refusals are tried on the last one.
    :ivar answers: one success answer per request.
    :ivar returns: what the call returns (compared with ``==``), or a predicate on it.
    :ivar retried: whether a transient failure of the last request is sent again.
    :ivar refusal: a refusal of the last request, and ``raises``: the exception it becomes; or
        ``refused_returns``: what the call returns instead (the ``*_exists`` and ``test_connection`` contracts).
    """

    method: str
    call: Callable[[PandoraHook], Any]
    sends: tuple[Req, ...]
    answers: tuple[Answer, ...]
    returns: Any
    retried: bool
    refusal: Answer
    raises: type[BaseException] | None = None
    refused_returns: Any = None
    variant: str = ""

    @property
    def id(self) -> str:
        return f"{self.method}[{self.variant}]" if self.variant else self.method

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(getattr(PandoraHook, self.method))


def row(
    method: str,
    call: Callable[[PandoraHook], Any],
    sends: Req | Sequence[Req],
    *,
    answer: Answer | list[Answer] = OK,
    returns: Any = None,
    retried: bool,
    refusal: Answer,
    raises: type[BaseException] | None = None,
    refused_returns: Any = None,
    variant: str = "",
) -> Row:
    reqs = (sends,) if isinstance(sends, Req) else tuple(sends)
    answers = tuple(answer) if isinstance(answer, list) else (answer,)
    assert len(answers) == len(reqs)
    assert (raises is None) != (refused_returns is None)
    return Row(method, call, reqs, answers, returns, retried, refusal, raises, refused_returns, variant)


def run_is(status: JobStatus, message: str = "") -> Callable[[Any], bool]:
    return lambda got: isinstance(got, JobRun) and got.status is status and got.message == message


def all_runs(*statuses: JobStatus) -> Callable[[Any], bool]:
    return lambda got: [r.status for r in got] == list(statuses)


# Values from the spec's own examples where it gives them.
CONTAINER = {"type": "M16C4", "count": 5}
REPO_SCHEMA: list[dict[str, Any]] = [  # seed-api.md "创建消息队列", its example schema
    {"key": "userName", "valtype": "string", "required": True},
    {"key": "age", "valtype": "float", "required": True},
    {"key": "addresses", "valtype": "array", "elemtype": "long", "required": True},
    {
        "key": "profile",
        "valtype": "map",
        "required": True,
        "schema": [
            {"key": "position", "valtype": "string", "required": True},
            {"key": "salary", "valtype": "float", "required": True},
            {"key": "education", "valtype": "array", "elemtype": "string", "required": False},
        ],
    },
]
PUSH_SCHEMA: list[dict[str, Any]] = [
    {"key": "userName", "valtype": "string", "required": True},
    {"key": "age", "valtype": "long"},
]
# seed-api.md "数据推送": keyName=valName fields joined by one TAB, one point per line.
PUSH_LINE = "userName=小张\tage=22\n".encode()
PLUGIN_OUTPUT = [{"name": "total", "type": "long"}, {"name": "host", "type": "string"}]
HTTP_SPEC = {"host": "www.qiniu.com", "uri": "/test/repos"}
KODO_EXPORT_SPEC = {  # seed-api.md "导出数据至对象存储服务", its example
    "bucket": "bucket2",
    "keyPrefix": "key1/",
    "email": "xiaoming@qiniu.com",
    "accessKey": "7H4FDc1M-FxXFZKwjbN_Up1OfY7DotXDjaM5jXzm",
    "fields": {"f1": "#f1", "f2": "#f2"},
    "format": "json",
    "compress": True,
}
HISTORY = [  # seed-api.md "查看历史任务": a bare array, statuses Success|Fail|Running|Cancel
    {"startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-01T00:01:00Z", "status": "Fail", "message": "oom"},
    {"startTime": "2026-01-02T00:00:00Z", "endTime": "2026-01-02T00:01:00Z", "status": "Success", "message": ""},
]
JAR = b"qiniu"  # seed-api.md "上传jar包": the Content-MD5 of "qiniu" is gLL29S04bTCxYd2kCqsEIQ==
GROUP_INFO = {"region": "nb", "container": {"type": "M16C4", "count": 5, "status": "running"}}

ROWS: list[Row] = [
    # ---- groups --------------------------------------------------------------------------------------------
    # seed-api.md "创建资源池" (create group): POST /v2/groups/<GroupName>, {region, container, allocateOnStart}
    row(
        "create_group",
        lambda h: h.create_group("test_group", container=CONTAINER, allocate_on_start=True),
        Req("POST", "/v2/groups/test_group", json={"region": "nb", "container": CONTAINER, "allocateOnStart": True}),
        returns={},
        retried=False,
        refusal=_error(409, "E18218: 共享资源池已存在"),
        raises=PandoraAlreadyExistsError,
    ),
    # seed-api.md "创建资源池": region is required, the connection's (nb) when the caller gives none
    row(
        "create_group",
        lambda h: h.create_group("test_group", container={"type": "M32C8", "count": 128}),
        Req(
            "POST",
            "/v2/groups/test_group",
            json={"region": "nb", "container": {"type": "M32C8", "count": 128}, "allocateOnStart": False},
        ),
        returns={},
        retried=False,
        refusal=_error(400, "E18222: 共享资源池的区域信息不一致"),
        raises=PandoraInvalidRequestError,
        variant="defaults",
    ),
    # seed-api.md "修改资源池" (update group): PUT /v2/groups/<GroupName>, {container}
    row(
        "update_group",
        lambda h: h.update_group("test_group", container=CONTAINER),
        Req("PUT", "/v2/groups/test_group", json={"container": CONTAINER}),
        returns={},
        retried=True,
        refusal=GROUP_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "启动/停止资源池": POST /v2/groups/<GroupName>/actions/start, no body
    row(
        "start_group",
        lambda h: h.start_group("test_group"),
        Req("POST", "/v2/groups/test_group/actions/start"),
        returns={},
        retried=True,
        refusal=GROUP_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "启动/停止资源池": POST /v2/groups/<GroupName>/actions/stop, no body
    row(
        "stop_group",
        lambda h: h.stop_group("test_group"),
        Req("POST", "/v2/groups/test_group/actions/stop"),
        returns={},
        retried=True,
        refusal=_error(409, "E18215: 共享资源池处于使用中"),
        raises=PandoraConflictError,
    ),
    # seed-api.md "查询所有资源池" (list groups): GET /v2/groups -> {"groups": [...]}
    row(
        "list_groups",
        lambda h: h.list_groups(),
        Req("GET", "/v2/groups"),
        answer=(200, {"groups": [{"name": "test_group", "region": "nb", "container": CONTAINER}]}),
        returns=[{"name": "test_group", "region": "nb", "container": CONTAINER}],
        retried=True,
        refusal=BAD_TOKEN,
        raises=PandoraAuthError,
    ),
    # seed-api.md "根据名称查询资源池" (get group): GET /v2/groups/<GroupName>
    row(
        "get_group",
        lambda h: h.get_group("test_group"),
        Req("GET", "/v2/groups/test_group"),
        answer=(200, GROUP_INFO),
        returns=GROUP_INFO,
        retried=True,
        refusal=GROUP_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "根据名称查询资源池", the async twin
    row(
        "aget_group",
        lambda h: h.aget_group("test_group"),
        Req("GET", "/v2/groups/test_group"),
        answer=(200, GROUP_INFO),
        returns=GROUP_INFO,
        retried=True,
        refusal=GROUP_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "根据名称删除资源池" (delete group): DELETE /v2/groups/<GroupName>
    row(
        "delete_group",
        lambda h: h.delete_group("test_group"),
        Req("DELETE", "/v2/groups/test_group"),
        returns={},
        retried=True,
        refusal=_error(409, "E18215: 共享资源池处于使用中"),
        raises=PandoraConflictError,
    ),
    # seed-api.md "根据名称查询资源池": existence is that GET; its 404 E18120 means "no"
    row(
        "group_exists",
        lambda h: h.group_exists("test_group"),
        Req("GET", "/v2/groups/test_group"),
        answer=(200, GROUP_INFO),
        returns=True,
        retried=True,
        refusal=GROUP_MISSING,
        refused_returns=False,
    ),
    row(
        "group_exists",
        lambda h: h.group_exists("test_group"),
        Req("GET", "/v2/groups/test_group"),
        answer=(200, GROUP_INFO),
        returns=True,
        retried=True,
        refusal=BAD_TOKEN,  # any refusal but "missing" still raises
        raises=PandoraAuthError,
        variant="auth",
    ),
    # ---- repos ---------------------------------------------------------------------------------------------
    # seed-api.md "创建消息队列" (create repo): POST /v2/repos/<RepoName>, its example body verbatim
    row(
        "create_repo",
        lambda h: h.create_repo("Test_Repo", schema=REPO_SCHEMA, region="nb", group="test_group"),
        Req("POST", "/v2/repos/Test_Repo", json={"region": "nb", "group": "test_group", "schema": REPO_SCHEMA}),
        returns={},
        retried=False,
        refusal=_error(409, "E18101: 仓库已经存在"),
        raises=PandoraAlreadyExistsError,
    ),
    # seed-api.md "创建消息队列", the kodo note: type kodo, no group, bucket + keyPrefix + fileType
    row(
        "create_repo",
        lambda h: h.create_repo(
            "kodo_repo", schema=PUSH_SCHEMA, repo_type="kodo", bucket="logs", key_prefix="app/", file_type="parquet"
        ),
        Req(
            "POST",
            "/v2/repos/kodo_repo",
            json={
                "region": "nb",
                "type": "kodo",
                "bucket": "logs",
                "keyPrefix": "app/",
                "fileType": "parquet",
                "schema": [
                    {"key": "userName", "valtype": "string", "required": True},
                    {"key": "age", "valtype": "long", "required": False},  # required: optional, sent as false
                ],
            },
        ),
        returns={},
        retried=False,
        refusal=_error(400, "E18109: 无效的仓库模式"),
        raises=PandoraInvalidRequestError,
        variant="kodo",
    ),
    # seed-api.md "查看所有消息队列" (list repos): GET /v2/repos -> {"repos": [...]}
    row(
        "list_repos",
        lambda h: h.list_repos(),
        Req("GET", "/v2/repos"),
        answer=(200, {"repos": [{"name": "Test_Repo", "region": "nb", "group": "test_group"}]}),
        returns=[{"name": "Test_Repo", "region": "nb", "group": "test_group"}],
        retried=True,
        refusal=BAD_TOKEN,
        raises=PandoraAuthError,
    ),
    # seed-api.md "根据名称查询消息队列" (get repo): GET /v2/repos/<RepoName>
    row(
        "get_repo",
        lambda h: h.get_repo("Test_Repo"),
        Req("GET", "/v2/repos/Test_Repo"),
        answer=(200, {"region": "nb", "schema": REPO_SCHEMA}),
        returns={"region": "nb", "schema": REPO_SCHEMA},
        retried=True,
        refusal=REPO_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "错误代码": 202 E18124 (repo being created) is no success: the spec's success is 200 alone
    row(
        "get_repo",
        lambda h: h.get_repo("Test_Repo"),
        Req("GET", "/v2/repos/Test_Repo"),
        answer=(200, {"region": "nb", "schema": REPO_SCHEMA}),
        returns={"region": "nb", "schema": REPO_SCHEMA},
        retried=True,
        refusal=_error(202, "E18124: 仓库处于创建中"),
        raises=PandoraConflictError,
        variant="creating",
    ),
    # seed-api.md "根据名称查询消息队列": the schema of that answer, parsed
    row(
        "get_repo_schema",
        lambda h: h.get_repo_schema("Test_Repo"),
        Req("GET", "/v2/repos/Test_Repo"),
        answer=(200, {"region": "nb", "schema": REPO_SCHEMA}),
        returns=lambda got: [f.to_json() for f in got] == REPO_SCHEMA,
        retried=True,
        refusal=REPO_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "根据名称更新消息队列" (update repo): PUT /v2/repos/<RepoName>, {schema}
    row(
        "update_repo",
        lambda h: h.update_repo("test_repo", schema=REPO_SCHEMA[:1]),
        Req("PUT", "/v2/repos/test_repo", json={"schema": REPO_SCHEMA[:1]}),
        returns={},
        retried=True,
        refusal=_error(400, "E18107: 不支持的字段类型"),
        raises=PandoraInvalidRequestError,
    ),
    # seed-api.md "根据名称删除消息队列" (delete repo): DELETE /v2/repos/<RepoName>
    row(
        "delete_repo",
        lambda h: h.delete_repo("test_repo"),
        Req("DELETE", "/v2/repos/test_repo"),
        returns={},
        retried=True,
        refusal=_error(400, "E18112: 仓库上存在着级联的转换任务或者导出任务"),
        raises=PandoraConflictError,
    ),
    # seed-api.md "根据名称查询消息队列": existence is that GET; 404 E18102 means "no"
    row(
        "repo_exists",
        lambda h: h.repo_exists("test_repo"),
        Req("GET", "/v2/repos/test_repo"),
        answer=(200, {"region": "nb", "schema": REPO_SCHEMA}),
        returns=True,
        retried=True,
        refusal=REPO_MISSING,
        refused_returns=False,
    ),
    # ---- data push -----------------------------------------------------------------------------------------
    # seed-api.md "数据推送" (push): POST /v2/repos/<RepoName>/data, Content-Type: application/text, raw lines
    row(
        "push_batch",
        lambda h: h.push_batch("test_repo", PUSH_LINE),
        Req("POST", "/v2/repos/test_repo/data", raw=PUSH_LINE, headers={"Content-Type": "application/text"}),
        returns=reqid("/v2/repos/test_repo/data"),  # the X-Reqid of the answer
        retried=False,
        refusal=_error(413, "E18005: 请求实体过大"),
        raises=PandoraTooLargeError,
    ),
    # seed-api.md "数据推送" + docs/sdk-facts.md §2.6: gzip keeps the content type, adds Content-Encoding
    row(
        "push_batch",
        lambda h: h.push_batch("test_repo", PUSH_LINE, gzip=True),
        Req(
            "POST",
            "/v2/repos/test_repo/data",
            raw=PUSH_LINE,  # once decompressed
            headers={"Content-Type": "application/text", "Content-Encoding": "gzip"},
        ),
        returns=reqid("/v2/repos/test_repo/data"),
        retried=False,
        refusal=_error(400, "E18125: 读取gzip的打点请求体出错"),
        raises=PandoraInvalidRequestError,
        variant="gzip",
    ),
    # seed-api.md "数据推送": a caller may opt into retries (at-least-once delivery)
    row(
        "push_batch",
        lambda h: h.push_batch("test_repo", PUSH_LINE, retry=True),
        Req("POST", "/v2/repos/test_repo/data", raw=PUSH_LINE, headers={"Content-Type": "application/text"}),
        returns=reqid("/v2/repos/test_repo/data"),
        retried=True,
        refusal=_error(400, "E18223: 不能向计算任务的目标仓库中打点"),
        raises=PandoraInvalidRequestError,
        variant="retry",
    ),
    # seed-api.md "数据推送": points encoded against a given schema, in one batch
    row(
        "push_data",
        lambda h: h.push_data("test_repo", [{"userName": "小张", "age": 22}], schema=PUSH_SCHEMA),
        Req("POST", "/v2/repos/test_repo/data", raw=PUSH_LINE, headers={"Content-Type": "application/text"}),
        returns=PushResult(points=1, bytes=len(PUSH_LINE), batches=1, reqids=(reqid("/v2/repos/test_repo/data"),)),
        retried=False,
        refusal=_error(404, "E18111: 字段不存在"),
        raises=PandoraInvalidRequestError,  # exceptions.py: a missing *field* is a bad request, not a missing thing
    ),
    # seed-api.md "根据名称查询消息队列" then "数据推送": without a schema the repo's own is read first
    row(
        "push_data",
        lambda h: h.push_data("test_repo", [{"userName": "小张", "age": 22}]),
        [
            Req("GET", "/v2/repos/test_repo"),
            Req("POST", "/v2/repos/test_repo/data", raw=PUSH_LINE, headers={"Content-Type": "application/text"}),
        ],
        answer=[(200, {"region": "nb", "schema": PUSH_SCHEMA}), OK],
        returns=PushResult(points=1, bytes=len(PUSH_LINE), batches=1, reqids=(reqid("/v2/repos/test_repo/data"),)),
        retried=False,
        refusal=REPO_MISSING,
        raises=PandoraNotFoundError,
        variant="repo-schema",
    ),
    # seed-api.md "数据推送": pre-encoded text is sent as it is, a final newline added
    row(
        "push_data",
        lambda h: h.push_data("test_repo", PUSH_LINE.decode().rstrip("\n")),
        Req("POST", "/v2/repos/test_repo/data", raw=PUSH_LINE, headers={"Content-Type": "application/text"}),
        returns=PushResult(points=1, bytes=len(PUSH_LINE), batches=1, reqids=(reqid("/v2/repos/test_repo/data"),)),
        retried=False,
        refusal=_error(400, "E18110: 无效的字段格式"),
        raises=PandoraInvalidRequestError,
        variant="text",
    ),
    # seed-api.md "根据名称查询消息队列": an encoder for the repo's own schema
    row(
        "encoder_for",
        lambda h: h.encoder_for("test_repo"),
        Req("GET", "/v2/repos/test_repo"),
        answer=(200, {"region": "nb", "schema": PUSH_SCHEMA}),
        returns=lambda enc: enc.encode({"userName": "小张", "age": 22}) + b"\n" == PUSH_LINE,
        retried=True,
        refusal=REPO_MISSING,
        raises=PandoraNotFoundError,
    ),
    # ---- transforms ----------------------------------------------------------------------------------------
    # seed-api.md "创建计算任务" (create transform): POST /v2/repos/<Repo>/transforms/<T>/to/<Dest>, its example
    row(
        "create_transform",
        lambda h: h.create_transform(
            "test_repo",
            "transform_job",
            "compute_repo",
            code="select count(*) from test_repo",
            interval="1m",
            container=CONTAINER,
        ),
        Req(
            "POST",
            "/v2/repos/test_repo/transforms/transform_job/to/compute_repo",
            json={"mode": "sql", "code": "select count(*) from test_repo", "interval": "1m", "container": CONTAINER},
        ),
        returns={},
        retried=False,
        refusal=_error(409, "E18201: 计算任务已经存在"),
        raises=PandoraAlreadyExistsError,
    ),
    # seed-api.md "创建计算任务": a plugin alone (mode/code optional when a plugin is given)
    row(
        "create_transform",
        lambda h: h.create_transform(
            "test_repo", "plugin_job", "plugin_repo", plugin={"name": "com.qiniu.SumParser", "output": PLUGIN_OUTPUT}
        ),
        Req(
            "POST",
            "/v2/repos/test_repo/transforms/plugin_job/to/plugin_repo",
            json={"plugin": {"name": "com.qiniu.SumParser", "output": PLUGIN_OUTPUT}},
        ),
        returns={},
        retried=False,
        refusal=_error(400, "E18211: 计算任务中plugin输出字段类型非法"),
        raises=PandoraInvalidRequestError,
        variant="plugin",
    ),
    # seed-api.md "修改计算任务" (update transform): PUT /v2/repos/<Repo>/transforms/<T>, {plugin, code, interval,
    # container}; no mode
    row(
        "update_transform",
        lambda h: h.update_transform("test_repo", "transform_job", code="select 1 from test_repo", interval="5m"),
        Req(
            "PUT",
            "/v2/repos/test_repo/transforms/transform_job",
            json={"code": "select 1 from test_repo", "interval": "5m"},
        ),
        returns={},
        retried=True,
        refusal=TRANSFORM_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "修改计算任务": "也可以只更新其中一种" (one of them alone), here the container
    row(
        "update_transform",
        lambda h: h.update_transform("test_repo", "transform_job", container={"type": "M32C8", "count": 2}),
        Req("PUT", "/v2/repos/test_repo/transforms/transform_job", json={"container": {"type": "M32C8", "count": 2}}),
        returns={},
        retried=True,
        refusal=_error(400, "E18214: 计算任务中容器数量非法"),
        raises=PandoraInvalidRequestError,
        variant="container",
    ),
    # seed-api.md "查看所有计算任务" (list transforms): GET /v2/repos/<Repo>/transforms; the spec gives no answer,
    # docs/sdk-facts.md §3.4 gives {"transforms": [...]}
    row(
        "list_transforms",
        lambda h: h.list_transforms("test_repo"),
        Req("GET", "/v2/repos/test_repo/transforms"),
        answer=(200, {"transforms": [{"name": "transform_job", "to": "compute_repo"}]}),
        returns=[{"name": "transform_job", "to": "compute_repo"}],
        retried=True,
        refusal=REPO_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "查看指定计算任务的信息" (get transform): GET /v2/repos/<Repo>/transforms/<T>
    row(
        "get_transform",
        lambda h: h.get_transform("test_repo", "transform_job"),
        Req("GET", "/v2/repos/test_repo/transforms/transform_job"),
        answer=(200, {"name": "transform_job", "to": "compute_repo", "spec": {"mode": "sql"}}),
        returns={"name": "transform_job", "to": "compute_repo", "spec": {"mode": "sql"}},
        retried=True,
        refusal=TRANSFORM_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "删除计算任务" (delete transform): DELETE /v2/repos/<Repo>/transforms/<T>
    row(
        "delete_transform",
        lambda h: h.delete_transform("test_repo", "transform_job"),
        Req("DELETE", "/v2/repos/test_repo/transforms/transform_job"),
        returns={},
        retried=True,
        refusal=TRANSFORM_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "查看指定计算任务的信息": existence is that GET; 404 E18202 means "no"
    row(
        "transform_exists",
        lambda h: h.transform_exists("test_repo", "transform_job"),
        Req("GET", "/v2/repos/test_repo/transforms/transform_job"),
        answer=(200, {"name": "transform_job"}),
        returns=True,
        retried=True,
        refusal=TRANSFORM_MISSING,
        refused_returns=False,
    ),
    # ---- plugins -------------------------------------------------------------------------------------------
    # seed-api.md "上传jar包" (upload plugin): POST /v2/plugins/<PluginName>, application/java-archive, the
    # Content-MD5 is base64 of the MD5 ("qiniu" -> gLL29S04bTCxYd2kCqsEIQ==), the jar as the body
    row(
        "upload_plugin",
        lambda h: h.upload_plugin("com.qiniu.NginxLogParser", JAR),
        Req(
            "POST",
            "/v2/plugins/com.qiniu.NginxLogParser",
            raw=JAR,
            headers={"Content-Type": "application/java-archive", "Content-MD5": "gLL29S04bTCxYd2kCqsEIQ=="},
        ),
        returns={},
        retried=False,
        refusal=_error(400, "E18220: Plugin上传内容的MD5不一致"),
        raises=PandoraInvalidRequestError,
    ),
    # docs/sdk-facts.md §3.3 (not in the spec): GET /v2/plugins -> {"plugins": [...]}
    row(
        "list_plugins",
        lambda h: h.list_plugins(),
        Req("GET", "/v2/plugins"),
        answer=(200, {"plugins": [{"name": "com.qiniu.NginxLogParser"}]}),
        returns=[{"name": "com.qiniu.NginxLogParser"}],
        retried=True,
        refusal=BAD_TOKEN,
        raises=PandoraAuthError,
    ),
    # docs/sdk-facts.md §3.3: GET /v2/plugins/<p>
    row(
        "get_plugin",
        lambda h: h.get_plugin("com.qiniu.NginxLogParser"),
        Req("GET", "/v2/plugins/com.qiniu.NginxLogParser"),
        answer=(200, {"name": "com.qiniu.NginxLogParser"}),
        returns={"name": "com.qiniu.NginxLogParser"},
        retried=True,
        refusal=PLUGIN_MISSING,
        raises=PandoraNotFoundError,
    ),
    # docs/sdk-facts.md §3.3: DELETE /v2/plugins/<p>
    row(
        "delete_plugin",
        lambda h: h.delete_plugin("com.qiniu.NginxLogParser"),
        Req("DELETE", "/v2/plugins/com.qiniu.NginxLogParser"),
        returns={},
        retried=True,
        refusal=PLUGIN_MISSING,
        raises=PandoraNotFoundError,
    ),
    # docs/sdk-facts.md §3.3: existence is GET /v2/plugins/<p>; 404 E18216 means "no"
    row(
        "plugin_exists",
        lambda h: h.plugin_exists("com.qiniu.NginxLogParser"),
        Req("GET", "/v2/plugins/com.qiniu.NginxLogParser"),
        answer=(200, {"name": "com.qiniu.NginxLogParser"}),
        returns=True,
        retried=True,
        refusal=PLUGIN_MISSING,
        refused_returns=False,
    ),
    # ---- exports -------------------------------------------------------------------------------------------
    # seed-api.md "导出数据至HTTP地址" (create export): POST /v2/repos/<Repo>/exports/<E>, its example
    row(
        "create_export",
        lambda h: h.create_export("test_Repo", "export_job1", export_type="http", spec=HTTP_SPEC),
        Req("POST", "/v2/repos/test_Repo/exports/export_job1", json={"type": "http", "spec": HTTP_SPEC}),
        returns={},
        retried=False,
        refusal=_error(409, "E18301: 导出任务已经存在"),
        raises=PandoraAlreadyExistsError,
    ),
    # seed-api.md "导出数据至对象存储服务" (kodo export), its example, with whence (oldest|newest)
    row(
        "create_export",
        lambda h: h.create_export("repox", "export1", export_type="kodo", spec=KODO_EXPORT_SPEC, whence="newest"),
        Req(
            "POST",
            "/v2/repos/repox/exports/export1",
            json={"type": "kodo", "whence": "newest", "spec": KODO_EXPORT_SPEC},
        ),
        returns={},
        retried=False,
        refusal=_error(400, "E18303: 提交导出任务失败"),
        raises=PandoraInvalidRequestError,
        variant="kodo",
    ),
    # seed-api.md "导出数据至日志检索服务" spells the type logDB; we send the SDKs' lowercase logdb, which is what
    # the service takes (docs/sdk-facts.md §6.6) -- a deliberate departure from the spec's spelling
    row(
        "create_export",
        lambda h: h.create_export(
            "test_Repo", "export_job2", export_type="logDB", spec={"destRepoName": "logdb_testrepo"}
        ),
        Req(
            "POST",
            "/v2/repos/test_Repo/exports/export_job2",
            json={"type": "logdb", "spec": {"destRepoName": "logdb_testrepo"}},
        ),
        returns={},
        retried=False,
        refusal=_error(404, "E18122: 导出的仓库在logd中不存在"),
        raises=PandoraNotFoundError,
        variant="logdb",
    ),
    # seed-api.md "更新导出任务" (update export): PUT /v2/repos/<Repo>/exports/<E>, {spec} only
    row(
        "update_export",
        lambda h: h.update_export("test_Repo", "export_job1", spec=HTTP_SPEC, export_type="http"),
        Req("PUT", "/v2/repos/test_Repo/exports/export_job1", json={"spec": HTTP_SPEC}),
        returns={},
        retried=True,
        refusal=EXPORT_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "查看所有导出任务" (list exports): GET /v2/repos/<Repo>/exports; the spec answers one object
    row(
        "list_exports",
        lambda h: h.list_exports("test_Repo"),
        Req("GET", "/v2/repos/test_Repo/exports"),
        answer=(200, {"name": "export_job1", "type": "http", "spec": HTTP_SPEC, "whence": "oldest"}),
        returns=[{"name": "export_job1", "type": "http", "spec": HTTP_SPEC, "whence": "oldest"}],
        retried=True,
        refusal=REPO_MISSING,
        raises=PandoraNotFoundError,
    ),
    # docs/sdk-facts.md §3.5 / §6.8: the SDK's {"exports": [...]} form of the same answer
    row(
        "list_exports",
        lambda h: h.list_exports("test_Repo"),
        Req("GET", "/v2/repos/test_Repo/exports"),
        answer=(200, {"exports": [{"name": "a", "type": "http"}, {"name": "b", "type": "kodo"}]}),
        returns=[{"name": "a", "type": "http"}, {"name": "b", "type": "kodo"}],
        retried=True,
        refusal=BAD_TOKEN,
        raises=PandoraAuthError,
        variant="sdk",
    ),
    # seed-api.md "根据名称查看导出任务" (get export): GET /v2/repos/<Repo>/exports/<E>
    row(
        "get_export",
        lambda h: h.get_export("test_Repo", "export_job1"),
        Req("GET", "/v2/repos/test_Repo/exports/export_job1"),
        answer=(200, {"name": "export_job1", "type": "http", "spec": HTTP_SPEC}),
        returns={"name": "export_job1", "type": "http", "spec": HTTP_SPEC},
        retried=True,
        refusal=EXPORT_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "根据名称删除导出任务" (delete export): DELETE /v2/repos/<Repo>/exports/<E>
    row(
        "delete_export",
        lambda h: h.delete_export("test_Repo", "export_job1"),
        Req("DELETE", "/v2/repos/test_Repo/exports/export_job1"),
        returns={},
        retried=True,
        refusal=_error(400, "E18304: 删除导出任务失败"),
        raises=PandoraInvalidRequestError,
    ),
    # seed-api.md "根据名称查看导出任务": existence is that GET; 404 E18302 means "no"
    row(
        "export_exists",
        lambda h: h.export_exists("test_Repo", "export_job1"),
        Req("GET", "/v2/repos/test_Repo/exports/export_job1"),
        answer=(200, {"name": "export_job1"}),
        returns=True,
        retried=True,
        refusal=EXPORT_MISSING,
        refused_returns=False,
    ),
    # ---- offline jobs --------------------------------------------------------------------------------------
    # seed-api.md "提交离线计算任务" (submit job): POST /v2/repos/<Repo>/jobs/<Job>/to/<Dest> (the spec drops the
    # "/" before jobs, docs/sdk-facts.md §6.1), {code, container, scheduler{type, crontab|loop}, params[{name,
    # value}]}
    row(
        "submit_job",
        lambda h: h.submit_job(
            "test_repo",
            "daily_job",
            "daily_out",
            code="select * from test_repo",
            container={"type": "M16C4", "count": 1},
            scheduler={"type": "crontab", "crontab": "0 0 0/1 * * ?"},
            params=[{"name": "day", "value": "2026-01-01"}],
        ),
        Req(
            "POST",
            "/v2/repos/test_repo/jobs/daily_job/to/daily_out",
            json={
                "code": "select * from test_repo",
                "container": {"type": "M16C4", "count": 1},
                "scheduler": {"type": "crontab", "crontab": "0 0 0/1 * * ?"},
                "params": [{"name": "day", "value": "2026-01-01"}],
            },
        ),
        returns={},
        retried=False,
        refusal=REPO_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "提交离线计算任务": scheduler type loop with its "loop" value, params optional
    row(
        "submit_job",
        lambda h: h.submit_job(
            "test_repo",
            "loop_job",
            "loop_out",
            code="select 1",
            container={"type": "M32C8", "count": 2},
            scheduler={"type": "loop", "loop": "2h"},
        ),
        Req(
            "POST",
            "/v2/repos/test_repo/jobs/loop_job/to/loop_out",
            json={
                "code": "select 1",
                "container": {"type": "M32C8", "count": 2},
                "scheduler": {"type": "loop", "loop": "2h"},
            },
        ),
        returns={},
        retried=False,
        refusal=_error(400, "E18213: 计算任务中容器类型非法"),
        raises=PandoraInvalidRequestError,
        variant="loop",
    ),
    # seed-api.md "提交离线计算任务": scheduler type once
    row(
        "submit_job",
        lambda h: h.submit_job(
            "test_repo", "once_job", "once_out", code="select 1", container=CONTAINER, scheduler={"type": "once"}
        ),
        Req(
            "POST",
            "/v2/repos/test_repo/jobs/once_job/to/once_out",
            json={"code": "select 1", "container": CONTAINER, "scheduler": {"type": "once"}},
        ),
        returns={},
        retried=False,
        refusal=_error(409, "E18605: job already exists"),  # docs/sdk-facts.md §4 (not in the spec's table)
        raises=PandoraAlreadyExistsError,
        variant="once",
    ),
    # seed-api.md "启动离线计算" (start job): POST /v2/repos/<Repo>/jobs/<Job>/actions/start, {params[{name,
    # value}]}; never retried: a lost answer may have started a run
    row(
        "start_job",
        lambda h: h.start_job("test_repo", "daily_job", params={"day": "2026-01-02"}),
        Req(
            "POST",
            "/v2/repos/test_repo/jobs/daily_job/actions/start",
            json={"params": [{"name": "day", "value": "2026-01-02"}]},
        ),
        answer=(200, {"runId": 7}),
        returns={"runId": 7},
        retried=False,
        refusal=JOB_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "停止离线计算" (stop job): POST /v2/repos/<Repo>/jobs/<Job>/actions/stop, no body
    row(
        "stop_job",
        lambda h: h.stop_job("test_repo", "daily_job"),
        Req("POST", "/v2/repos/test_repo/jobs/daily_job/actions/stop"),
        returns={},
        retried=True,
        refusal=JOB_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "停止离线计算", the async twin
    row(
        "astop_job",
        lambda h: h.astop_job("test_repo", "daily_job"),
        Req("POST", "/v2/repos/test_repo/jobs/daily_job/actions/stop"),
        returns={},
        retried=True,
        refusal=JOB_MISSING,
        raises=PandoraNotFoundError,
    ),
    # Not in the spec: docs/sdk-facts.md §3.6 has GET /v2/jobs/<j>; the hook keeps the spec's job prefix
    # /v2/repos/<Repo>/jobs/<Job> (what the emulator serves)
    row(
        "get_job",
        lambda h: h.get_job("test_repo", "daily_job"),
        Req("GET", "/v2/repos/test_repo/jobs/daily_job"),
        answer=(200, {"code": "select 1"}),
        returns={"code": "select 1"},
        retried=True,
        refusal=JOB_MISSING,
        raises=PandoraNotFoundError,
    ),
    row(
        "aget_job",
        lambda h: h.aget_job("test_repo", "daily_job"),
        Req("GET", "/v2/repos/test_repo/jobs/daily_job"),
        answer=(200, {"code": "select 1"}),
        returns={"code": "select 1"},
        retried=True,
        refusal=JOB_MISSING,
        raises=PandoraNotFoundError,
    ),
    # Not in the spec: docs/sdk-facts.md §3.6 DELETE /v2/jobs/<j>, under the spec's job prefix
    row(
        "delete_job",
        lambda h: h.delete_job("test_repo", "daily_job"),
        Req("DELETE", "/v2/repos/test_repo/jobs/daily_job"),
        returns={},
        retried=True,
        refusal=JOB_MISSING,
        raises=PandoraNotFoundError,
    ),
    row(
        "job_exists",
        lambda h: h.job_exists("test_repo", "daily_job"),
        Req("GET", "/v2/repos/test_repo/jobs/daily_job"),
        answer=(200, {"code": "select 1"}),
        returns=True,
        retried=True,
        refusal=JOB_MISSING,
        refused_returns=False,
    ),
    # seed-api.md "查看历史任务" (job history): GET /v2/repos/<Repo>/jobs/<Job>/history?page=1&size=20, a bare
    # array; newest first
    row(
        "get_job_history",
        lambda h: h.get_job_history("test_repo", "daily_job"),
        Req("GET", "/v2/repos/test_repo/jobs/daily_job/history", query={"page": "1", "size": "20"}),
        answer=(200, HISTORY),
        returns=all_runs(JobStatus.SUCCESS, JobStatus.FAIL),
        retried=True,
        refusal=JOB_MISSING,
        raises=PandoraNotFoundError,
    ),
    # docs/sdk-facts.md §3.6 / §6.3: the SDK's {"total", "history"} form and its status spellings
    row(
        "get_job_history",
        lambda h: h.get_job_history("test_repo", "daily_job", page=2, size=5),
        Req("GET", "/v2/repos/test_repo/jobs/daily_job/history", query={"page": "2", "size": "5"}),
        answer=(200, {"total": 1, "history": [{"runId": 3, "startTime": "2026-01-01T00:00:00Z", "status": "Failed"}]}),
        returns=all_runs(JobStatus.FAIL),
        retried=True,
        refusal=BAD_TOKEN,
        raises=PandoraAuthError,
        variant="sdk",
    ),
    row(
        "aget_job_history",
        lambda h: h.aget_job_history("test_repo", "daily_job"),
        Req("GET", "/v2/repos/test_repo/jobs/daily_job/history", query={"page": "1", "size": "20"}),
        answer=(200, HISTORY),
        returns=all_runs(JobStatus.SUCCESS, JobStatus.FAIL),
        retried=True,
        refusal=JOB_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "查看历史任务": the newest run is the first record of a one-record page (our page size)
    row(
        "get_latest_job_run",
        lambda h: h.get_latest_job_run("test_repo", "daily_job"),
        Req("GET", "/v2/repos/test_repo/jobs/daily_job/history", query={"page": "1", "size": "1"}),
        answer=(200, HISTORY[1:]),
        returns=run_is(JobStatus.SUCCESS),
        retried=True,
        refusal=JOB_MISSING,
        raises=PandoraNotFoundError,
    ),
    row(
        "aget_latest_job_run",
        lambda h: h.aget_latest_job_run("test_repo", "daily_job"),
        Req("GET", "/v2/repos/test_repo/jobs/daily_job/history", query={"page": "1", "size": "1"}),
        answer=(200, HISTORY[:1]),
        returns=run_is(JobStatus.FAIL, "oom"),
        retried=True,
        refusal=JOB_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "查看历史任务": the wait looks at the newest run until it has ended (here at once)
    row(
        "wait_for_job_run",
        lambda h: h.wait_for_job_run("test_repo", "daily_job"),
        Req("GET", "/v2/repos/test_repo/jobs/daily_job/history", query={"page": "1", "size": "1"}),
        answer=(200, HISTORY[:1]),
        returns=run_is(JobStatus.FAIL, "oom"),
        retried=True,
        refusal=JOB_MISSING,  # not transient: the wait ends at once
        raises=PandoraNotFoundError,
    ),
    # ---- datasource schema ---------------------------------------------------------------------------------
    # seed-api.md "获取数据源schema": GET /v2/schemas with a JSON body {region, bucket, keyPrefix, fileType}
    row(
        "get_datasource_schema",
        lambda h: h.get_datasource_schema(bucket="logs", key_prefix="app/", file_type="json"),
        Req("GET", "/v2/schemas", json={"region": "nb", "bucket": "logs", "keyPrefix": "app/", "fileType": "json"}),
        answer=(200, {"schema": [{"key": "text", "valtype": "string"}]}),
        returns=[{"key": "text", "valtype": "string"}],
        retried=True,
        refusal=_error(400, "E18007: 请求实体格式非法"),
        raises=PandoraInvalidRequestError,
    ),
    # ---- Airflow's connection test -------------------------------------------------------------------------
    # seed-api.md "查询所有资源池": the cheapest signed call; a refusal is an answer, never an exception
    row(
        "test_connection",
        lambda h: h.test_connection(),
        Req("GET", "/v2/groups"),
        answer=(200, {"groups": [{"name": "g"}]}),
        returns=(True, f"Connected to {ENDPOINT} (1 groups visible)"),
        retried=True,
        refusal=BAD_TOKEN,
        refused_returns=lambda got: got[0] is False and got[1].startswith("Authentication failed (HTTP 401"),
    ),
    # ---- the base's generic calls --------------------------------------------------------------------------
    # seed-api.md "查看所有消息队列" through the generic call: GET retried
    row(
        "request",
        lambda h: h.request("GET", "/v2/repos"),
        Req("GET", "/v2/repos"),
        answer=(200, {"repos": []}),
        returns={"repos": []},
        retried=True,
        refusal=BAD_TOKEN,
        raises=PandoraAuthError,
    ),
    # seed-api.md "创建消息队列" through the generic call: a creating POST is not retried by default
    row(
        "request",
        lambda h: h.request("POST", "/v2/repos/r1", json_body={"region": "nb", "schema": PUSH_SCHEMA}),
        Req("POST", "/v2/repos/r1", json={"region": "nb", "schema": PUSH_SCHEMA}),
        returns={},
        retried=False,
        refusal=_error(409, "E18101: 仓库已经存在"),
        raises=PandoraAlreadyExistsError,
        variant="post",
    ),
    # seed-api.md "数据推送" through the generic call: raw body, the answer's X-Reqid returned
    row(
        "request_with_reqid",
        lambda h: h.request_with_reqid(
            "POST", "/v2/repos/r1/data", data=PUSH_LINE, headers={"Content-Type": "application/text"}
        ),
        Req("POST", "/v2/repos/r1/data", raw=PUSH_LINE, headers={"Content-Type": "application/text"}),
        returns=({}, reqid("/v2/repos/r1/data")),
        retried=False,
        refusal=REPO_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "查看历史任务" through the async generic call: query parameters, GET retried
    row(
        "arequest",
        lambda h: h.arequest("GET", "/v2/repos/r1/jobs/j1/history", params={"page": 1, "size": 20}),
        Req("GET", "/v2/repos/r1/jobs/j1/history", query={"page": "1", "size": "20"}),
        answer=(200, HISTORY),
        returns=HISTORY,
        retried=True,
        refusal=REPO_MISSING,
        raises=PandoraNotFoundError,
    ),
    # seed-api.md "启动/停止资源池" through the async generic call: a start action is retried
    row(
        "arequest",
        lambda h: h.arequest("POST", "/v2/groups/g1/actions/start"),
        Req("POST", "/v2/groups/g1/actions/start"),
        returns={},
        retried=True,
        refusal=GROUP_MISSING,
        raises=PandoraNotFoundError,
        variant="action",
    ),
]

#: Public methods with no row, and why: they send nothing of their own, or manage the clients.
NOT_API = {
    "group_status": "pure: reads a get_group answer",
    "make_token": "pure: signs a token locally (tests/unit/test_auth.py, test_hook_secrets.py)",
    "make_push_token": "pure: make_token for /v2/repos/<repo>/data",
    "get_conn": "returns the session the rows record through",
    "close": "closes the session",
    "aclose": "lets go of the shared async client",
    "is_retryable": "the transport's is_transient policy itself (tests/unit/test_transport.py)",
    "get_ui_field_behaviour": "Airflow 2 connection form (tests/unit/test_provider_info.py)",
    "get_connection_form_widgets": "Airflow 2 connection form (tests/unit/test_provider_info.py)",
}


# --------------------------------------------------------------------------------------------------------------
# The recording transports
# --------------------------------------------------------------------------------------------------------------
@dataclass
class Sent:
    """A request as it reached the transport."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


def _response_body(body: Any) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()


class Script:
    """The answers, in order, and the requests seen; shared by the sync and async transports."""

    def __init__(self, answers: Sequence[Answer]) -> None:
        self.answers = list(answers)
        self.sent: list[Sent] = []

    def next(self, sent: Sent) -> tuple[int, bytes, dict[str, str]]:
        self.sent.append(sent)
        assert self.answers, f"unexpected request {sent.method} {sent.path}"
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        status, body = answer
        return status, _response_body(body), {"Content-Type": "application/json", "X-Reqid": reqid(sent.path)}


class RecordingAdapter(requests.adapters.BaseAdapter):
    """A ``requests`` transport that records each prepared request and answers from a :class:`Script`."""

    def __init__(self, script: Script) -> None:
        super().__init__()
        self.script = script

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None, **kwargs: Any
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        body = request.body or b""
        status, content, headers = self.script.next(
            Sent(
                request.method or "",
                url.path,
                parse_qs(url.query),
                {k.lower(): v for k, v in request.headers.items()},
                body.encode() if isinstance(body, str) else bytes(body),  # type: ignore[arg-type]
            )
        )
        response = requests.Response()
        response.status_code = status
        response._content = content
        response.headers = CaseInsensitiveDict(headers)
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


def _async_handler(script: Script) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        status, content, headers = script.next(
            Sent(
                request.method,
                request.url.path,
                parse_qs(request.url.query.decode()),
                {k.lower(): v for k, v in request.headers.items()},
                request.read(),
            )
        )
        return httpx.Response(status, content=content, headers=headers)

    return handle


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Sequence[Answer]], tuple[PandoraHook, Script]]]:
    """A hook on a ``pandora`` connection whose sync and async transports answer from a script."""
    conn = {"conn_type": "pandora", "host": ENDPOINT, "login": ACCESS_KEY, "password": "SK-table"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    scripts: list[Script] = []
    real_client = httpx.AsyncClient

    def async_client(*args: Any, **kwargs: Any) -> httpx.AsyncClient:
        # The shared async client is built as in production (base URL, signing auth, headers); only its transport
        # is the script's.
        if str(kwargs.get("base_url", "")).rstrip("/") == ENDPOINT:
            kwargs["transport"] = httpx.MockTransport(_async_handler(scripts[-1]))
        return real_client(*args, **kwargs)

    monkeypatch.setattr(httpx, "AsyncClient", async_client)
    hooks: list[PandoraHook] = []

    def make(answers: Sequence[Answer]) -> tuple[PandoraHook, Script]:
        script = Script(answers)
        scripts.append(script)
        hook = PandoraHook(CONN_ID, retry_limit=3, retry_delay=0)
        hook.get_conn().mount(ENDPOINT, RecordingAdapter(script))
        hooks.append(hook)
        return hook, script

    yield make
    for hook in hooks:
        hook.close()


def call(row: Row, hook: PandoraHook) -> Any:
    """Run the row's call to its end (an async one on a fresh loop, letting go of the shared client after)."""
    if not row.is_async:
        return row.call(hook)

    async def run() -> Any:
        try:
            return await row.call(hook)
        finally:
            await hook.aclose()

    return asyncio.run(run())


def check_returns(expected: Any, got: Any) -> None:
    if callable(expected) and not isinstance(expected, type):
        assert expected(got), f"unexpected result {got!r}"
    else:
        assert got == expected


def check_sent(expected: Req, sent: Sent) -> None:
    assert (sent.method, sent.path) == (expected.method, expected.path)
    assert sent.query == {k: [v] for k, v in expected.query.items()}
    assert sent.headers.get("authorization", "").startswith(f"Pandora {ACCESS_KEY}:"), "the request is not signed"
    for name, value in expected.headers.items():
        assert sent.headers.get(name.lower()) == value, f"header {name}"
    body = sent.body
    if sent.headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    if expected.json is not None:
        assert sent.headers.get("content-type") == "application/json"
        assert json.loads(body) == expected.json
    elif expected.raw is not None:
        assert body == expected.raw
    else:
        assert body == b"", f"{expected.method} {expected.path} takes no body"


ROW_IDS = [r.id for r in ROWS]


def test_row_ids_are_unique():
    assert len(set(ROW_IDS)) == len(ROW_IDS)


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_request(row: Row, connect) -> None:
    """The call sends exactly the spec's requests and returns what the answers say."""
    hook, script = connect(row.answers)
    check_returns(row.returns, call(row, hook))
    assert len(script.sent) == len(row.sends)
    for expected, sent in zip(row.sends, script.sent, strict=True):
        check_sent(expected, sent)


def _transient(row: Row, kind: str) -> BaseException | Answer:
    if kind == "503":
        return BUSY
    return httpx.ConnectError("connection reset") if row.is_async else requests.ConnectionError("connection reset")


@pytest.mark.parametrize("kind", ["503", "connection error"])
@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_retry(row: Row, kind: str, connect) -> None:
    """A transient failure of the call's request is sent again exactly when the call is idempotent."""
    failure = _transient(row, kind)
    hook, script = connect([*row.answers[:-1], failure, row.answers[-1]])
    if row.retried:
        check_returns(row.returns, call(row, hook))
        assert [s.path for s in script.sent] == [r.path for r in (*row.sends, row.sends[-1])]
        check_sent(row.sends[-1], script.sent[-1])
    else:
        raised = PandoraServerError if kind == "503" else requests.ConnectionError
        with pytest.raises(raised):
            call(row, hook)
        assert len(script.sent) == len(row.sends), "a non-idempotent call was sent twice"


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_refusal(row: Row, connect) -> None:
    """The refusal becomes its E-code's exception (exceptions.py), carrying status, code and request id."""
    hook, script = connect([*row.answers[:-1], row.refusal])
    assert not isinstance(row.refusal, BaseException)
    status, body = row.refusal
    if row.raises is None:
        check_returns(row.refused_returns, call(row, hook))
    else:
        with pytest.raises(row.raises) as caught:
            call(row, hook)
        err = caught.value
        assert isinstance(err, PandoraApiError)
        assert err.status_code == status
        assert err.code == (body["error"].split(":")[0] if body["error"].startswith("E") else None)
        assert err.reqid == reqid(row.sends[-1].path)
    assert len(script.sent) == len(row.sends), "a refusal is final: never retried"


def _public_methods() -> set[str]:
    """Every public callable ``PandoraHook`` and ``PandoraBaseHook`` define (Airflow's BaseHook's are not ours)."""
    ours = [cls for cls in PandoraHook.__mro__ if issubclass(cls, PandoraBaseHook)]
    names = set()
    for cls in ours:
        for name, value in vars(cls).items():
            if name.startswith("_") or isinstance(value, (property, functools.cached_property)):
                continue
            if isinstance(value, (staticmethod, classmethod)) or inspect.isfunction(value):
                names.add(name)
    return names


def test_every_public_method_has_a_row():
    public = _public_methods()
    covered = {r.method for r in ROWS}
    assert public - covered - set(NOT_API) == set(), "a public hook method has no row (or no NOT_API entry)"
    assert set(NOT_API) <= public, f"stale NOT_API entries: {set(NOT_API) - public}"
    assert covered <= public, f"rows for methods the hook does not have: {covered - public}"
    assert not covered & set(NOT_API)


def test_async_twins_send_what_their_sync_methods_send():
    """Each ``aX`` row asks for what the ``X`` row asks for."""
    by_method = {r.method: r for r in ROWS if not r.variant}
    twins = [(name, name[1:]) for name, r in by_method.items() if r.is_async and name != "arequest"]
    assert len(twins) == 5
    for twin, sync in twins:
        assert by_method[twin].sends == by_method[sync].sends, twin
