"""Deferrable wait for an offline job run, in the triggerer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_pandora.exceptions import PandoraServerError
from airflow_provider_pandora.hooks.pandora import PandoraHook

#: Consecutive transient API errors tolerated before the trigger gives up with an ``error`` event.
MAX_TRANSIENT_ERRORS = 5
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (PandoraServerError, httpx.TransportError)


class PandoraJobTrigger(BaseTrigger):
    """Poll a job's history until the selected run ends; yield exactly one event.

    Event ``status`` is ``success``, ``failed`` (with the history ``message``), ``timeout`` (the
    wall-clock ``end_time`` passed) or ``error``. Kwargs are primitives only so ``serialize()`` is
    safe on every Airflow line.

    :param since: ISO timestamp; the first run started at or after it is watched (else the latest run).
    :param run_id: watch exactly this run (what the start call answered), when known.
    :param after_run_id: ignore runs up to this id (the newest run before the start call).
    :param end_time: ``time.time()`` deadline, e.g. from ``execution_timeout``; ``None`` waits forever.
    :param stop_on_kill: stop the job when a user kills the deferred task (Airflow 3.3+ ``on_kill``).
    """

    def __init__(
        self,
        repo: str,
        job: str,
        *,
        pandora_conn_id: str = PandoraHook.default_conn_name,
        poll_interval: float = 10.0,
        since: str | None = None,
        end_time: float | None = None,
        stop_on_kill: bool = True,
        run_id: int | None = None,
        after_run_id: int | None = None,
    ) -> None:
        super().__init__()
        self.repo = repo
        self.job = job
        self.pandora_conn_id = pandora_conn_id
        self.poll_interval = float(poll_interval)
        self.since = since
        self.end_time = end_time
        self.stop_on_kill = stop_on_kill
        self.run_id = run_id
        self.after_run_id = after_run_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "repo": self.repo,
                "job": self.job,
                "pandora_conn_id": self.pandora_conn_id,
                "poll_interval": self.poll_interval,
                "since": self.since,
                "end_time": self.end_time,
                "stop_on_kill": self.stop_on_kill,
                "run_id": self.run_id,
                "after_run_id": self.after_run_id,
            },
        )

    def _event(self, status: str, message: str, run: dict[str, Any] | None = None) -> TriggerEvent:
        return TriggerEvent({"status": status, "message": message, "repo": self.repo, "job": self.job, "run": run})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        since = datetime.fromisoformat(self.since) if self.since else None
        errors = 0
        # One hook, hence one httpx.AsyncClient, for the whole wait.
        async with PandoraHook(self.pandora_conn_id) as hook:
            while True:
                if self.end_time is not None and time.time() >= self.end_time:
                    yield self._event(
                        "timeout", f"job {self.job!r} of repo {self.repo!r} did not end before the deadline"
                    )
                    return
                try:
                    run = await hook.aget_latest_job_run(
                        self.repo, self.job, since=since, run_id=self.run_id, after_run_id=self.after_run_id
                    )
                    errors = 0
                except TRANSIENT_ERRORS as exc:
                    errors += 1
                    if errors >= MAX_TRANSIENT_ERRORS:
                        yield self._event("error", f"giving up after {errors} transient errors: {exc}")
                        return
                    self.log.warning(
                        "transient error polling job %s (%d/%d): %s", self.job, errors, MAX_TRANSIENT_ERRORS, exc
                    )
                    run = None
                except Exception as exc:
                    yield self._event("error", str(exc))
                    return
                if run is not None and run.status.is_terminal:
                    status = "success" if run.status.is_success else "failed"
                    yield self._event(status, run.message or run.status.value, run.to_dict())
                    return
                await asyncio.sleep(self.poll_interval)

    async def on_kill(self) -> None:
        """Stop the job when the user kills the deferred task (called by Airflow 3.3+ only)."""
        if not self.stop_on_kill:
            return
        async with PandoraHook(self.pandora_conn_id) as hook:
            try:
                await hook.astop_job(self.repo, self.job)
                self.log.info("stopped job %s of repo %s", self.job, self.repo)
            except Exception as exc:
                self.log.warning("could not stop job %s: %s", self.job, exc)
