"""Header field names are case-insensitive (RFC 9110 §5.1): every header the emulator reads, in three spellings.

Go's ``net/http`` canonicalises ``Content-MD5`` to ``Content-Md5``; HTTP/2 front ends and many clients send
names in lower case. Each request here is written with ``http.client`` so the names go out exactly as spelled.
"""

from __future__ import annotations

import gzip
import http.client
import json
from typing import Any

import pytest

from airflow_provider_pandora import auth
from airflow_provider_pandora.emulator.http.framing import Headers, Request
from airflow_provider_pandora.emulator.testing import PandoraEmulator
from tests.emulator.conftest import Api

SPELLINGS = {
    "Content-MD5": ["Content-MD5", "Content-Md5", "content-md5"],
    "Content-Encoding": ["Content-Encoding", "content-encoding", "CONTENT-ENCODING"],
    "Content-Type": ["Content-Type", "content-type", "CONTENT-TYPE"],
    "Authorization": ["Authorization", "authorization", "AUTHORIZATION"],
    "Content-Length": ["Content-Length", "content-length", "CONTENT-LENGTH"],
}


def send(
    emulator: PandoraEmulator,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes = b"",
    *,
    authorization_name: str = "Authorization",
    length_name: str = "Content-Length",
) -> tuple[int, dict[str, Any]]:
    """Sign, then send with the header names exactly as given; answer status and JSON body."""
    signed = auth.sign_headers(emulator.access_key, emulator.secret_key, method, emulator.url + path, headers)
    host, port = emulator.url.split("//", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=15)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.putheader("Date", signed["Date"])
        conn.putheader(authorization_name, signed["Authorization"])
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.putheader(length_name, str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else {}
    finally:
        conn.close()


@pytest.fixture
def repo(api: Api) -> str:
    api.repo("hdr", schema=[{"key": "s", "valtype": "string"}])
    return "hdr"


@pytest.mark.parametrize("name", SPELLINGS["Content-MD5"])
def test_content_md5_is_checked_in_every_spelling(pandora_emulator: PandoraEmulator, name: str) -> None:
    jar = b"PK\x03\x04 a jar"
    wrong = auth.content_md5(b"another jar")
    status, body = send(pandora_emulator, "POST", "/v2/plugins/wrongmd5", {name: wrong}, jar)
    assert status == 400
    assert body["error"].startswith("E18220:")
    status, body = send(pandora_emulator, "POST", "/v2/plugins/rightmd5", {name: auth.content_md5(jar)}, jar)
    assert (status, body) == (200, {})


@pytest.mark.parametrize("name", SPELLINGS["Content-Encoding"])
def test_content_encoding_gzip_in_every_spelling(pandora_emulator: PandoraEmulator, repo: str, name: str) -> None:
    body = gzip.compress(b"s=zipped\n")
    status, answer = send(
        pandora_emulator, "POST", f"/v2/repos/{repo}/data", {"Content-Type": "text/plain", name: "gzip"}, body
    )
    assert (status, answer) == (200, {})
    assert pandora_emulator.points(repo) == [{"s": "zipped"}]


@pytest.mark.parametrize("name", SPELLINGS["Content-Type"])
def test_content_type_of_a_push_in_every_spelling(pandora_emulator: PandoraEmulator, repo: str, name: str) -> None:
    status, answer = send(pandora_emulator, "POST", f"/v2/repos/{repo}/data", {name: "text/plain"}, b"s=typed\n")
    assert (status, answer) == (200, {})
    assert pandora_emulator.points(repo) == [{"s": "typed"}]
    status, answer = send(pandora_emulator, "POST", f"/v2/repos/{repo}/data", {name: "image/png"}, b"s=typed\n")
    assert status == 400
    assert answer["error"].startswith("E18007:")


@pytest.mark.parametrize("name", SPELLINGS["Authorization"])
def test_authorization_in_every_spelling(pandora_emulator: PandoraEmulator, repo: str, name: str) -> None:
    status, answer = send(pandora_emulator, "GET", f"/v2/repos/{repo}", {}, authorization_name=name)
    assert status == 200
    assert answer["name"] == repo


@pytest.mark.parametrize("name", SPELLINGS["Content-Length"])
def test_content_length_in_every_spelling(pandora_emulator: PandoraEmulator, repo: str, name: str) -> None:
    status, answer = send(
        pandora_emulator,
        "POST",
        f"/v2/repos/{repo}/data",
        {"Content-Type": "text/plain"},
        b"s=sized\n",
        length_name=name,
    )
    assert (status, answer) == (200, {})
    assert pandora_emulator.points(repo) == [{"s": "sized"}]


def test_request_headers_are_looked_up_case_insensitively() -> None:
    request = Request("POST", "/p", {}, {"content-md5": "abc", "X-Qiniu-Tag": "t"}, b"")
    assert request.header("Content-MD5") == "abc"
    assert request.header("CONTENT-MD5") == "abc"
    assert request.headers["x-qiniu-tag"] == "t"
    assert "Content-Md5" in request.headers
    assert request.header("Content-Type", "none") == "none"
    repeated = Headers([("X-A", "1"), ("x-a", "2")])
    assert (repeated["X-A"], repeated.get_all("X-a"), len(repeated), list(repeated)) == ("1", ["1", "2"], 1, ["X-A"])
