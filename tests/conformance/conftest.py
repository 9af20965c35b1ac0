"""Fixtures: one fresh emulator per case (the plugin's ``pandora_emulator``) and the two SDKs pointed at it."""

from __future__ import annotations

import pytest

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from tests.conformance.sdk import GoSdk, JavaSdk


@pytest.fixture
def go(pandora_emulator: PandoraEmulator) -> GoSdk:
    """Requests as the Go SDK sends them, to a fresh emulator."""
    return GoSdk(pandora_emulator.url, pandora_emulator.access_key, pandora_emulator.secret_key)


@pytest.fixture
def java(pandora_emulator: PandoraEmulator) -> JavaSdk:
    """Requests as the Java SDK sends them, to the same emulator as ``go``."""
    return JavaSdk(pandora_emulator.url, pandora_emulator.access_key, pandora_emulator.secret_key)
