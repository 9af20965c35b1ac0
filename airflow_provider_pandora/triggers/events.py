"""Event-driven scheduling (Airflow 3): a trigger for ``AssetWatcher`` that fires once per new run of an offline job.

A job that Pandora schedules itself (a ``loop`` or ``crontab`` scheduler) runs with no Airflow task waiting on
it. :class:`PandoraJobRunEventTrigger` watches its history from the triggerer and yields one event per run
that ends (in ``Success`` by default) after the watcher started, so a DAG scheduled on the watched asset runs
once per run.

What is fired, and across restarts (read from ``airflow/jobs/triggerer_job_runner.py`` and
``airflow/models/trigger.py``):

- The serialized kwargs are the connection, repo, job, poll interval and statuses only, so the watcher's
  hash (``BaseEventTrigger.hash``) never changes and re-parsing the DAG keeps the same trigger row.
- Which runs were already accounted for (the *watermark*: the latest end time fired or seen, and the runs
  that ended at that very time) lives in the trigger, not in its kwargs. A new trigger (first start, a
  triggerer restart or SIGKILL, the trigger moving to another triggerer) takes it when ``run()`` starts: from
  the watched asset's state store where Airflow has one (3.3+: ``asset_state_store``, written *before* each
  event is yielded), else from the job's history as it is then (every run that has already ended is seen).
- So no run is ever fired twice. On 3.3+ a run that ended while no triggerer ran is fired when the next
  trigger starts; the one loss is a run whose event was yielded but not yet stored when the triggerer died
  (about a second). Below 3.3 (no state store) every run that ended while no triggerer ran is missed: at
  most once.
- A run still running when the watcher starts is fired when it ends (it ends while watched).
- Errors never end the watcher (a failed event trigger would only be restarted by the triggerer, with its
  watermark lost): a transient error is logged and polled again after the interval; anything else (the job
  or repo does not exist yet, refused credentials) is logged as an error, the first time and then every
  ``ERROR_LOG_EVERY`` polls, and polled again. A job (or repo) that does not exist when the watcher starts
  has no ended run, so a job created later is watched from its first run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.triggers.base import TriggerEvent

from airflow_provider_pandora.exceptions import PandoraNotFoundError
from airflow_provider_pandora.hooks._transport import is_transient
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.hooks.runs import JobRun, JobStatus
from airflow_provider_pandora.version_compat import AIRFLOW_V_3_0_PLUS

if TYPE_CHECKING or AIRFLOW_V_3_0_PLUS:
    from airflow.triggers.base import BaseEventTrigger
else:  # Airflow 2.11: no event-driven scheduling; the class still imports, and refuses to be built.
    from airflow.triggers.base import BaseTrigger as BaseEventTrigger

__all__ = ["PandoraJobRunEventTrigger"]


def _key(run: JobRun) -> str:
    """A run's identity: its id where the service gives one, else its start time (the spec's records have no id)."""
    if run.run_id is not None:
        return f"id:{run.run_id}"
    return f"start:{run.start_time.isoformat() if run.start_time else ''}"


def _ended_at(run: JobRun) -> datetime | None:
    return run.end_time or run.start_time


@dataclass
class Watermark:
    """The runs already accounted for: every run that ended before ``end``, and those in ``keys`` that ended at it.

    Kept as one end time plus the runs at that time (not a set of every run ever seen), so it stays small in
    the asset state store; runs ending in the same second are told apart by ``keys``.
    """

    end: datetime | None = None
    keys: set[str] = field(default_factory=set)

    def covers(self, run: JobRun) -> bool:
        """Whether ``run`` (ended) was already fired or seen."""
        ended = _ended_at(run)
        if ended is None or self.end is None:
            return False
        return ended < self.end or (ended == self.end and _key(run) in self.keys)

    def advance(self, run: JobRun) -> None:
        """Account for ``run`` (ended)."""
        ended = _ended_at(run)
        if ended is None:
            return
        if self.end is None or ended > self.end:
            self.end, self.keys = ended, {_key(run)}
        elif ended == self.end:
            self.keys.add(_key(run))

    def to_json(self) -> dict[str, Any]:
        """The asset state store's form."""
        return {"end": self.end.isoformat() if self.end else None, "keys": sorted(self.keys)}

    @classmethod
    def from_json(cls, value: Any) -> Watermark | None:
        """A stored watermark; ``None`` for anything else (nothing stored, or not ours)."""
        if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
            return None
        try:
            end = datetime.fromisoformat(value["end"]) if value.get("end") else None
        except (TypeError, ValueError):
            return None
        return cls(end, {str(k) for k in value["keys"]})


