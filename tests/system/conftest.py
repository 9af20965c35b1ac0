"""System tests run only through ``make system-test`` (PANDORA_SYSTEM_TESTS=1): they start a whole deployment."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.system.deployment import Deployment

collect_ignore_glob = [] if os.environ.get("PANDORA_SYSTEM_TESTS") == "1" else ["test_*.py"]


@pytest.fixture(scope="session")
def deployment() -> Iterator[Deployment]:
    dep = Deployment()
    started = time.monotonic()
    try:
        try:
            dep.start()
        except BaseException:
            print(dep.tails())
            raise
        print(f"\ndeployment up in {time.monotonic() - started:.0f}s under {dep.base}")
        yield dep
    finally:
        stopping = time.monotonic()
        if dep.crashes:
            print(f"\ncomponents that died by themselves and were restarted: {dep.crashes}")
        dep.stop()
        print(f"\ndeployment stopped in {time.monotonic() - stopping:.0f}s, nothing left running")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    outcome: Any = yield
    report = outcome.get_result()
    dep = getattr(item, "funcargs", {}).get("deployment")
    if report.failed and isinstance(dep, Deployment):
        report.sections.append(("component logs", dep.tails()))
