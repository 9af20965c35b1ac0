"""The "Pandora console" extra link on job operators and sensors.

Airflow 3 evaluates links on the worker after each attempt (including one that defers), so
operators push the URL to XCom under :data:`CONSOLE_URL_XCOM_KEY` before they wait.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey

CONSOLE_URL_XCOM_KEY = "pandora_console_url"


def console_url(base: str | None, repo: str, job: str | None = None) -> str | None:
    """Deep link into the console for a repo (or one of its offline jobs); ``None`` without a base."""
    if not base:
        return None
    url = f"{base.rstrip('/')}/repos/{repo}"
    return f"{url}/jobs/{job}" if job else url


def push_console_url(operator: Any, context: Any, repo: str, job: str | None = None) -> None:
    """Store the link before any wait; ``""`` when no console is configured.

    The empty value matters: Airflow 3 evaluates every extra link after each attempt, and a missing
    XCom makes its task SDK log an error line on every run.
    """
    url: str | None = None
    try:
        url = console_url(operator.hook.config.console_url, repo, job)
    except Exception:  # a link must never fail the task
        operator.log.debug("no console link", exc_info=True)
    context["ti"].xcom_push(key=CONSOLE_URL_XCOM_KEY, value=url or "")


class PandoraConsoleLink(BaseOperatorLink):
    """Extra link to the repo (or job) in the Pandora console; the URL comes from the task's XCom."""

    name = "Pandora console"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        """The console URL the task pushed to XCom, or ``""`` (no console configured, or not yet run)."""
        return XCom.get_value(key=CONSOLE_URL_XCOM_KEY, ti_key=ti_key) or ""
