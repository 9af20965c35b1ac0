"""Signing and tokens against the independent vectors of the official SDKs (docs/sdk-facts.md §1).

The vectors were computed from the Go algorithm and cross-checked with the Java SDK; they are
copied here so the test never depends on our own emulator agreeing with our own client.
"""

from __future__ import annotations

import time

import httpx
import pytest
import requests

from airflow_provider_pandora import auth
from airflow_provider_pandora.hooks._transport import PandoraAuth, httpx_auth

DATE = "Thu, 01 Jun 2017 08:00:00 GMT"

VECTORS = [
    # (method, path, content_type, content_md5, headers, string_to_sign, authorization)
    (
        "GET",
        "/v2/repos",
        "",
        "",
        {},
        "GET\n\n\nThu, 01 Jun 2017 08:00:00 GMT\n/v2/repos",
        "Pandora ak:V99-jl7J4r0y58krNFPkXgVXz_Y=",
    ),
    (
        "POST",
        "/v2/repos/test_repo/data",
        "text/plain",
        "",
        {},
        "POST\n\ntext/plain\nThu, 01 Jun 2017 08:00:00 GMT\n/v2/repos/test_repo/data",
        "Pandora ak:KpbOMP47BY_VFX6ABttO93KbOIU=",
    ),
    (
        "POST",
        "/v2/repos/test_repo",
        "application/json",
        "",
        {},
        "POST\n\napplication/json\nThu, 01 Jun 2017 08:00:00 GMT\n/v2/repos/test_repo",
        "Pandora ak:Td7AsYOTuIS_TkNP25-Cyxgj20A=",
    ),
    (
        "POST",
        "/v2/plugins/com.qiniu.MyParser",
        "application/java-archive",
        "gLL29S04bTCxYd2kCqsEIQ==",
        {},
        "POST\ngLL29S04bTCxYd2kCqsEIQ==\napplication/java-archive\nThu, 01 Jun 2017 08:00:00 GMT\n"
        "/v2/plugins/com.qiniu.MyParser",
        "Pandora ak:sbzY7wcSvkB6AlAkk703GfiRNH4=",
    ),
    (
        "PUT",
        "/v2/groups/g1",
        "application/json",
        "",
        {"X-Qiniu-Zeta": "z", "X-Qiniu-Alpha": "a b"},
        "PUT\n\napplication/json\nThu, 01 Jun 2017 08:00:00 GMT\n\nx-qiniu-alpha:a b\nx-qiniu-zeta:z/v2/groups/g1",
        "Pandora ak:-PwdKbCM65nMIcqVQiq-ATayCK0=",
    ),
]
TOKEN_EXAMPLE = (
    "Pandora ak:UI18ux_2AjNGh6nzjXt9oWjrBbw=:eyJyZXNvdXJjZSI6Ii92Mi9yZXBvcy90ZXN0X3JlcG8vZGF0YSIsImV4cGlyZXMiOjQxMDI0ND"
    "Q4MDAsImNvbnRlbnRNRDUiOiIiLCJjb250ZW50VHlwZSI6InRleHQvcGxhaW4iLCJoZWFkZXJzIjoiIiwibWV0aG9kIjoiUE9TVCJ9"
)


@pytest.mark.parametrize(("method", "path", "ctype", "md5", "headers", "expected_sts", "expected_auth"), VECTORS)
def test_sdk_vectors(method, path, ctype, md5, headers, expected_sts, expected_auth):
    sts = auth.string_to_sign(method, path, date=DATE, content_type=ctype, content_md5=md5, headers=headers)
    assert sts == expected_sts
    value = auth.authorization(
        "ak", "sk", method, path, date=DATE, content_type=ctype, content_md5=md5, headers=headers
    )
    assert value == expected_auth
    assert len(value.split(":")[1]) == 28
    assert value.endswith("=")


def test_content_md5_is_base64_of_raw_digest_not_hex():
    assert auth.content_md5(b"qiniu") == "gLL29S04bTCxYd2kCqsEIQ=="


