"""Auth edge cases through the hook, the async path and a trigger: clear errors, and no retry that cannot help.

``tests/integration/test_auth_edges.py`` checks the emulator's answers with raw requests (skew of 14/16 minutes,
token scope, expired and forged tokens) and one unretried 401. Here the same failures reach users' code:
the machine's clock just inside and outside the 15-minute window (the emulator's auth clock is moved, 2 s
from the edge), a wrong secret key, an unknown access key, tokens that expired a second ago or were tampered
with. The emulator answers each as the service does, ``401 {"error": "bad token"}``; each must raise
:class:`PandoraAuthError` with the hint about keys and clock, never leak the secret, and cost exactly one request
even with ``retry_limit=5``: a 401 never heals by itself. The emulator's reason (its request log, matched by
``X-Reqid``) shows the failure tested is the one meant.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import pytest
import requests

from airflow_provider_pandora import auth
from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.exceptions import PandoraAuthError
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.triggers.jobs import PandoraJobTrigger
from tests.hardening.conftest import request_count

pytestmark = pytest.mark.integration

WINDOW = auth.MAX_CLOCK_SKEW_SECONDS
SCHEMA = [{"key": "s", "valtype": "string"}]


def _hook(monkeypatch: pytest.MonkeyPatch, emulator: PandoraEmulator, conn_id: str, **change: str) -> PandoraHook:
    conn = json.loads(emulator.connection_json(retry_limit=5, retry_delay=0.01))
    conn.update(change)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return PandoraHook(conn_id)


def _skew(emulator: PandoraEmulator, seconds: float) -> None:
    """The server's clock runs ``seconds`` ahead of this machine's (the same as this clock lagging behind)."""
    emulator.server.engine.auth_clock = lambda: time.time() + seconds


def _reason(emulator: PandoraEmulator, reqid: str | None) -> str:
    """Why the emulator refused the request with this ``X-Reqid`` (its request log; the body says only "bad token")."""
    return next(str(e.get("reason")) for e in emulator.requests_log() if e["reqid"] == reqid)


def _assert_clear(err: PandoraAuthError, reason: str, emulator: PandoraEmulator, *secrets: str) -> None:
    assert err.status_code == 401
    assert err.code is None  # the service's 401 carries no E-code
    assert err.message == "bad token"
    assert err.hint
    assert "secret key" in err.hint
    assert "clock" in err.hint
    assert err.hint in str(err)
    assert err.reqid
    assert reason in _reason(emulator, err.reqid)
    for secret in secrets:
        assert secret not in str(err)


# Date carries whole seconds (up to 1 s behind the real time) and the window is "more than 900 s", so the
# edges are tested 2 s from them: 898 s apart is in, 902 s apart is out, whichever clock is ahead.
@pytest.mark.parametrize("skew", [WINDOW - 2, -(WINDOW - 2)])
def test_clock_just_inside_fifteen_minutes_works(
    pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch, skew: int
) -> None:
    _skew(pandora_emulator, skew)
    hook = _hook(monkeypatch, pandora_emulator, "pandora_skew_in")
    assert hook.list_repos() == []
    assert asyncio.run(_alist(hook)) == {"repos": []}


@pytest.mark.parametrize("skew", [WINDOW + 2, -(WINDOW + 2), 3600])
def test_clock_just_outside_fifteen_minutes_fails_once_and_says_so(
    pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch, skew: int
) -> None:
    _skew(pandora_emulator, skew)
    hook = _hook(monkeypatch, pandora_emulator, "pandora_skew_out")
    with pytest.raises(PandoraAuthError) as sync_err:
        hook.list_repos()
    _assert_clear(
        sync_err.value, "more than 15 minutes from the server's clock", pandora_emulator, pandora_emulator.secret_key
    )
    assert request_count(pandora_emulator, "/v2/repos") == 1
    with pytest.raises(PandoraAuthError) as async_err:
        asyncio.run(_alist(hook))
    _assert_clear(async_err.value, "15 minutes", pandora_emulator, pandora_emulator.secret_key)
    assert request_count(pandora_emulator, "/v2/repos") == 2


async def _alist(hook: PandoraHook) -> Any:
    async with hook:
        return await hook.arequest("GET", "/v2/repos")


def test_wrong_secret_key_fails_once_without_showing_either_key(
    pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "not-the-secret-but-still-secret"
    hook = _hook(monkeypatch, pandora_emulator, "pandora_wrong_sk", password=wrong)
    with pytest.raises(PandoraAuthError) as info:
        hook.get_repo("anything")  # a GET: idempotent, so retried on a 5xx, never on a 401
    _assert_clear(info.value, "signature does not match", pandora_emulator, wrong, pandora_emulator.secret_key)
    with pytest.raises(PandoraAuthError):
        hook.push_batch("anything", b"s=a\n", retry=True)  # a push that opted into retries: still once
    assert request_count(pandora_emulator) == 2
    ok, message = hook.test_connection()
    assert not ok
    assert "Authentication failed (HTTP 401): bad token. Check that the connection's access key" in message
    assert "clock" in message
    assert wrong not in message


def test_unknown_access_key_fails_once_on_the_async_path(
    pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = _hook(monkeypatch, pandora_emulator, "pandora_unknown_ak", login="AK-nobody-issued")
    with pytest.raises(PandoraAuthError) as info:
        asyncio.run(_alist(hook))
    _assert_clear(info.value, "unknown access key 'AK-nobody-issued'", pandora_emulator, pandora_emulator.secret_key)
    assert request_count(pandora_emulator) == 1


def test_a_trigger_with_bad_credentials_reports_an_error_after_one_poll(
    pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """401 is not transient: the trigger ends with an error event at once instead of polling five times."""
    _hook(monkeypatch, pandora_emulator, "pandora_trigger_bad", password="wrong-secret-for-trigger")
    trigger = PandoraJobTrigger("r", "j", pandora_conn_id="pandora_trigger_bad", poll_interval=0.01)

    async def events() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    fired = asyncio.run(events())
    assert [e["status"] for e in fired] == ["error"]
    assert "bad token" in fired[0]["message"]
    assert "clock" in fired[0]["message"]  # the hint about keys and clock reaches the task log
    assert "wrong-secret-for-trigger" not in fired[0]["message"]
    assert request_count(pandora_emulator) == 1


# ---- tokens ------------------------------------------------------------------------------------------
@pytest.fixture
def token_hook(pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch) -> PandoraHook:
    hook = _hook(monkeypatch, pandora_emulator, "pandora_tokens")
    hook.create_repo("tok", schema=SCHEMA)
    return hook


def _push(emulator: PandoraEmulator, token: str, method: str = "POST") -> requests.Response:
    return requests.request(
        method,
        f"{emulator.url}/v2/repos/tok/data",
        data=b"s=a\n",
        headers={"Authorization": token, "Content-Type": "application/text"},
        timeout=10,
    )


def test_token_works_until_the_second_it_expires(token_hook: PandoraHook, pandora_emulator: PandoraEmulator) -> None:
    token = token_hook.make_push_token("tok", expires_in=600)
    _skew(pandora_emulator, 600 - 2)  # the server is almost at the expiry
    assert _push(pandora_emulator, token).status_code == 200
    _skew(pandora_emulator, 600 + 2)  # ...and just past it: no sleeping in the test
    expired = _push(pandora_emulator, token)
    assert expired.status_code == 401
    assert expired.json() == {"error": "bad token"}
    assert expired.headers["X-Emulator-Reason"] == "token expired"
    assert len(pandora_emulator.points("tok")) == 1


def _tamper(token: str, part: str) -> str:
    scheme_ak, sign, desc = token.split(":")
    if part == "sign":
        return f"{scheme_ak}:{sign[:-2]}{'A' if sign[-2] != 'A' else 'B'}=:{desc}"
    data = json.loads(base64.urlsafe_b64decode(desc))
    if part == "resource":
        data["resource"] = "/v2/repos/other/data"
    elif part == "expires":
        data["expires"] += 10**6
    elif part == "method":
        data["method"] = "PUT"
    return f"{scheme_ak}:{sign}:{auth.b64url(json.dumps(data, separators=(',', ':')).encode())}"


@pytest.mark.parametrize("part", ["sign", "resource", "expires", "method"])
def test_tampered_tokens_are_refused_as_forged(
    token_hook: PandoraHook, pandora_emulator: PandoraEmulator, part: str
) -> None:
    forged = _tamper(token_hook.make_push_token("tok", expires_in=600), part)
    answer = _push(pandora_emulator, forged)
    assert answer.status_code == 401
    assert answer.json() == {"error": "bad token"}
    assert answer.headers["X-Emulator-Reason"] == "token signature does not match"
    assert pandora_emulator.points("tok") == []


def test_a_token_used_for_another_method_is_refused(token_hook: PandoraHook, pandora_emulator: PandoraEmulator) -> None:
    token = token_hook.make_push_token("tok", expires_in=600)
    answer = _push(pandora_emulator, token, method="PUT")
    assert answer.status_code == 401
    assert answer.json() == {"error": "bad token"}
    assert "does not grant this method and resource" in answer.headers["X-Emulator-Reason"]


def test_minting_a_token_that_is_already_expired_is_refused_locally(token_hook: PandoraHook) -> None:
    with pytest.raises(ValueError, match="in the past"):
        token_hook.make_push_token("tok", expires_in=-1)
