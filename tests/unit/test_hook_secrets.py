"""The secret key and minted tokens never reach a repr, an exception or an unredacted log line; short extras
are not handed to Airflow's masker."""

from __future__ import annotations

import importlib
import json
import logging
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import Connection, redact

from airflow_provider_pandora.get_provider_info import get_provider_info
from airflow_provider_pandora.hooks._connection import (
    _MASKER_MODULES,
    PandoraConnectionConfig,
    aconnection_extra,
    connection_extra,
)
from airflow_provider_pandora.hooks.kodo import KodoConnectionConfig
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


def _masker_class() -> Any:
    """The class of the masker Airflow's ``mask_secret`` uses on this line (where ``_connection`` looks too)."""
    for name in _MASKER_MODULES:
        try:
            return importlib.import_module(name).SecretsMasker
        except ImportError:
            continue
    raise AssertionError("no Airflow secrets masker")


#: Airflow 3's masker skips (and warns once about) secrets under 5 characters; 2.x's has no minimum.
WARNS_SHORT = hasattr(_masker_class(), "_has_warned_short_secret")


def _reset_short_secret_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    """The warning comes once per process; let this test see it again."""
    if WARNS_SHORT:
        monkeypatch.setattr(_masker_class(), "_has_warned_short_secret", False)


SHORT = "Skipping masking for a secret as it's too short"
TOKEN = "tok-3c9d1e7a55"  # an extra under a sensitive name: masked, as Airflow's extra_dejson would


def _form_defaults() -> dict[str, Any]:
    """The extras Airflow 3's connection form saves when nothing is changed: the declared defaults."""
    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    return {name: f["schema"]["default"] for name, f in fields.items() if f["schema"].get("default") is not None}


def test_the_documented_connection_logs_no_short_secret_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    """The README's connection and the form's defaults reach Airflow's own masker with nothing under 5 characters.

    (Airflow 3.1+ hands every extra to its masker whenever a connection is read, ours or not, and warns once per
    process about any value shorter than 5 characters: ``"region": "nb"`` did, in every task log.)
    """
    extra = {**_form_defaults(), "timeout": 30, "api_token": TOKEN}
    conn = {"conn_type": "pandora", "host": "http://127.0.0.1:9", "login": "AK", "password": SECRET, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_SHORT_EXTRAS", json.dumps(conn))
    _reset_short_secret_warning(monkeypatch)
    caplog.set_level(logging.DEBUG)

    config = PandoraHook("short_extras").config

    assert config.region == "nb"
    assert SHORT not in caplog.text
    assert TOKEN not in str(redact(f"calling with {TOKEN}"))


@pytest.mark.parametrize("parse", [PandoraConnectionConfig.from_connection, KodoConnectionConfig.from_connection])
def test_our_extras_parsing_hands_no_short_value_to_the_masker(
    parse, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    extra = {"region": "nb", "verify": "no", "addressing_style": "path", "api_token": TOKEN}
    conn = Connection(
        conn_id="short_extras", conn_type="pandora", host="http://127.0.0.1:9", login="AK", password=SECRET,
        extra=json.dumps(extra),
    )  # fmt: skip
    _reset_short_secret_warning(monkeypatch)
    caplog.set_level(logging.DEBUG)

    assert parse(conn).verify is False
    assert SHORT not in caplog.text
    assert TOKEN not in str(redact(f"calling with {TOKEN}"))
    if WARNS_SHORT:  # what Airflow 3's extra_dejson, which the hooks used, does with the same extras
        assert conn.extra_dejson == extra
        assert SHORT in caplog.text


async def test_async_extras_parsing_hands_no_short_value_to_the_masker(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    extra = {"region": "nb", "nested": [{"password": "pw-7f3e9a1b2c"}]}
    conn = Connection(conn_id="short_extras", conn_type="pandora", login="AK", password=SECRET, extra=json.dumps(extra))
    _reset_short_secret_warning(monkeypatch)
    caplog.set_level(logging.DEBUG)

    assert await aconnection_extra(conn) == extra
    assert SHORT not in caplog.text
    assert "pw-7f3e9a1b2c" not in str(redact("pw-7f3e9a1b2c"))


@pytest.mark.parametrize("extra", ["not json", "[1, 2]"])
def test_an_extra_that_is_not_an_object_is_left_to_airflow_and_read_as_none(extra: str):
    assert connection_extra(Connection(conn_id="bad_extra", conn_type="pandora", extra=extra)) == {}


async def test_the_hooks_async_path_reads_extras_without_handing_them_all_to_the_masker(
    monkeypatch: pytest.MonkeyPatch,
):
    """Triggers read the connection through ``_aconfig``: it parses the extras itself, never through Airflow's
    ``get_async_extra_dejson``, which masks every value (and warns about the short ones)."""
    import airflow.providers.common.compat.connection as compat

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("get_async_extra_dejson hands every extra to the masker")

    monkeypatch.setattr(compat, "get_async_extra_dejson", refuse)
    conn = {"conn_type": "pandora", "host": "http://127.0.0.1:9", "login": "AK", "password": SECRET}
    monkeypatch.setenv("AIRFLOW_CONN_ASYNC_EXTRAS", json.dumps({**conn, "extra": {"region": "nb", "timeout": 7}}))
    config = await PandoraHook("async_extras")._aconfig()
    assert (config.region, config.timeout) == ("nb", 7.0)
