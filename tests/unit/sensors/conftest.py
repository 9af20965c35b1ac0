"""Helpers shared by the sensor tests: a sensor with a spec'd mock hook, and job runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest import mock

from airflow_provider_pandora.hooks._connection import PandoraConnectionConfig
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.hooks.runs import JobRun, JobStatus

CONFIG = PandoraConnectionConfig(endpoint="http://pandora.test", access_key="AK", secret_key="SK")


def run(status: str, message: str = "") -> JobRun:
    """A job-history record with ``status``."""
    return JobRun(JobStatus(status), datetime.now(UTC), None, message, 1)


def make(cls: type[Any], **kwargs: Any) -> tuple[Any, Any]:
    """``cls(task_id="s", **kwargs)`` with its hook replaced by a mock spec'd on ``PandoraHook`` (no console URL)."""
    op = cls(task_id="s", **kwargs)
    hook = mock.create_autospec(PandoraHook, instance=True)
    hook.config = CONFIG
    op.__dict__["hook"] = hook
    return op, hook