class PandoraJobRunEventTrigger(BaseEventTrigger):
    """Fire one event per new run of an offline job that ends in one of ``statuses``; for ``AssetWatcher`` (Airflow 3).

    The event's payload (the asset event's ``extra["payload"]``) is ``{"repo", "job", "status", "run": {"run_id",
    "status", "start_time", "end_time", "message"}}``. The module docstring says what "new" means across
    triggerer restarts.

    :param repo: the repo the job reads.
    :param job: the job's name (a job Pandora runs on its own ``loop`` or ``crontab`` schedule).
    :param pandora_conn_id: the ``pandora`` connection.
    :param poll_interval: seconds between looks at the job's history.
    :param statuses: the run statuses that fire (``Success`` by default; ``Fail`` and ``Cancel`` may be added).
    """

    #: Records asked for per history page; pages are read until the watermark is reached.
    history_page_size: ClassVar[int] = 50
    #: Pages read at most per poll (a warning is logged when runs may lie beyond them).
    max_history_pages: ClassVar[int] = 20
    #: A non-transient error is logged as an error the first time and then once every this many polls.
    ERROR_LOG_EVERY: ClassVar[int] = 30

    def __init__(
        self,
        repo: str,
        job: str,
        *,
        pandora_conn_id: str = PandoraHook.default_conn_name,
        poll_interval: float = 30.0,
        statuses: Sequence[str] = (JobStatus.SUCCESS.value,),
    ) -> None:
        if not AIRFLOW_V_3_0_PLUS:
            from airflow import __version__

            raise RuntimeError(
                f"PandoraJobRunEventTrigger needs Airflow 3.0 or later (AssetWatcher and BaseEventTrigger); "
                f"this is Airflow {__version__}. On Airflow 2, schedule the DAG and wait with "
                "PandoraJobSensor, or schedule on the repo the job writes."
            )
        super().__init__()
        parsed = [JobStatus.parse(s) for s in ([statuses] if isinstance(statuses, str) else statuses)]
        if not parsed or not all(s.is_terminal for s in parsed):
            raise ValueError(f"statuses must name ended runs (Success, Fail, Cancel), not {list(statuses)!r}")
        if float(poll_interval) <= 0:
            raise ValueError(f"poll_interval must be more than 0 seconds, not {poll_interval!r}")
        self.repo = repo
        self.job = job
        self.pandora_conn_id = pandora_conn_id
        self.poll_interval = float(poll_interval)
        # Canonical, sorted and deduplicated, so the same watcher spelled two ways hashes the same.
        self.statuses = sorted({s.value for s in parsed})
        self.watermark: Watermark | None = None
        self._open: set[str] = set()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The watcher's identity only (no watermark, no time): its hash stays the same across parses."""
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            "repo": self.repo,
            "job": self.job,
            "pandora_conn_id": self.pandora_conn_id,
            "poll_interval": self.poll_interval,
            "statuses": list(self.statuses),
        }

    def describe(self) -> str:
        """``job 'j' of repo 'r'``, for logs."""
        return f"job {self.job!r} of repo {self.repo!r}"

    # ---- the durable watermark (Airflow 3.3+) ------------------------------------------------------
    @property
    def state_key(self) -> str:
        """The asset state store key this watcher keeps its watermark under (one per job and connection)."""
        return f"pandora_job_runs:{self.pandora_conn_id}:{self.repo}:{self.job}"

    def _stores(self) -> list[Any]:
        """One state store accessor per watched asset (Airflow 3.3+ injects them; none before, or in tests)."""
        store = getattr(self, "asset_state_store", None)
        if store is None:
            return []
        # One trigger row may serve several assets (same kwargs, same hash): keep the watermark on each.
        accessors = [*getattr(store, "_by_name", {}).values(), *getattr(store, "_by_uri", {}).values()]
        return accessors or [store]

    async def _load(self) -> Watermark | None:
        marks = []
        for store in self._stores():
            try:
                mark = Watermark.from_json(await store.aget(self.state_key))
            except Exception as exc:
                self.log.warning(
                    "could not read the watermark of %s from the asset state store: %s", self.describe(), exc
                )
                continue
            if mark is not None:
                marks.append(mark)
        if not marks:
            return None
        # Several assets: the latest watermark wins (never fire what any of them already fired).
        return max(marks, key=lambda m: (m.end is not None, m.end or datetime.min))

    async def _save(self) -> bool:
        """Store the watermark on every watched asset (3.3+); whether it was stored (always, with no store)."""
        if self.watermark is None:
            return True
        value = self.watermark.to_json()
        saved = True
        for store in self._stores():
            try:
                await store.aset(self.state_key, value)
            except Exception as exc:
                self.log.warning("could not store the watermark of %s: %s", self.describe(), exc)
                saved = False
        return saved

    # ---- reading the history ------------------------------------------------------------------------
    async def _history(self, hook: PandoraHook) -> list[JobRun]:
        """Every run newer than the watermark (newest first), paging until a page reaches it.

        A page reaches the watermark when it holds a run started at or before the watermark's end and every run
        that was still running at the last look has been seen again; a short page is the last.
        """
        runs: list[JobRun] = []
        size = self.history_page_size
        for page in range(1, self.max_history_pages + 1):
            batch = await hook.aget_job_history(self.repo, self.job, page=page, size=size)
            runs.extend(batch)
            if len(batch) < size or self._reached(runs):
                return runs
        self.log.warning(
            "read %d runs of %s without reaching the runs already seen; older ones are not looked at",
            len(runs),
            self.describe(),
        )
        return runs

    def _reached(self, runs: Iterable[JobRun]) -> bool:
        mark = self.watermark
        if mark is None or mark.end is None:
            return False
        seen = {_key(r) for r in runs}
        older = any(r.start_time is not None and r.start_time <= mark.end for r in runs)
        return older and self._open <= seen

    def _event(self, run: JobRun) -> TriggerEvent:
        return TriggerEvent({"repo": self.repo, "job": self.job, "status": run.status.value, "run": run.to_dict()})

    # ---- the loop -------------------------------------------------------------------------------------
    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Take the watermark, then poll forever: one event per run that ended since, in the order they ended."""
        fire = {JobStatus.parse(s) for s in self.statuses}
        self.watermark = await self._load()
        if self.watermark is not None:
            self.log.info("watching %s from the stored watermark %s", self.describe(), self.watermark.to_json())
        failures = 0
        async with PandoraHook(self.pandora_conn_id) as hook:
            while True:
                try:
                    runs = await self._history(hook)
                except Exception as exc:
                    failures += 1
                    self._log_failure(exc, failures)
                    if self.watermark is None and isinstance(exc, PandoraNotFoundError):
                        # No such job (or repo) yet: no run has ended, so every run it will have is new.
                        self.watermark = Watermark()
                    await asyncio.sleep(self.poll_interval)
                    continue
                if failures:
                    self.log.info("%s answers again after %d failed polls", self.describe(), failures)
                failures = 0
                if self.watermark is None:
                    # First look of a watcher with no stored watermark: what has ended is history, not news.
                    self.watermark = Watermark()
                    for run in runs:
                        if run.status.is_terminal:
                            self.watermark.advance(run)
                    self.log.info("watching %s from %s", self.describe(), self.watermark.to_json())
                    await self._save()
                else:
                    ended = [r for r in runs if r.status.is_terminal and not self.watermark.covers(r)]
                    ended.sort(key=lambda r: (_ended_at(r) is not None, _ended_at(r) or datetime.min, _key(r)))
                    for run in ended:
                        before = Watermark(self.watermark.end, set(self.watermark.keys))
                        self.watermark.advance(run)
                        if run.status not in fire:
                            continue
                        # Stored before the event leaves, so a restart never fires it again; if the store does
                        # not answer, the run is fired on a later poll instead.
                        if not await self._save():
                            self.watermark = before
                            break
                        self.log.info("%s: run %s ended %s", self.describe(), run.run_id, run.status.value)
                        yield self._event(run)
                    if ended:
                        await self._save()
                self._open = {_key(r) for r in runs if not r.status.is_terminal}
                await asyncio.sleep(self.poll_interval)

    def _log_failure(self, exc: BaseException, failures: int) -> None:
        """Transient: a warning each time. Anything else: an error the first time, then every ERROR_LOG_EVERY polls."""
        if is_transient(exc):
            self.log.warning("transient error polling %s (poll %d): %s", self.describe(), failures, exc)
        elif failures == 1 or failures % self.ERROR_LOG_EVERY == 0:
            self.log.error(
                "polling %s failed (%d polls in a row), still polling every %ss: %s",
                self.describe(),
                failures,
                self.poll_interval,
                exc,
            )
