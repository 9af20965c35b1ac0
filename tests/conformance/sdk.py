"""The two official SDKs' requests, byte for byte where it matters, sent with ``http.client``.

``http.client`` puts every header line on the wire as written here, so names keep the SDK's spelling (Go
canonicalises ``Content-MD5`` to ``Content-Md5``) and nothing is added behind our back. Where each line comes
from (``<sdk>:<file>:<line>``; files and commits in :data:`~tests.conformance.seed.SOURCES`):

* Go: ``base/request/request.go:227`` ``build()`` sets the call's headers (``Content-Type`` from
  ``base/const.go:91-93``), then ``Date`` in ``http.TimeFormat`` (:232), ``Content-Md5`` when the call enables it
  (:132-149, standard base64 of the digest), then ``Authorization: Pandora <ak>:<sign>`` (``base/sign.go:19-25``,
  string-to-sign :75-86, path only) or a token verbatim (:240); ``net/http`` adds ``Host``, ``User-Agent:
  Go-http-client/1.1``, ``Content-Length`` (``0`` on a body-less POST/PUT) and ``Accept-Encoding: gzip``.
  JSON bodies are ``json.Marshal`` of the input struct (:163), compact, in struct field order.
* Java: ``common/PandoraClientImpl.java:38`` (POST) and :52 (GET) put ``Content-Type`` and ``Date`` (:62) in the
  header map, sign it (``util/Auth.java:53``, same string-to-sign, ``X-Pandora-*`` headers instead) and add
  ``Authorization``; ``http/Client.java:98`` adds its ``User-Agent``; OkHttp adds ``Content-Length``, ``Host``,
  ``Connection`` and ``Accept-Encoding``.
* What both read back: Go takes the request id from ``X-Reqid`` and parses an error body only when
  ``Content-Type`` is exactly ``application/json`` (``base/request/request.go:285-292``); Java reads ``error``
  only from a JSON answer that carries ``X-Reqid`` (``http/Response.java:71-78``).
"""

from __future__ import annotations

import gzip
import http.client
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.conformance.points import go_body
from tests.conformance.seed import seed_error_statuses
from tests.conformance.signer import authorization, content_md5, go_canonical, http_date

JSON = "application/json"
TEXT = "text/plain"
JAR = "application/java-archive"

#: The seed's error table: code -> HTTP status (docs/seed-api.md, 错误代码及相关说明).
SEED_STATUS = seed_error_statuses()


@dataclass
class Answer:
    """What came back (status, header lines as received, body) and what was sent (header lines, body)."""

    status: int
    header_lines: list[tuple[str, str]]
    body: bytes
    sent: list[tuple[str, str]] = field(default_factory=list)
    sent_body: bytes = b""

    def header(self, name: str) -> str | None:
        """A header's value, its name matched in any case (as both SDKs look them up)."""
        return next((v for k, v in self.header_lines if k.lower() == name.lower()), None)

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.header_lines}, {self.body[:300]!r})"


def send(base_url: str, method: str, target: str, lines: list[tuple[str, str]], body: bytes | None) -> Answer:
    """One request with exactly these header lines (in this order and spelling) and this body."""
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in lines:
            conn.putheader(name, value)
        conn.endheaders(body if body else None)
        response = conn.getresponse()
        data = response.read()
        header_lines = response.getheaders()
    finally:
        conn.close()
    answer = Answer(response.status, header_lines, data, lines, body or b"")
    if (answer.header("Content-Encoding") or "").lower() == "gzip":
        answer.body = gzip.decompress(data)
    return answer


