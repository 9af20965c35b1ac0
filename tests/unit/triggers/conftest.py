"""Helpers shared by the trigger tests: a fake async hook answering from a list, and a run of a trigger on it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.hooks.runs import JobRun, JobStatus


def run(status: str, message: str = "") -> JobRun:
    """A job-history record with ``status``."""
    return JobRun(JobStatus(status), datetime.now(UTC), None, message, 7)


class FakeHook:
    """Stands in for PandoraHook; counts how many hooks (hence HTTP clients) a trigger opens."""

    opened = 0

    def __init__(self, conn_id: str, answers: list[Any]) -> None:
        self.answers = answers
        self.calls: list[float] = []
        self.asked: list[dict[str, Any]] = []
        self.stopped = False

    async def __aenter__(self) -> FakeHook:
        FakeHook.opened += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def _next(self) -> Any:
        self.calls.append(time.monotonic())
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def aget_latest_job_run(self, repo: str, job: str, *, since: datetime | None = None, **which: Any) -> Any:
        self.asked.append({"repo": repo, "job": job, "since": since, **which})
        return self._next()

    async def aget_group(self, group: str) -> Any:
        self.asked.append({"group": group})
        return self._next()

    async def astop_job(self, repo: str, job: str) -> dict[str, Any]:
        self.stopped = True
        return {}


def collect(trigger: Any, answers: list[Any], module: str) -> tuple[list[dict[str, Any]], FakeHook]:
    """Run ``trigger`` to its end against a :class:`FakeHook` answering ``answers``; its events and the hook."""
    FakeHook.opened = 0
    fake = FakeHook("c", answers)
    real = PandoraHook

    class Patched:
        default_conn_name = "pandora_default"
        group_status = staticmethod(real.group_status)

        def __new__(cls, conn_id: str) -> FakeHook:  # type: ignore[misc]
            return fake

    async def gather() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    # The polling loop (and its hook) is the base trigger's; on_kill's hook is the subclass module's.
    with (
        mock.patch("airflow_provider_pandora.triggers.base.PandoraHook", Patched),
        mock.patch(f"{module}.PandoraHook", Patched),
    ):
        events = asyncio.run(gather())
    return events, fake
