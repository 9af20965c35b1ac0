"""Refused credentials, as both SDKs read them: 401 ``{"error": "bad token"}`` (docs/sdk-facts.md §1.3).

Go maps any 401 without a known code to ``UnauthorizedError`` and reads the body only as ``application/json``
(base/request/request.go:292); Java needs ``X-Reqid`` to read it (http/Response.java:78).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conformance.sdk import Answer, GoSdk, JavaSdk, check_ok
from tests.conformance.signer import http_date


def _refused(answer: Answer) -> None:
    assert answer.status == 401, answer
    assert answer.header("Content-Type") == "application/json", answer
    assert answer.header("X-Reqid"), answer
    assert answer.json() == {"error": "bad token"}


def test_a_wrong_secret_key_an_unknown_access_key_and_a_skewed_clock_are_401(go: GoSdk, java: JavaSdk) -> None:
    check_ok(go.call("GET", "/v2/repos"))
    check_ok(java.get("/v2/repos"))
    _refused(GoSdk(go.base_url, go.access_key, "not-the-secret").call("GET", "/v2/repos"))
    _refused(JavaSdk(java.base_url, "unknown-ak", java.secret_key).get("/v2/repos"))
    # the docs allow 15 minutes of clock skew
    _refused(go.call("GET", "/v2/repos", date=http_date(datetime.now(UTC) - timedelta(minutes=20))))
    check_ok(go.call("GET", "/v2/repos", date=http_date(datetime.now(UTC) - timedelta(minutes=10))))