def marshal(payload: Any) -> bytes:
    """Go's ``json.Marshal`` of an input struct written as a dict in field order (nested maps already sorted)."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode("utf-8")


# ---- the documented answers --------------------------------------------------------------------------------
def check_ok(answer: Answer) -> Any:
    """seed-api.md "API返回内容": 200, data (if any) as JSON; plus the ``X-Reqid`` both SDKs read. Returns the data."""
    assert answer.status == 200, answer
    assert answer.header("X-Reqid"), f"no X-Reqid: {answer}"
    if not answer.body.strip():
        return None
    assert answer.header("Content-Type") == JSON, answer
    return answer.json()


def check_error(answer: Answer, code: str) -> str:
    """seed-api.md: ``{"error": "<errMsg>"}`` with the table's status for ``code``; the message starts with the code
    (docs/sdk-facts.md §4, Go splits it off the first 6 characters); ``Content-Type`` exactly ``application/json``
    and an ``X-Reqid``, or neither SDK reads the error. Codes the seed's table lacks only need a 4xx. Returns
    the message."""
    expected = SEED_STATUS.get(code)
    if expected is not None:
        assert answer.status == expected, f"{code}: seed says {expected}, got {answer}"
    else:
        assert 400 <= answer.status < 500, answer
    assert answer.header("Content-Type") == JSON, answer
    assert answer.header("X-Reqid"), answer
    body = answer.json()
    assert isinstance(body, dict), answer
    assert set(body) == {"error"}, answer
    message = body["error"]
    assert isinstance(message, str), answer
    assert message[:6].split(":")[0] == code, f"expected {code}: {answer}"
    assert message.startswith(f"{code}: "), answer
    assert len(message) > len(code) + 2, answer
    return message


# ---- the clients ---------------------------------------------------------------------------------------------
class GoSdk:
    """Requests as ``qiniu/pandora-go-sdk`` builds them (``base/request/request.go``)."""

    USER_AGENT = "Go-http-client/1.1"

    def __init__(self, base_url: str, access_key: str, secret_key: str) -> None:
        self.base_url = base_url
        self.access_key = access_key
        self.secret_key = secret_key
        self.host = urlsplit(base_url).netloc

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        content_type: str | None = None,
        md5: bool = False,
        md5_of: bytes | None = None,
        token: str | None = None,
        date: str | None = None,
        gzip_body: bool = False,
        content_encoding: str | None = None,
    ) -> Answer:
        """One request: ``path`` may carry a query, which is sent but never signed. ``md5`` adds Content-MD5 as
        ``EnableContentMD5d`` does; ``md5_of`` gives it for other bytes (what a corrupted upload looks like);
        ``gzip_body`` is ``Config.Gzip`` on a push (request.go:186: the body gzipped, ``Content-Encoding: gzip``,
        not signed); ``content_encoding`` only names one (for a body that is not what it says)."""
        headers: dict[str, str] = {}
        if gzip_body and body is not None:
            body = gzip.compress(body)
            content_encoding = "gzip"
        if content_encoding is not None:
            headers["Content-Encoding"] = content_encoding
        if content_type is not None:
            headers["Content-Type"] = content_type
        headers["Date"] = date or http_date()
        if (md5 or md5_of is not None) and body is not None:
            headers[go_canonical("Content-MD5")] = content_md5(body if md5_of is None else md5_of)
        headers["Authorization"] = token or authorization(self.access_key, self.secret_key, method, path, headers)
        lines = [("Host", self.host), ("User-Agent", self.USER_AGENT)]
        if body or method in ("POST", "PUT"):
            lines.append(("Content-Length", str(len(body or b""))))
        lines += sorted(headers.items())
        lines.append(("Accept-Encoding", "gzip"))
        return send(self.base_url, method, path, lines, body)

    def json(self, method: str, path: str, payload: Any) -> Answer:
        """``SetVariantBody`` then ``Content-Type: application/json``: every JSON call of ``pipeline/api.go``."""
        return self.call(method, path, marshal(payload), content_type=JSON)

    # ---- setup steps, each itself a replay of the SDK call named -----------------------------------------
    def create_group(self, name: str, **extra: Any) -> None:
        """``CreateGroup`` (pipeline/api.go:15): ``CreateGroupInput`` (pipeline/models.go:176)."""
        check_ok(self.json("POST", f"/v2/groups/{name}", {"region": "nb", "container": container(), **extra}))

    def create_repo(self, name: str, schema: list[dict[str, Any]], group: str = "") -> None:
        """``CreateRepo`` (pipeline/api.go:74): ``CreateRepoInput`` (pipeline/models.go:525) has an untagged
        ``RepoName`` field, so Go sends it as a JSON key; ``group`` has no omitempty."""
        check_ok(self.json("POST", f"/v2/repos/{name}", repo_body(name, schema, group)))

    def push(self, repo: str, points: list[list[tuple[str, Any]]]) -> Answer:
        """``PostData`` (pipeline/api.go:273): ``Points.Buffer()`` as ``text/plain``."""
        return self.call("POST", f"/v2/repos/{repo}/data", go_body(points), content_type=TEXT)

    def create_transform(self, repo: str, name: str, dest: str, spec: dict[str, Any]) -> None:
        """``CreateTransform`` (pipeline/api.go:458): the body is the ``TransformSpec`` (pipeline/models.go:785)."""
        check_ok(self.json("POST", f"/v2/repos/{repo}/transforms/{name}/to/{dest}", spec))

    def create_export(self, repo: str, name: str, etype: str, spec: dict[str, Any]) -> None:
        """``CreateExport`` (pipeline/api.go:503): ``{"type", "spec"}``, ``whence`` omitted when empty."""
        check_ok(self.json("POST", f"/v2/repos/{repo}/exports/{name}", {"type": etype, "spec": spec}))


class JavaSdk:
    """Requests as ``qiniu/pandora-java-sdk`` builds them (``PandoraClientImpl`` over OkHttp)."""

    USER_AGENT = "QiniuPandoraJava/1.0.0 (Linux amd64 6.1.0) Java/1.8.0_292"

    def __init__(self, base_url: str, access_key: str, secret_key: str) -> None:
        self.base_url = base_url
        self.access_key = access_key
        self.secret_key = secret_key
        self.host = urlsplit(base_url).netloc

    def _send(self, method: str, path: str, signed: dict[str, str], body: bytes | None) -> Answer:
        signed["Authorization"] = authorization(self.access_key, self.secret_key, method, path, signed)
        lines = [*signed.items(), ("User-Agent", self.USER_AGENT)]
        if body is not None:
            lines.append(("Content-Length", str(len(body))))
        lines += [("Host", self.host), ("Connection", "Keep-Alive"), ("Accept-Encoding", "gzip")]
        return send(self.base_url, method, path, lines, body)

    def post(self, path: str, body: bytes, content_type: str) -> Answer:
        """``PandoraClientImpl.post`` (common/PandoraClientImpl.java:38): Content-Type and Date signed, no MD5."""
        return self._send("POST", path, {"Content-Type": content_type, "Date": http_date()}, body)

    def get(self, path: str) -> Answer:
        """``PandoraClientImpl.get`` (common/PandoraClientImpl.java:52): Date signed, no Content-Type."""
        return self._send("GET", path, {"Date": http_date()}, None)

    def json(self, path: str, payload: Any) -> Answer:
        """``Json.encode`` (Gson: compact, nulls left out) posted as ``Client.JsonMime`` (http/Client.java:29)."""
        body = json.dumps({k: v for k, v in payload.items() if v is not None}, separators=(",", ":"))
        return self.post(path, body.encode("utf-8"), JSON)


# ---- bodies shared by several cases --------------------------------------------------------------------------
def container(ctype: str = "M16C4", count: int = 1) -> dict[str, Any]:
    """``Container`` (pipeline/models.go:158): ``status`` is omitempty, so two keys."""
    return {"type": ctype, "count": count}


def entry(key: str, valtype: str, required: bool = False, **extra: Any) -> dict[str, Any]:
    """``RepoSchemaEntry`` (pipeline/models.go:263): ``elemtype`` and ``schema`` only when set."""
    return {"key": key, "valtype": valtype, "required": required, **extra}


def repo_body(name: str, schema: list[dict[str, Any]], group: str = "") -> dict[str, Any]:
    """``CreateRepoInput`` as Go marshals it (pipeline/models.go:525)."""
    return {"RepoName": name, "region": "nb", "schema": schema, "group": group}