def test_http_date_is_rfc1123_gmt():
    assert auth.http_date(1496304000) == DATE
    assert auth.parse_http_date(DATE) == 1496304000


def test_qiniu_headers_are_canonicalised_and_others_ignored():
    headers = {
        "x-qiniu-zeta": "z",
        "X-QINIU-ALPHA": "a b",
        "X-Qiniu-": "ignored",
        "User-Agent": "ua",
        "Content-Encoding": "gzip",
    }
    assert auth.canonical_qiniu_headers(headers) == "\nx-qiniu-alpha:a b\nx-qiniu-zeta:z"


def test_token_matches_sdk_example(monkeypatch):
    token = auth.make_token(
        "ak", "sk", resource="/v2/repos/test_repo/data", method="POST", expires=4102444800, content_type="text/plain"
    )
    assert token == TOKEN_EXAMPLE


def test_token_verification_accepts_and_refuses():
    parsed = auth.parse_authorization(TOKEN_EXAMPLE)
    assert parsed.is_token
    assert parsed.access_key == "ak"
    auth.verify_token(parsed, "sk", method="POST", path="/v2/repos/test_repo/data", now=time.time())
    with pytest.raises(ValueError, match="signature"):
        auth.verify_token(parsed, "other-sk", method="POST", path="/v2/repos/test_repo/data", now=time.time())
    with pytest.raises(ValueError, match="expired"):
        auth.verify_token(parsed, "sk", method="POST", path="/v2/repos/test_repo/data", now=4102444801)
    with pytest.raises(ValueError, match="grant"):
        auth.verify_token(parsed, "sk", method="POST", path="/v2/repos/other/data", now=time.time())
    tampered = auth.parse_authorization(TOKEN_EXAMPLE[:-3] + "fQ==")
    with pytest.raises(ValueError):
        auth.verify_token(tampered, "sk", method="POST", path="/v2/repos/test_repo/data", now=time.time())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"resource": "v2/x", "expires": 4102444800}, "path"),
        ({"resource": "/v2/x", "expires": 4102444800, "method": "PATCH"}, "method"),
        ({"resource": "/v2/x", "expires": 1}, "past"),
    ],
)
def test_make_token_refuses_what_the_go_sdk_refuses(kwargs, message):
    with pytest.raises(ValueError, match=message):
        auth.make_token("ak", "sk", **kwargs)


@pytest.mark.parametrize("header", [None, "", "Bearer x", "Pandora ", "Pandora ak", "Pandora ak:", "Pandora a:b:c:d"])
def test_parse_authorization_rejects_malformed(header):
    with pytest.raises(ValueError):
        auth.parse_authorization(header)


def test_requests_adapter_signs_path_without_query_and_keeps_date():
    prepared = requests.Request(
        "POST",
        "http://127.0.0.1:1/v2/repos/test_repo/data?tags=",
        data=b"a=1\n",
        headers={"Content-Type": "text/plain", "Date": DATE},
    ).prepare()
    pandora = PandoraAuth("ak", "sk")
    # A pre-set Date is replaced by a fresh one (retries must not reuse a stale date) ...
    signed = pandora(prepared)
    assert signed.headers["Date"] != DATE or time.time() < 1496304000 + 60
    # ... and the signature covers exactly what the vector says for that date.
    expected = auth.sign_headers(
        "ak",
        "sk",
        "POST",
        "http://h/v2/repos/test_repo/data",
        {"Content-Type": "text/plain"},
        now=auth.parse_http_date(signed.headers["Date"]),
    )
    assert signed.headers["Authorization"] == expected["Authorization"]
    assert "sk" not in repr(pandora).replace("secret_key", "")


def test_httpx_adapter_produces_the_same_signature_as_requests():
    request = httpx.Request("GET", "http://127.0.0.1:1/v2/repos?withDag=true")
    flow = httpx_auth("ak", "sk").auth_flow(request)
    signed = next(flow)
    date = signed.headers["Date"]
    assert signed.headers["Authorization"] == auth.authorization("ak", "sk", "GET", "/v2/repos", date=date)
