"""The job-run model: statuses in every spelling the service uses, history records, and which run a waiter watches.

Pure (no HTTP): the hook, the sensors, the triggers and the job operators share it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from airflow_provider_pandora import wire
from airflow_provider_pandora.exceptions import PandoraApiError

__all__ = [
    "JobRun",
    "JobStatus",
    "PushResult",
    "history_size",
    "parse_job_history",
    "run_id_of",
    "select_run",
]


class JobStatus(enum.StrEnum):
    """One vocabulary for both the spec's statuses and the SDK's later ones."""

    READY = "Ready"
    RUNNING = "Running"
    SUCCESS = "Success"
    FAIL = "Fail"
    CANCEL = "Cancel"
    RESTARTING = "Restarting"
    CANCELLING = "Cancelling"

    @classmethod
    def parse(cls, value: Any) -> JobStatus:
        """The status a service string names, in any of the spellings the spec and the SDKs use."""
        key = str(value or "").strip().lower()
        try:
            return _STATUS_ALIASES[key]
        except KeyError:
            raise ValueError(f"unknown job status {value!r}") from None

    @property
    def is_terminal(self) -> bool:
        """Whether the run has ended (Success, Fail or Cancel)."""
        return self in (JobStatus.SUCCESS, JobStatus.FAIL, JobStatus.CANCEL)

    @property
    def is_success(self) -> bool:
        """Whether the run ended in Success."""
        return self is JobStatus.SUCCESS


_STATUS_ALIASES = {
    "ready": JobStatus.READY,
    "running": JobStatus.RUNNING,
    "success": JobStatus.SUCCESS,
    "successful": JobStatus.SUCCESS,
    "succeeded": JobStatus.SUCCESS,
    "fail": JobStatus.FAIL,
    "failed": JobStatus.FAIL,
    "cancel": JobStatus.CANCEL,
    "canceled": JobStatus.CANCEL,
    "cancelled": JobStatus.CANCEL,
    "restarting": JobStatus.RESTARTING,
    "cancelling": JobStatus.CANCELLING,
    "canceling": JobStatus.CANCELLING,
}


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return wire.to_datetime(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class JobRun:
    """One record of a job's history, normalised (``raw`` keeps what the service sent)."""

    status: JobStatus
    start_time: datetime | None
    end_time: datetime | None
    message: str
    run_id: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> JobRun:
        """One history record as the service sent it (spec or SDK spelling)."""
        return cls(
            status=JobStatus.parse(record.get("status")),
            start_time=_parse_time(record.get("startTime")),
            end_time=_parse_time(record.get("endTime")),
            message=str(record.get("message") or ""),
            run_id=run_id_of(record),
            raw=dict(record),
        )

    def to_dict(self) -> dict[str, Any]:
        """A small JSON-serialisable form, for XCom and trigger events."""
        return {
            "run_id": self.run_id,
            "status": self.status.value,
            "start_time": self.start_time.isoformat() if self.start_time else None,
            "end_time": self.end_time.isoformat() if self.end_time else None,
            "message": self.message,
        }


def parse_job_history(payload: Any) -> list[JobRun]:
    """Accept the spec's bare list and the SDK's ``{"total", "history": [...]}``; newest first."""
    if isinstance(payload, Mapping):
        payload = payload.get("history") or []
    if not isinstance(payload, list):
        raise PandoraApiError(f"unexpected job history payload of type {type(payload).__name__}")
    runs = [JobRun.from_record(item) for item in payload if isinstance(item, Mapping)]
    # Servers differ in order; callers want the latest first.
    return sorted(runs, key=lambda r: (r.start_time is not None, r.start_time or datetime.min), reverse=True)


@dataclass(frozen=True)
class PushResult:
    """What :meth:`PandoraHook.push_data` sent: points, bytes, batches and each batch's request id."""

    points: int
    bytes: int
    batches: int
    reqids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The XCom form (request ids are left out: they are for logs and support)."""
        return {"points": self.points, "bytes": self.bytes, "batches": self.batches}


def history_size(since: datetime | None, run_id: int | None = None, after_run_id: int | None = None) -> int:
    """How many history records to ask for: the newest alone, unless the caller must pick one run among several."""
    return 1 if since is None and run_id is None and after_run_id is None else 50


def select_run(
    runs: Sequence[JobRun],
    since: datetime | None,
    *,
    run_id: int | None = None,
    after_run_id: int | None = None,
) -> JobRun | None:
    """Pick the run a waiter watches from a history page (newest first).

    ``run_id`` (what the start call answered) selects exactly that run. Otherwise runs with an id not
    above ``after_run_id`` (the newest run before our start call) are ignored, so a run that ended just
    before ours is never mistaken for it; then the earliest run started at or after ``since``, or the
    newest run when ``since`` is ``None``.
    """
    if run_id is not None:
        return next((r for r in runs if r.run_id == run_id), None)
    if after_run_id is not None:
        runs = [r for r in runs if r.run_id is None or r.run_id > after_run_id]
    if not runs:
        return None
    if since is None:
        return runs[0]
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    candidates = [r for r in runs if r.start_time is not None and r.start_time >= since]
    return min(candidates, key=lambda r: r.start_time or since) if candidates else None


def run_id_of(value: Any) -> int | None:
    """A run id from a start answer or history record (the docs show strings, the Go SDK ints)."""
    if isinstance(value, Mapping):
        value = value.get("runId")
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() else None
