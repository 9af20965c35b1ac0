"""TLS: certificates are verified by default, a CA bundle makes a private CA work, and nothing retries a bad cert."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.sensors import PandoraGroupStatusSensor, PandoraJobSensor
from airflow_provider_pandora.triggers import PandoraGroupStatusTrigger, PandoraJobTrigger


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pandora-emulator-test-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def tls_emulator(tmp_path: Path) -> Iterator[tuple[PandoraEmulator, Path]]:
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with PandoraEmulator(ssl_context=context) as emulator:
        yield emulator, cert


def _hook(monkeypatch: pytest.MonkeyPatch, emulator: PandoraEmulator, **extra: object) -> PandoraHook:
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_TLS", emulator.connection_json(**extra))
    return PandoraHook("pandora_tls", retry_limit=3)


def test_untrusted_certificate_is_refused_by_default_with_a_hint_and_no_retry(
    tls_emulator: tuple[PandoraEmulator, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, _ = tls_emulator
    assert emulator.url.startswith("https://")
    hook = _hook(monkeypatch, emulator)
    ok, message = hook.test_connection()
    assert not ok
    assert "could not be verified" in message
    assert "ca_bundle" in message
    with pytest.raises(Exception) as caught:
        hook.list_groups()
    assert not PandoraHook.is_retryable(caught.value)
    assert emulator.requests_log() == []  # the handshake failed, so no request was ever served


def test_ca_bundle_makes_the_private_ca_trusted(
    tls_emulator: tuple[PandoraEmulator, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, cert = tls_emulator
    # A machine-wide bundle in the environment (common in corporate images) must not override the
    # connection's own: requests lets it win over ``session.verify`` unless verify is passed per request.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.setenv("CURL_CA_BUNDLE", certifi.where())
    hook = _hook(monkeypatch, emulator, ca_bundle=str(cert))
    ok, message = hook.test_connection()
    assert ok, message
    hook.create_repo("tls_repo", schema=[{"key": "a", "valtype": "string"}])
    assert "tls_repo" in json.dumps(hook.list_repos())


async def test_async_client_honours_the_ca_bundle_and_refuses_without_it(
    tls_emulator: tuple[PandoraEmulator, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, cert = tls_emulator
    async with _hook(monkeypatch, emulator, ca_bundle=str(cert)) as hook:
        assert await hook.arequest("GET", "/v2/groups") == {"groups": []}
    async with _hook(monkeypatch, emulator) as hook:
        with pytest.raises(Exception) as caught:
            await hook.arequest("GET", "/v2/groups")
    assert not PandoraHook.is_retryable(caught.value)


def test_verification_can_be_switched_off_explicitly(
    tls_emulator: tuple[PandoraEmulator, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, _ = tls_emulator
    ok, message = _hook(monkeypatch, emulator, verify=False).test_connection()
    assert ok, message


# ---- the pollers: a certificate failure is not transient, so nothing polls on until its timeout ------------------
def test_sensors_fail_at_once_on_an_untrusted_certificate_with_the_hint(
    tls_emulator: tuple[PandoraEmulator, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, _ = tls_emulator
    _hook(monkeypatch, emulator)
    job = PandoraJobSensor(task_id="job", repo="r", job="j", pandora_conn_id="pandora_tls", timeout=600)
    with pytest.raises(Exception, match="ca_bundle"):
        job.poke({})  # before the fix: a ConnectionError, so "will poll again" until the timeout
    group = PandoraGroupStatusSensor(task_id="group", group="g", pandora_conn_id="pandora_tls", timeout=600)
    with pytest.raises(Exception, match="ca_bundle"):
        group.poke({})


@pytest.mark.parametrize("kind", ["job", "group"])
async def test_triggers_give_up_at_once_on_an_untrusted_certificate_with_the_hint(
    tls_emulator: tuple[PandoraEmulator, Path], monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    emulator, _ = tls_emulator
    _hook(monkeypatch, emulator)
    trigger: PandoraJobTrigger | PandoraGroupStatusTrigger
    if kind == "job":
        trigger = PandoraJobTrigger("r", "j", pandora_conn_id="pandora_tls", poll_interval=60)
    else:
        trigger = PandoraGroupStatusTrigger("g", "running", pandora_conn_id="pandora_tls", poll_interval=60)
    # A transient error would sleep a whole poll interval (60 s) before the next try: the event comes at once.
    event = await asyncio.wait_for(anext(aiter(trigger.run())), timeout=30)
    assert event.payload["status"] == "error"
    assert "ca_bundle" in event.payload["message"]
