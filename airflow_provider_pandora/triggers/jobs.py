"""Deferrable wait for an offline job run, in the triggerer."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from airflow.triggers.base import TriggerEvent

from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.triggers.base import PandoraPollingTrigger


class PandoraJobTrigger(PandoraPollingTrigger):
    """Poll a job's history until the selected run ends; yield exactly one event.

    Event ``status`` is ``success``, ``failed`` (with the history ``message``), ``timeout`` (the
    wall-clock ``end_time`` passed) or ``error``; ``run`` holds the run's record when it ended.

    :param repo: the repo the job reads.
    :param job: the job's name.
    :param since: ISO timestamp; the first run started at or after it is watched (else the latest run).
    :param run_id: watch exactly this run (what the start call answered), when known.
    :param after_run_id: ignore runs up to this id (the newest run before the start call).
    :param stop_on_kill: stop the job when a user kills the deferred task (Airflow 3.3+ ``on_kill``).
    :param pandora_conn_id: the ``pandora`` connection.
    :param poll_interval: seconds between polls.
    :param end_time: ``time.time()`` deadline, e.g. from ``execution_timeout``; ``None`` waits forever.
    """

    serialized_fields: ClassVar[tuple[str, ...]] = ("repo", "job", "since", "stop_on_kill", "run_id", "after_run_id")

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
        super().__init__(pandora_conn_id=pandora_conn_id, poll_interval=poll_interval, end_time=end_time)
        self.repo = repo
        self.job = job
        self.since = since
        self.stop_on_kill = stop_on_kill
        self.run_id = run_id
        self.after_run_id = after_run_id

    def describe(self) -> str:
        """``job 'j' of repo 'r'``."""
        return f"job {self.job!r} of repo {self.repo!r}"

    def timeout_message(self) -> str:
        """The ``timeout`` event's message."""
        return f"{self.describe()} did not end before the deadline"

    def payload(self) -> dict[str, Any]:
        """Every event names the repo and job; ``run`` is filled when a run ended."""
        return {"repo": self.repo, "job": self.job, "run": None}

    async def poll(self, hook: PandoraHook) -> TriggerEvent | None:
        """The final event once the watched run has ended."""
        since = datetime.fromisoformat(self.since) if self.since else None
        run = await hook.aget_latest_job_run(
            self.repo, self.job, since=since, run_id=self.run_id, after_run_id=self.after_run_id
        )
        if run is None or not run.status.is_terminal:
            return None
        status = "success" if run.status.is_success else "failed"
        return self.event(status, run.message or run.status.value, run=run.to_dict())

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
