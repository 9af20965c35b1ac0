"""System tests run only through ``make system-test`` (PANDORA_SYSTEM_TESTS=1): they start a whole deployment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.system.deployment import Deployment
from tests.system.support import keep_hint, running

collect_ignore_glob = [] if os.environ.get("PANDORA_SYSTEM_TESTS") == "1" else ["test_*.py"]


@pytest.fixture(scope="session")
def deployment() -> Iterator[Deployment]:
    with running(Deployment(), "deployment") as dep:
        yield dep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    outcome: Any = yield
    report = outcome.get_result()
    dep = getattr(item, "funcargs", {}).get("deployment")
    if report.failed and isinstance(dep, Deployment):
        report.sections.append(("component logs", f"{dep.tails()}\n{keep_hint(dep)}"))
