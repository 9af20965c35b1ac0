"""Offline job operators: submit, start (and wait, sync or deferred), stop."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, Context, conf

from airflow_provider_pandora import lineage
from airflow_provider_pandora.exceptions import PandoraJobFailedError, PandoraWaitTimeoutError
from airflow_provider_pandora.hooks.polling import PollPolicy
from airflow_provider_pandora.hooks.runs import JobRun, JobStatus, run_id_of
from airflow_provider_pandora.links import PandoraConsoleLink, push_console_url
from airflow_provider_pandora.operators.base import PandoraBaseOperator, PandoraCreateOperator, task_job_params
from airflow_provider_pandora.operators.transforms import sql_lineage, sql_start_lineage
from airflow_provider_pandora.params import parse_seconds_param
from airflow_provider_pandora.triggers.jobs import PandoraJobTrigger

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

#: Runs that started this much before our start call still count as ours (clock skew, rounding).
START_SLACK = timedelta(seconds=2)
#: ``task_state_store`` key (Airflow 3.3+) holding the start time of the run this task started.
RUN_STATE_KEY = "pandora_run_started_at"
#: ``task_state_store`` key holding the id of that run, when the start call answered one.
RUN_ID_STATE_KEY = "pandora_run_id"


class PandoraSubmitJobOperator(PandoraCreateOperator):
    """Create an offline job reading ``repo`` into ``dest_repo``.

    ``if_exists="update"`` deletes and re-creates the job (the API has no job update).
    """

    resource = "job"
    template_fields: Sequence[str] = (
        "pandora_conn_id",
        "repo",
        "job",
        "dest_repo",
        "code",
        "container",
        "scheduler",
        "job_params",
    )
    template_fields_renderers = {"code": "sql"}
    operator_extra_links = (PandoraConsoleLink(),)

    def __init__(
        self,
        *,
        repo: str,
        job: str,
        dest_repo: str,
        code: str,
        container: Mapping[str, Any],
        scheduler: Mapping[str, Any],
        params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(params=params, **kwargs)
        self.repo = repo
        self.job = job
        self.dest_repo = dest_repo
        self.code = code
        self.container = container
        self.scheduler = scheduler
        self.job_params = task_job_params(self)

    def _submit(self) -> None:
        self.hook.submit_job(
            self.repo,
            self.job,
            self.dest_repo,
            code=self.code,
            container=self.container,
            scheduler=self.scheduler,
            params=self.job_params,
        )

    def _replace(self) -> None:
        self.hook.delete_job(self.repo, self.job)
        self._submit()

    def execute(self, context: Context) -> dict[str, Any]:
        """Submit (or, per ``if_exists``, replace) the job; returns ``{"repo", "dest_repo", "job", "action"}``."""
        self.check_outlets()
        push_console_url(self, context, self.repo, self.job)
        result = self.create_or_update(self.job, self._submit, self._replace)
        self._action = result["action"]
        self.emit_outlet_events(context, [self.dest_repo], job=self.job, source_repo=self.repo, action=self._action)
        return {"repo": self.repo, "dest_repo": self.dest_repo, **result}

    _action: str | None = None

    def get_openlineage_facets_on_start(self) -> OperatorLineage:
        """The SQL, before anything runs."""
        return sql_start_lineage(self.code)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The repos the SQL reads, ``dest_repo`` written, the SQL; empty if the job already existed."""
        if self._action not in ("created", "updated"):
            return lineage.empty_lineage()
        return sql_lineage(self, self.repo, self.code, self.dest_repo)


