"""The secret key and minted tokens never reach a repr, an exception or an unredacted log line."""

from __future__ import annotations

import json
import logging

import pytest
from airflow.providers.common.compat.sdk import redact

from airflow_provider_pandora.hooks.pandora import PandoraHook

SECRET = "SK-recognisable-7f3e9a1b2c4d"


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> PandoraHook:
    conn = {"conn_type": "pandora", "host": "http://127.0.0.1:9", "login": "AK-visible", "password": SECRET}
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_SECRETS", json.dumps(conn))
    return PandoraHook("pandora_secrets", retry_limit=1)


def test_config_and_hook_reprs_hide_the_secret_key(hook: PandoraHook):
    assert SECRET not in repr(hook)
    assert SECRET not in repr(hook.config)
    assert hook.config.secret_key == SECRET


def test_minted_tokens_are_registered_with_the_masker(hook: PandoraHook):
    token = hook.make_push_token("repo_a", expires_in=60)
    line = f"handing {token} to the partner"
    assert token not in str(redact(line))
    assert SECRET not in token


def test_connection_failure_message_has_no_secret(hook: PandoraHook, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    ok, message = hook.test_connection()
    assert not ok
    assert "Could not reach" in message
    assert SECRET not in message
    assert SECRET not in caplog.text
