"""Wait for an offline job run to end."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.providers.common.compat.sdk import AirflowFailException, Context

from airflow_provider_pandora.links import PandoraConsoleLink, push_console_url
from airflow_provider_pandora.sensors.base import PandoraPollingSensor
from airflow_provider_pandora.triggers.jobs import PandoraJobTrigger


def parse_since(value: Any) -> datetime | None:
    """A templated ``since`` (ISO string or datetime) as an aware datetime; empty means none."""
    if value in (None, "", "None"):  # "None": a data interval rendered for a run that has none
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class PandoraJobSensor(PandoraPollingSensor):
    """Succeed when the job's latest run (or the first run started at or after ``since``) is Success.

    A run that ends in Fail or Cancel raises with the history message (``soft_fail`` turns that into a
    skip). Transient API errors are logged and polling continues. ``deferrable=True`` waits in the
    triggerer; ``poll_interval`` (when given) is the poke interval in every mode.

    :param repo: the repo the job reads.
    :param job: the job's name.
    :param since: ISO timestamp or datetime; watch the first run started at or after it (else the latest run).
    :param pandora_conn_id: the ``pandora`` connection.
    :param poll_interval: seconds between polls.
    :param deferrable: wait in the triggerer.
    """

    template_fields: Sequence[str] = ("pandora_conn_id", "repo", "job", "since", "poll_interval")
    operator_extra_links = (PandoraConsoleLink(),)

    def __init__(self, *, repo: str, job: str, since: str | datetime | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repo = repo
        self.job = job
        self.since = since

    def describe(self) -> str:
        """``job 'j' of repo 'r'``."""
        return f"job {self.job!r} of repo {self.repo!r}"

    def before_wait(self, context: Context) -> None:
        """Publish the job's console link before waiting."""
        push_console_url(self, context, self.repo, self.job)

    def check(self, context: Context) -> bool:
        """Whether the watched run ended in Success; a failed or cancelled run raises."""
        run = self.hook.get_latest_job_run(self.repo, self.job, since=parse_since(self.since))
        if run is None:
            self.log.info("job %r of repo %r has no matching run yet", self.job, self.repo)
            return False
        self.log.info("job %r run status: %s", self.job, run.status.value)
        if not run.status.is_terminal:
            return False
        if not run.status.is_success:
            raise AirflowFailException(f"{self.describe()} ended {run.status.value}: {run.message or '(no message)'}")
        return True

    def trigger(self, end_time: float) -> PandoraJobTrigger:
        """The job trigger, watching the same run; killing the deferred sensor does not stop the job."""
        since = parse_since(self.since)
        return PandoraJobTrigger(
            self.repo,
            self.job,
            pandora_conn_id=self.pandora_conn_id,
            poll_interval=self._interval(),
            since=since.isoformat() if since else None,
            end_time=end_time,
            stop_on_kill=False,
        )
