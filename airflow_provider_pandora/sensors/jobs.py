"""Wait for an offline job run to end."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import requests
from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowSensorTimeout,
    BaseSensorOperator,
    Context,
    conf,
)

from airflow_provider_pandora.exceptions import PandoraServerError
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.links import PandoraConsoleLink, push_console_url
from airflow_provider_pandora.triggers.jobs import PandoraJobTrigger

#: Errors a poke logs and retries on the next poke instead of failing the task.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (PandoraServerError, requests.ConnectionError, requests.Timeout)


def parse_since(value: Any) -> datetime | None:
    """A templated ``since`` (ISO string or datetime) as an aware datetime; empty means none."""
    if value in (None, "", "None"):  # "None": a data interval rendered for a run that has none
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class PandoraJobSensor(BaseSensorOperator):
    """Succeed when the job's latest run (or the first run started at or after ``since``) is Success.

    A run that ends in Fail or Cancel raises with the history message (``soft_fail`` turns that into a
    skip). Transient API errors are logged and polling continues. ``deferrable=True`` waits in the
    triggerer; ``poll_interval`` (when given) is the poke interval in every mode.
    """

    template_fields: Sequence[str] = ("pandora_conn_id", "repo", "job", "since", "poll_interval")
    operator_extra_links = (PandoraConsoleLink(),)

    def __init__(
        self,
        *,
        repo: str,
        job: str,
        since: str | datetime | None = None,
        pandora_conn_id: str = PandoraHook.default_conn_name,
        poll_interval: float | str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        if poll_interval is not None and "poke_interval" not in kwargs and not isinstance(poll_interval, str):
            kwargs["poke_interval"] = float(poll_interval)
        super().__init__(**kwargs)
        self.repo = repo
        self.job = job
        self.since = since
        self.pandora_conn_id = pandora_conn_id
        self.poll_interval = poll_interval
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> PandoraHook:
        return PandoraHook(self.pandora_conn_id)

    def _interval(self) -> float:
        return float(self.poll_interval) if self.poll_interval not in (None, "") else float(self.poke_interval)

    def poke(self, context: Context) -> bool:
        try:
            run = self.hook.get_latest_job_run(self.repo, self.job, since=parse_since(self.since))
        except TRANSIENT_ERRORS as exc:
            self.log.warning("transient error reading history of job %r (will poll again): %s", self.job, exc)
            return False
        if run is None:
            self.log.info("job %r of repo %r has no matching run yet", self.job, self.repo)
            return False
        self.log.info("job %r run status: %s", self.job, run.status.value)
        if not run.status.is_terminal:
            return False
        if not run.status.is_success:
            raise AirflowFailException(
                f"job {self.job!r} of repo {self.repo!r} ended {run.status.value}: {run.message or '(no message)'}"
            )
        return True

    def execute(self, context: Context) -> Any:
        push_console_url(self, context, self.repo, self.job)
        if self.poll_interval not in (None, ""):
            self.poke_interval = float(self.poll_interval)  # a templated interval is known only now
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        since = parse_since(self.since)
        self.defer(
            trigger=PandoraJobTrigger(
                self.repo,
                self.job,
                pandora_conn_id=self.pandora_conn_id,
                poll_interval=self._interval(),
                since=since.isoformat() if since else None,
                end_time=time.time() + float(self.timeout),
                stop_on_kill=False,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout)),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        event = event or {}
        status = event.get("status")
        if status == "success":
            self.log.info("job %r succeeded", self.job)
            return
        message = f"job {self.job!r} of repo {self.repo!r}: {status}: {event.get('message') or '(no message)'}"
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        raise AirflowFailException(message)
