"""Auth edge cases over real HTTP: clock skew, tokens, wrong keys; clear 401s and no useless retries."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import requests

from airflow_provider_pandora import auth
from airflow_provider_pandora.exceptions import PandoraAuthError
from airflow_provider_pandora.hooks.pandora import PandoraHook

SCHEMA = [{"key": "s", "valtype": "string"}]


def _get(
    emulator: Any, path: str, *, skew: float = 0.0, ak: str | None = None, sk: str | None = None
) -> requests.Response:
    url = f"{emulator.url}{path}"
    headers = auth.sign_headers(
        ak or emulator.access_key, sk or emulator.secret_key, "GET", url, {}, now=time.time() + skew
    )
    return requests.get(url, headers=headers, timeout=10)


@pytest.mark.parametrize(("skew", "status"), [(-14 * 60, 200), (14 * 60, 200), (-16 * 60, 401), (16 * 60, 401)])
def test_date_skew_limit_is_fifteen_minutes(pandora_emulator: Any, skew: float, status: int):
    response = _get(pandora_emulator, "/v2/repos", skew=skew)
    assert response.status_code == status
    assert response.headers["X-Reqid"]
    if status == 401:
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json() == {"error": "bad token"}  # the service's documented 401, no E-code


def test_unknown_access_key_and_wrong_secret_are_401(pandora_emulator: Any):
    assert _get(pandora_emulator, "/v2/repos", ak="nobody-knows-me").status_code == 401
    assert _get(pandora_emulator, "/v2/repos", sk="not-the-secret").status_code == 401


def test_missing_or_malformed_authorization_is_401(pandora_emulator: Any):
    url = f"{pandora_emulator.url}/v2/repos"
    assert requests.get(url, timeout=10).status_code == 401
    headers = {"Date": auth.http_date(), "Authorization": "Bearer abc"}
    assert requests.get(url, headers=headers, timeout=10).status_code == 401


@pytest.fixture
def repo(monkeypatch: pytest.MonkeyPatch, pandora_emulator: Any) -> PandoraHook:
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_AUTH", pandora_emulator.connection_json())
    hook = PandoraHook("pandora_auth")
    hook.create_repo("tok_repo", schema=SCHEMA)
    return hook


def _push_with(emulator: Any, token: str, path: str = "/v2/repos/tok_repo/data") -> requests.Response:
    headers = {"Authorization": token, "Content-Type": "application/text"}
    return requests.post(f"{emulator.url}{path}", data=b"s=hello\n", headers=headers, timeout=10)


def test_minted_push_token_lets_a_third_party_push_and_nothing_else(repo: PandoraHook, pandora_emulator: Any):
    token = repo.make_push_token("tok_repo", expires_in=60)
    assert _push_with(pandora_emulator, token).status_code == 200
    assert pandora_emulator.points("tok_repo") == [{"s": "hello"}]
    # the token is bound to its resource and method
    assert _push_with(pandora_emulator, token, "/v2/repos/other_repo/data").status_code == 401
    read = requests.get(f"{pandora_emulator.url}/v2/repos/tok_repo", headers={"Authorization": token}, timeout=10)
    assert read.status_code == 401


def test_expired_and_tampered_tokens_are_refused(repo: PandoraHook, pandora_emulator: Any):
    expired = auth.make_token(
        pandora_emulator.access_key,
        pandora_emulator.secret_key,
        resource="/v2/repos/tok_repo/data",
        expires=int(time.time()) + 1,
    )
    time.sleep(1.2)
    assert _push_with(pandora_emulator, expired).status_code == 401

    good = repo.make_push_token("tok_repo", expires_in=60)
    scheme_ak, sign, desc = good.split(":")
    data = json.loads(base64.urlsafe_b64decode(desc))
    data["deadline" if "deadline" in data else "expires"] = int(time.time()) + 10**6
    forged = auth.b64url(json.dumps(data).encode())
    assert _push_with(pandora_emulator, f"{scheme_ak}:{sign}:{forged}").status_code == 401
    assert pandora_emulator.points("tok_repo") == []


def test_hook_does_not_retry_a_401(monkeypatch: pytest.MonkeyPatch, pandora_emulator: Any):
    conn = json.loads(pandora_emulator.connection_json(retry_limit=5, retry_delay=0.01))
    conn["login"] = "unknown-ak"
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_BADAK", json.dumps(conn))
    with pytest.raises(PandoraAuthError) as info:
        PandoraHook("pandora_badak").list_repos()
    assert "clock" in (info.value.hint or "")
    assert len([r for r in pandora_emulator.requests_log() if r["path"] == "/v2/repos"]) == 1
