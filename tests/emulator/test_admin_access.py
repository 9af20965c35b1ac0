"""The unsigned ``/_emulator/...`` admin endpoints cannot be reached by accident (issue 18, item 5).

They answer loopback clients as before; a client elsewhere gets ``403 E18665`` saying how to enable them,
unless the emulator was started with an admin token and the client sends it. An emulator bound beyond
loopback while it accepts the public demo key pair logs a loud warning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import requests

from airflow_provider_pandora.emulator.__main__ import build_parser
from airflow_provider_pandora.emulator.http import server as http_server
from airflow_provider_pandora.emulator.http.server import ADMIN_TOKEN_HEADER, DEMO_ACCESS_KEY, is_loopback
from airflow_provider_pandora.emulator.testing import PandoraEmulator
from tests.emulator.conftest import Api, error_code

TOKEN = "s3cret-admin-token"


@pytest.fixture
def remote(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every peer counts as remote. The tests send traffic to loopback only (this workplace's rule), so a
    client elsewhere is what the server is told it has, not a second interface."""
    monkeypatch.setattr(http_server, "is_loopback", lambda host: False)


@pytest.fixture
def everywhere() -> Iterator[PandoraEmulator]:
    """An emulator on every interface, with its own keys (so no demo-key warning) and no admin token."""
    with PandoraEmulator(host="0.0.0.0", credentials={"ak": "sk"}) as running:
        yield running


def _port(emulator: PandoraEmulator) -> int:
    return int(emulator.url.rsplit(":", 1)[1])


def test_admin_from_loopback_works_as_before(pandora_emulator: PandoraEmulator) -> None:
    assert requests.get(pandora_emulator.url + "/_emulator/health", timeout=10).json()["ok"] is True
    assert requests.post(pandora_emulator.url + "/_emulator/reset", timeout=10).status_code == 200
    assert requests.get(pandora_emulator.url + "/_emulator/requests", timeout=10).status_code == 200


def test_admin_from_loopback_works_on_an_emulator_bound_everywhere(everywhere: PandoraEmulator) -> None:
    answer = requests.get(f"http://127.0.0.1:{_port(everywhere)}/_emulator/health", timeout=10)
    assert answer.status_code == 200


def test_admin_from_another_address_is_403_saying_how_to_enable_it(remote: None) -> None:
    with PandoraEmulator(credentials={"ak": "sk"}) as running:
        for method, path in (("GET", "/_emulator/health"), ("POST", "/_emulator/reset"), ("POST", "/_emulator/faults")):
            answer = requests.request(method, running.url + path, json={}, timeout=10)
            assert answer.status_code == 403, answer.text
            assert error_code(answer) == "E18665"
            assert "--admin-token" in answer.json()["error"]
            assert ADMIN_TOKEN_HEADER in answer.json()["error"]
            assert answer.headers["X-Reqid"]
        # a token sent to an emulator that has none changes nothing
        refused = requests.get(running.url + "/_emulator/health", headers={ADMIN_TOKEN_HEADER: TOKEN}, timeout=10)
        assert refused.status_code == 403
        # signed API calls from elsewhere are not affected
        assert Api(running).session.get(running.url + "/v2/repos", timeout=10).status_code == 200


def test_the_admin_token_lets_another_address_through(remote: None) -> None:
    with PandoraEmulator(credentials={"ak": "sk"}, admin_token=TOKEN) as running:
        ok = requests.get(running.url + "/_emulator/health", headers={ADMIN_TOKEN_HEADER: TOKEN}, timeout=10)
        assert ok.status_code == 200
        assert requests.post(running.url + "/_emulator/reset", headers={ADMIN_TOKEN_HEADER: TOKEN}, timeout=10).ok
        for headers in ({}, {ADMIN_TOKEN_HEADER: TOKEN + "x"}, {ADMIN_TOKEN_HEADER: ""}):
            refused = requests.get(running.url + "/_emulator/health", headers=headers, timeout=10)
            assert refused.status_code == 403, headers
            assert ADMIN_TOKEN_HEADER in refused.json()["error"]
        # the in-process helpers do not go through HTTP, so they keep working
        assert running.requests_log() == []


def test_loopback_addresses() -> None:
    for address in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", b"127.0.0.1"):
        assert is_loopback(address), address
    for address in ("192.0.2.2", "0.0.0.0", "::", "fd00::2", "::ffff:192.0.2.2", "localhost", ""):
        assert not is_loopback(address), address


def test_binding_beyond_loopback_with_the_demo_keys_logs_a_loud_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=http_server.__name__)
    with PandoraEmulator(host="0.0.0.0"):
        pass
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "PUBLIC demo key pair" in r.message]
    assert len(warnings) == 1
    assert DEMO_ACCESS_KEY in warnings[0].message
    assert "--host" in warnings[0].message
    assert "--credentials" in warnings[0].message


@pytest.mark.parametrize(
    ("host", "credentials"),
    [("127.0.0.1", None), ("0.0.0.0", {"ak": "sk"}), ("0.0.0.0", {DEMO_ACCESS_KEY: "another-secret"})],
)
def test_no_warning_on_loopback_or_with_own_keys(
    caplog: pytest.LogCaptureFixture, host: str, credentials: dict[str, str] | None
) -> None:
    caplog.set_level(logging.WARNING, logger=http_server.__name__)
    with PandoraEmulator(host=host, credentials=credentials):
        pass
    assert not [r for r in caplog.records if "PUBLIC demo key pair" in r.message]


def test_the_admin_token_is_an_option_of_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PANDORA_EMULATOR_ADMIN_TOKEN", raising=False)
    assert build_parser().parse_args([]).admin_token is None
    assert build_parser().parse_args(["--admin-token", TOKEN]).admin_token == TOKEN
    monkeypatch.setenv("PANDORA_EMULATOR_ADMIN_TOKEN", TOKEN)
    assert build_parser().parse_args([]).admin_token == TOKEN
