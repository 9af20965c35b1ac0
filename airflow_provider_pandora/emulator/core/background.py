"""What makes the emulator *run* what it is given: transforms, exports and offline jobs.

One background thread wakes every ``tick`` seconds and (1) runs the transforms whose interval has
passed over the points that arrived since their last run, (2) delivers new points of every export,
and (3) starts the ``loop``/``crontab`` jobs whose time has come. Each job run gets its own thread so
that ``stop`` can cancel it. The SQL, schedules and export formats are the pure modules
:mod:`~airflow_provider_pandora.emulator.sql` and :mod:`~airflow_provider_pandora.emulator.delivery`.

Plugin transforms are stored but not executed (a jar cannot run here); documented in the README.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from airflow_provider_pandora.emulator import sql
from airflow_provider_pandora.emulator.core.errors import ApiError, DeliveryError, api_error
from airflow_provider_pandora.emulator.core.state import EmulatorState
from airflow_provider_pandora.emulator.delivery import export_targets, schedules
from airflow_provider_pandora.emulator.delivery.export_allow import ExportPolicy, ExportRefused
from airflow_provider_pandora.emulator.delivery.kodo_source import iter_kodo_points
from airflow_provider_pandora.exceptions import PandoraValidationError
from airflow_provider_pandora.schema import Field
from airflow_provider_pandora.wire import PointEncoder

log = logging.getLogger(__name__)

TRANSFORM_BATCH = 200_000
"""At most this many new points per transform run (the rest waits for the next run)."""
EXPORT_ROUNDS = 20
"""Export batches per export per pass, so one busy export cannot starve the others."""
INTERVAL_SECONDS = {"5s": 5, "10s": 10, "20s": 20, "30s": 30, "1m": 60, "5m": 300, "10m": 600}
SQL_TIMEOUT = 600.0


def as_datetime(timestamp: float) -> datetime:
    """A Unix timestamp as an aware UTC ``datetime``, the form schedules work in."""
    return datetime.fromtimestamp(timestamp, UTC)


def encode_rows(fields: Sequence[Field], rows: Sequence[Mapping[str, Any]]) -> list[bytes]:
    """Result rows as wire lines for the destination repo (rows with no values are skipped)."""
    encoder = PointEncoder(fields)
    return [encoder.encode(row, where=f"result row {i}") for i, row in enumerate(rows, start=1) if row]


class Runner:
    """Executes transforms, exports and jobs over an emulator's state (the :class:`~.service.Engine`)."""

    def __init__(self, engine: EmulatorState, *, tick: float = 0.5, export_policy: ExportPolicy | None = None) -> None:
        self.engine = engine
        self.tick = tick
        #: Where ``http`` exports may deliver (nothing unless allowed; never the emulator itself).
        self.export_policy = export_policy if export_policy is not None else ExportPolicy()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._transform_lock = threading.Lock()
        self._export_lock = threading.Lock()
        self._runs_lock = threading.Lock()
        self._runs: dict[int, tuple[threading.Thread, threading.Event]] = {}
        self._retry_at: dict[tuple[str, str], tuple[float, int]] = {}

    # ---- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the background thread that runs due transforms, exports and job schedules every ``tick``."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="pandora-emulator-runner", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.pass_once()
            except Exception:  # keep the loop alive; the failure is visible in the log
                log.exception("emulator background pass failed")

    def pass_once(self) -> None:
        """One synchronous pass over transforms, exports and schedules (the background loop's step; tests call it)."""
        self.run_transforms(force=False)
        self.deliver_exports()
        self.fire_jobs()

    def stop(self) -> None:
        """Stop the background thread and cancel every running job run, waiting for them to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.cancel_all(join=True)

    def recover(self) -> None:
        """Runs left ``Running`` by a previous process can never finish: record them as failed."""
        for run_id, _, _, doc in self.engine.store.running_runs():
            doc.update(status="Fail", endTime=self.engine.now_text(), message="the emulator stopped during this run")
            self.engine.store.put_run(run_id, doc)

    def cancel_all(self, *, join: bool = False) -> None:
        """Mark every running job run ``Cancel`` and signal it to stop; ``join`` waits for their threads."""
        with self._runs_lock:
            entries = list(self._runs.items())
        for run_id, (_, event) in entries:
            self._mark(run_id, "Cancel", "the emulator was stopped or reset")
            event.set()
        if join:
            for _, (thread, _) in entries:
                thread.join(timeout=10)

    # ---- transforms ----------------------------------------------------------------------------------------
    def run_transforms(self, *, force: bool = True) -> int:
        """Run transforms (all of them when ``force``, else the due ones); returns how many produced output."""
        ran = 0
        with self._transform_lock:
            for transform in self.engine.store.docs("transform"):
                if force or self._due(transform):
                    ran += self._run_transform(transform)
        return ran

    def _due(self, transform: Mapping[str, Any]) -> bool:
        interval = INTERVAL_SECONDS.get(str(transform.get("spec", {}).get("interval") or "1m"), 60)
        last = float(transform.get("state", {}).get("lastRun") or 0.0)
        return self.engine.now() - last >= interval

    def _run_transform(self, transform: Mapping[str, Any]) -> int:
        engine, store = self.engine, self.engine.store
        repo, name, dest = transform["repo"], transform["name"], transform["to"]
        spec = transform.get("spec") or {}
        state = dict(transform.get("state") or {})
        now = engine.now()
        code = spec.get("code")
        if not code or spec.get("plugin"):
            store.update_state("transform", name, {"lastRun": now}, scope=repo)
            return 0
        try:
            batch = engine.typed_points(repo, after=int(state.get("offset") or 0), limit=TRANSFORM_BATCH)
            fields = engine.fields(engine.repo(repo))
        except (ApiError, sqlite3.Error):
            return 0  # the source went away meanwhile
        if not batch:
            store.update_state("transform", name, {"lastRun": now}, scope=repo)
            return 0
        error = ""
        written = 0
        try:
            result = sql.run_sql(code, {repo: (fields, [p for _, p in batch])}, timeout=SQL_TIMEOUT)
            dest_fields = engine.extend_schema(dest, result.fields)
            lines = encode_rows(dest_fields, result.rows)
            if lines:
                store.append(dest, lines)
            written = len(lines)
        except (sql.SqlError, PandoraValidationError, ApiError, sqlite3.Error) as err:
            error = str(err)
        store.update_state(
            "transform",
            name,
            {
                "offset": batch[-1][0],
                "lastRun": now,
                "runs": int(state.get("runs") or 0) + 1,
                "written": int(state.get("written") or 0) + written,
                "lastError": error,
            },
            scope=repo,
        )
        return 1

    # ---- exports ----------------------------------------------------------------------------------------------
    def deliver_exports(self) -> None:
        """Send every export the points that arrived since its last delivery (one export at a time)."""
        with self._export_lock:
            for export in self.engine.store.docs("export"):
                self._deliver(export)

    def _deliver(self, export: Mapping[str, Any]) -> None:
        engine, store = self.engine, self.engine.store
        repo, name, etype = export["repo"], export["name"], export["type"]
        spec = export.get("spec") or {}
        state = dict(export.get("state") or {})
        key = (repo, name)
        now = engine.now()
        retry_at, failures = self._retry_at.get(key, (0.0, 0))
        if retry_at > now:
            return
        rotate = spec.get("rotateInterval") if etype == "kodo" else None
        if rotate and now - float(state.get("lastFile") or 0.0) < float(rotate):
            return
        offset = int(state.get("offset") or 0)
        delivered = int(state.get("delivered") or 0)
        addresses: list[export_targets.Address] | None = None
        for _ in range(EXPORT_ROUNDS):
            try:
                batch = engine.typed_points(repo, after=offset, limit=export_targets.HTTP_BATCH_POINTS)
                fields = engine.fields(engine.repo(repo))
            except (ApiError, sqlite3.Error):
                return
            if not batch:
                break
            seqs = [seq for seq, _ in batch]
            points = [point for _, point in batch]
            patch: dict[str, Any] = {}
            try:
                if etype == "http":
                    if addresses is None:  # checked once a pass, only when there is something to deliver
                        addresses = self.export_policy.check(export_targets.http_destination(spec))
                    done = 0
                    fmt = str(spec.get("format") or "text").lower()
                    for count, body in export_targets.http_bodies(points, fields, fmt=fmt):
                        status = export_targets.deliver_http(spec, body, timeout=5.0, addresses=addresses)
                        if status != 200:
                            raise DeliveryError(f"{spec.get('host')}{spec.get('uri')} answered HTTP {status}")
                        done += count
                        offset, delivered = seqs[done - 1], delivered + count
                        store.update_state("export", name, {"offset": offset, "delivered": delivered}, scope=repo)
                else:
                    if etype == "kodo":
                        path = export_targets.write_kodo(engine.kodo_root, spec, points, as_datetime(now))
                        patch = {"lastFile": now, "files": int(state.get("files") or 0) + 1, "lastKey": str(path)}
                        state.update(patch)
                    offset, delivered = seqs[-1], delivered + len(seqs)
            except ExportRefused as err:
                self._refused(repo, name, state, err)
                return
            except (OSError, ValueError, DeliveryError, PandoraValidationError) as err:
                failures += 1
                self._retry_at[key] = (now + min(0.1 * 2**failures, 5.0), failures)
                failed = {"status": "retrying", "lastError": str(err), "failures": failures}
                if state.get("refused"):
                    failed["refused"] = ""
                store.update_state("export", name, failed, scope=repo)
                return
            patch.update(
                offset=offset, delivered=delivered, status="running", lastError="", lastDelivery=now, failures=0
            )
            if state.get("refused"):
                patch["refused"] = ""
            if not store.update_state("export", name, patch, scope=repo):
                return
            self._retry_at.pop(key, None)
            failures = 0
            if rotate:
                break

    def _refused(self, repo: str, name: str, state: Mapping[str, Any], err: ExportRefused) -> None:
        """Record a refused delivery (its points stay undelivered, from the same offset) and log it once.

        Checked again on every pass, so a spec that is changed to an allowed destination delivers at once.
        """
        text = str(err)
        if state.get("status") == "refused" and state.get("lastError") == text:
            return
        log.warning("export %r of repo %r: %s", name, repo, text)
        patch = {"status": "refused", "lastError": text, "refused": err.destination.authority}
        self.engine.store.update_state("export", name, patch, scope=repo)

    # ---- jobs ----------------------------------------------------------------------------------------------------
    def fire_jobs(self) -> None:
        """Start the ``loop``/``crontab`` jobs whose next fire time has passed."""
        engine = self.engine
        now = engine.now()
        for job in engine.store.docs("job"):
            sched = job.get("scheduler") or {}
            next_at = (job.get("state") or {}).get("nextFire")
            if sched.get("type") not in ("loop", "crontab") or next_at is None or float(next_at) > now:
                continue
            with contextlib.suppress(ApiError):  # still running from the previous fire: skip this one
                self.start_run(job["repo"], job["name"], {})
            upcoming = schedules.next_fire(sched, as_datetime(now), as_datetime(now))
            engine.store.update_state(
                "job",
                job["name"],
                {"lastFire": now, "nextFire": upcoming.timestamp() if upcoming else None},
                scope=job["repo"],
            )

    def start_run(self, repo: str, job_name: str, params: Mapping[str, str]) -> int:
        """Record a Running run and start its thread; E18621 while a run is going."""
        engine, store = self.engine, self.engine.store
        with store.atomic():
            job = store.get("job", job_name, scope=repo)
            if job is None:
                raise api_error("E18606", f"job {job_name!r} of repo {repo!r} does not exist")
            latest = store.runs(repo, job_name, limit=1)
            if latest and latest[0][1].get("status") == "Running":
                raise api_error("E18621", f"job {job_name!r} is already running (run {latest[0][0]})")
            merged = {p["name"]: p["value"] for p in job.get("params") or []}
            merged.update(params)
            doc = {"startTime": engine.now_text(), "endTime": "", "status": "Running", "message": "", "params": merged}
            run_id = store.add_run(repo, job_name, doc)
        event = threading.Event()
        thread = threading.Thread(
            target=self._execute,
            args=(run_id, job, merged, event),
            name=f"pandora-job-{job_name}-{run_id}",
            daemon=True,
        )
        with self._runs_lock:
            self._runs[run_id] = (thread, event)
        thread.start()
        return run_id

    def stop_run(self, repo: str, job_name: str) -> bool:
        """Cancel the job's running run, if any (recorded at once; the thread stops at its next check)."""
        latest = self.engine.store.runs(repo, job_name, limit=1)
        if not latest or latest[0][1].get("status") != "Running":
            return False
        run_id = latest[0][0]
        self._mark(run_id, "Cancel", "stopped by the user")
        with self._runs_lock:
            entry = self._runs.get(run_id)
        if entry is not None:
            entry[1].set()
        return True

    def _mark(self, run_id: int, status: str, message: str) -> bool:
        """End a run unless it already ended; returns whether this call ended it."""
        store = self.engine.store
        with store.atomic():
            doc = store.get_run(run_id)
            if doc is None or doc.get("status") != "Running":
                return False
            doc.update(status=status, endTime=self.engine.now_text(), message=message)
            store.put_run(run_id, doc)
            return True

    def _source(self, job: Mapping[str, Any]) -> tuple[tuple[Field, ...], list[dict[str, Any]]]:
        engine = self.engine
        repo = engine.repo(job["repo"])
        fields = engine.fields(repo)
        if repo.get("type") == "kodo":
            points = list(
                iter_kodo_points(
                    engine.kodo_root, repo.get("bucket") or "", repo.get("keyPrefix") or "", repo["fileType"], fields
                )
            )
            return fields, points
        return fields, [point for _, point in engine.typed_points(job["repo"])]

    def _execute(self, run_id: int, job: Mapping[str, Any], params: Mapping[str, str], event: threading.Event) -> None:
        engine, store = self.engine, self.engine.store
        try:
            code = str(job["code"])
            settings = sql.directives(code)
            if float(settings.get("sleep") or 0) > 0 and event.wait(float(settings["sleep"])):
                raise sql.SqlCancelled("stopped")
            if "fail" in settings:
                raise sql.SqlError(settings["fail"])
            query = sql.substitute_params(code, params, now=as_datetime(engine.now()))
            fields, points = self._source(job)
            result = sql.run_sql(query, {job["repo"]: (fields, points)}, should_stop=event.is_set)
            with store.atomic():
                current = store.get_run(run_id)
                if current is None or current.get("status") != "Running":
                    return
                dest_fields = engine.extend_schema(job["to"], result.fields)
                lines = encode_rows(dest_fields, result.rows)
                if lines:
                    store.append(job["to"], lines)
                self._mark(run_id, "Success", f"{len(lines)} points written to {job['to']}")
        except sql.SqlCancelled:
            self._mark(run_id, "Cancel", "stopped by the user")
        except (sql.SqlError, ValueError, ApiError, sqlite3.Error) as err:
            self._mark(run_id, "Fail", err.text if isinstance(err, ApiError) else str(err))
        except Exception as err:
            log.exception("job run %s failed unexpectedly", run_id)
            self._mark(run_id, "Fail", f"internal error: {err!r}")
        finally:
            with self._runs_lock:
                self._runs.pop(run_id, None)