class PandoraStartJobOperator(PandoraBaseOperator):
    """Start a run of an offline job and, with ``wait_for_completion``, wait for that run to end.

    Waits synchronously (``poll_interval``, ``timeout``) or in the triggerer (``deferrable``). A run
    ending in Fail or Cancel fails the task with the job's history message; a timeout (``timeout``
    or ``execution_timeout``) stops the job. On a retry, a run of this job that is still running is
    reconnected to instead of starting a second one.

    Returns ``{"repo", "job", "started_at", "reconnected", "run"}``; ``run`` is the final history
    record when it waited.
    """

    template_fields: Sequence[str] = ("pandora_conn_id", "repo", "job", "job_params", "poll_interval", "timeout")
    operator_extra_links = (PandoraConsoleLink(),)

    def __init__(
        self,
        *,
        repo: str,
        job: str,
        params: Mapping[str, Any] | None = None,
        wait_for_completion: bool = True,
        poll_interval: float | str = 10.0,
        timeout: float | str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        stop_on_timeout: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(params=params, **kwargs)
        self.repo = repo
        self.job = job
        self.job_params = task_job_params(self)
        self.wait_for_completion = wait_for_completion
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.deferrable = deferrable
        self.stop_on_timeout = stop_on_timeout
        self._started = False
        self._run_id: int | None = None
        self._after_run_id: int | None = None

    # ---- helpers -------------------------------------------------------------------------------
    def _deadline(self, started: float) -> float | None:
        """Wall-clock deadline from ``timeout`` and ``execution_timeout``, whichever comes first."""
        limits = []
        timeout = parse_seconds_param(self.timeout, "timeout", optional=True)
        if timeout is not None:
            limits.append(timeout)
        if self.execution_timeout is not None:
            limits.append(self.execution_timeout.total_seconds())
        return started + min(limits) if limits else None

    def _previous_run(self, context: Context) -> JobRun | None:
        """On a retry, the run the previous try started, if it is still going or already succeeded.

        Airflow 3.3+ keeps the run's start time in ``task_state_store`` (the store behind
        ``ResumableJobMixin``), so the exact run is found. Below 3.3, a retry adopts the job's latest
        run when it is still going: that is the previous try's run unless someone else started one.
        """
        store = context.get("task_state_store")  # type: ignore[call-overload]
        if store is not None:
            stored = store.get(RUN_STATE_KEY)
            if not stored:
                return None
            run = self.hook.get_latest_job_run(
                self.repo,
                self.job,
                since=datetime.fromisoformat(str(stored)),
                run_id=run_id_of(store.get(RUN_ID_STATE_KEY)),
            )
            if run is not None and (not run.status.is_terminal or run.status.is_success):
                return run
            return None
        ti = context["ti"]
        if int(getattr(ti, "try_number", 1) or 1) <= 1:
            return None
        latest = self.hook.get_latest_job_run(self.repo, self.job)
        if latest is not None and not latest.status.is_terminal:
            return latest
        return None

    def _newest_run_id(self) -> int | None:
        """Id of the job's newest run before we start one, so that run is never taken for ours."""
        try:
            runs = self.hook.get_job_history(self.repo, self.job, size=1)
        except Exception as exc:
            self.log.warning("could not read the history of job %r before starting it: %s", self.job, exc)
            return None
        return next((run.run_id for run in runs), None)

    def _our_run(self, started_at: datetime) -> JobRun | None:
        return self.hook.get_latest_job_run(
            self.repo, self.job, since=started_at, run_id=self._run_id, after_run_id=self._after_run_id
        )

    def _stop(self, reason: str) -> None:
        try:
            self.hook.stop_job(self.repo, self.job)
            self.log.info("stopped job %r of repo %r (%s)", self.job, self.repo, reason)
        except Exception as exc:
            self.log.warning("could not stop job %r: %s", self.job, exc)

    def _result(
        self, context: Context, started_at: datetime, reconnected: bool, run: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The XCom result; also what the outlets' asset events and lineage say about the run."""
        run_id = (run or {}).get("run_id")
        self._lineage_run_id = run_id if run_id is not None else self._run_id
        self.emit_outlet_events(
            context,
            None,  # the run writes the job's destination, which this task does not know: every pandora outlet
            job=self.job,
            source_repo=self.repo,
            run_id=self._lineage_run_id,
            status=(run or {}).get("status"),
            started_at=started_at.isoformat(),
            reconnected=reconnected,
        )
        return {
            "repo": self.repo,
            "job": self.job,
            "started_at": started_at.isoformat(),
            "reconnected": reconnected,
            "run": run,
        }

    def _finish(self, run: dict[str, Any], message: str) -> None:
        if run.get("status") != JobStatus.SUCCESS.value:
            raise PandoraJobFailedError(
                f"job {self.job!r} of repo {self.repo!r} ended {run.get('status')}: {message}", record=run
            )

    # ---- execute -------------------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, Any]:
        """Start a run (or adopt the previous try's) and wait for it to end; fails unless it succeeds.

        Returns ``{"repo", "job", "started_at", "reconnected", "run"}`` to XCom, ``run`` being the final run
        record. Raises :class:`~airflow_provider_pandora.exceptions.PandoraJobFailedError` when the run ends
        otherwise, and ``AirflowException`` when it does not end within the timeout.
        """
        self.check_outlets()
        push_console_url(self, context, self.repo, self.job)
        clock_start = time.time()
        interval = parse_seconds_param(self.poll_interval, "poll_interval")  # refused before anything starts
        deadline = self._deadline(clock_start)
        started_at, reconnected = self._adopt_or_start(context)
        if not self.wait_for_completion:
            run = self._our_run(started_at)
            return self._result(context, started_at, reconnected, run.to_dict() if run else None)
        policy = PollPolicy(interval, deadline)
        if self.deferrable:
            run = self._our_run(started_at)
            if run is None or not run.status.is_terminal:
                self.defer(
                    trigger=PandoraJobTrigger(
                        self.repo,
                        self.job,
                        pandora_conn_id=self.pandora_conn_id,
                        poll_interval=policy.interval,
                        since=started_at.isoformat(),
                        end_time=policy.end_time,
                        run_id=self._run_id,
                        after_run_id=self._after_run_id,
                    ),
                    method_name="execute_complete",
                    kwargs={"started_at": started_at.isoformat(), "reconnected": reconnected},
                    timeout=None,
                )  # raises TaskDeferred: the wait goes on in the triggerer
            assert run is not None
        else:
            try:
                run = self.hook.wait_for_job_run(
                    self.repo,
                    self.job,
                    since=started_at,
                    run_id=self._run_id,
                    after_run_id=self._after_run_id,
                    policy=policy,
                )
            except PandoraWaitTimeoutError as exc:
                if self.stop_on_timeout:
                    self._stop("timeout")
                raise AirflowException(str(exc)) from exc
        self._finish(run.to_dict(), run.message)
        self.log.info("job %r succeeded", self.job)
        return self._result(context, started_at, reconnected, run.to_dict())

    def _adopt_or_start(self, context: Context) -> tuple[datetime, bool]:
        """The start time of the run to wait for (the previous try's, or one started now) and whether adopted."""
        previous = self._previous_run(context)
        if previous is not None and previous.start_time is not None:
            self._run_id = previous.run_id
            self._started = True
            self.log.info(
                "reconnecting to run of job %r started at %s (%s)", self.job, previous.start_time, previous.status.value
            )
            return previous.start_time, True
        self._after_run_id = self._newest_run_id()
        started_at = datetime.now(UTC) - START_SLACK
        answer = self.hook.start_job(self.repo, self.job, params=self.job_params)
        self._run_id = run_id_of(answer)
        self._started = True
        run_note = f" (run {self._run_id})" if self._run_id is not None else ""
        self.log_done(f"started job {self.job!r} of repo {self.repo!r}{run_note}")
        store = context.get("task_state_store")  # type: ignore[call-overload]
        if store is not None:
            store.set(RUN_STATE_KEY, started_at.isoformat())
            if self._run_id is not None:
                store.set(RUN_ID_STATE_KEY, str(self._run_id))
        return started_at, False

    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any] | None = None,
        started_at: str = "",
        reconnected: bool = False,
    ) -> dict[str, Any]:
        """Resume after the trigger: succeed, fail with the history message, or stop the job on timeout."""
        if not event or "status" not in event:
            raise AirflowException(f"job {self.job!r}: the trigger sent no usable event ({event!r})")
        status = event["status"]
        message = str(event.get("message") or "")
        if status == "timeout":
            if self.stop_on_timeout:
                self._stop("timeout")
            raise AirflowException(message)
        if status == "error":
            raise AirflowException(f"job {self.job!r}: waiting failed: {message}")
        run = event.get("run") or {}
        self._lineage_run_id = run.get("run_id")
        self._finish(run, message)
        self.log.info("job %r succeeded", self.job)
        when = datetime.fromisoformat(started_at) if started_at else datetime.now(UTC)
        return self._result(context, when, reconnected, run)

    _lineage_run_id: int | None = None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The job's SQL inputs, destination and SQL, and the run as ``externalQuery``; empty if nothing started.

        The job's definition (SQL, destination) is read here with one GET, which runs only when OpenLineage asks,
        never in ``execute``; if that fails, the source repo and the run id alone.
        """
        run_id = self._lineage_run_id if self._lineage_run_id is not None else self._run_id
        if not self._started and run_id is None:
            return lineage.empty_lineage()
        code: str | None = None
        dest: str | None = None
        try:
            job = self.hook.get_job(self.repo, self.job)
            code = job.get("code") or (job.get("computation") or {}).get("code")
            dest = job.get("to") or job.get("destRepoName")
        except Exception as exc:  # lineage never fails the task
            self.log.debug("could not read job %r for lineage: %s", self.job, exc)
        result = sql_lineage(self, self.repo, code, str(dest) if dest else None)
        result.run_facets.update(lineage.external_query_facets(self.hook.config, run_id))
        return result

    def on_kill(self) -> None:
        """Stop the job when the task is killed or hits ``execution_timeout`` while running on a worker."""
        if self._started:
            self._stop("task killed")


class PandoraStopJobOperator(PandoraBaseOperator):
    """Stop an offline job's current run."""

    template_fields: Sequence[str] = ("pandora_conn_id", "repo", "job")
    operator_extra_links = (PandoraConsoleLink(),)

    def __init__(self, *, repo: str, job: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repo = repo
        self.job = job

    def execute(self, context: Context) -> dict[str, Any]:
        """Stop the job's running run; returns ``{"repo", "job", "action": "stopped"}`` to XCom."""
        push_console_url(self, context, self.repo, self.job)
        self.hook.stop_job(self.repo, self.job)
        self.log_done(f"stopped job {self.job!r} of repo {self.repo!r}")
        return {"repo": self.repo, "job": self.job, "action": "stopped"}
