"""Offline jobs at the spec's paths ``/v2/repos/<repo>/jobs/<job>`` (with the spec's missing ``/`` restored).

A job runs its SQL over the whole source repo (or the files of a ``kodo`` repo) into its destination
repo: when started (``once``), or by itself on its ``loop``/``crontab`` schedule. The history lists
runs newest first with ``startTime``, ``endTime``, ``status`` (Running, then Success, Fail or Cancel)
and ``message``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow_provider_pandora.emulator import sql
from airflow_provider_pandora.emulator.core.errors import api_error
from airflow_provider_pandora.emulator.core.service import Engine
from airflow_provider_pandora.emulator.delivery import schedules
from airflow_provider_pandora.emulator.endpoints.repos import create_repo, new_repo_doc
from airflow_provider_pandora.emulator.endpoints.transforms import infer_fields
from airflow_provider_pandora.emulator.http.framing import Request, Response, ok
from airflow_provider_pandora.schema import check_container, check_params, check_scheduler

MAX_HISTORY_SIZE = 1000


def submit(engine: Engine, req: Request) -> Response:
    """``POST /v2/repos/<repo>/jobs/<job>/to/<dest>``: checks code, container, scheduler and params before storing."""
    repo = req.params["repo"]
    name = req.params["job"]
    dest = req.params["dest"]
    body = req.json()
    code = body.get("code")
    if not isinstance(code, str) or not code.strip():
        raise api_error("E18614", "code is required: the job's SQL")
    container = check_container(body.get("container"))
    sched = check_scheduler(body.get("scheduler"))
    params = check_params(body.get("params"))
    now = engine.now()
    try:
        upcoming = schedules.next_fire(sched, None, datetime.fromtimestamp(now, UTC))
    except (ValueError, RuntimeError) as err:
        raise api_error("E18614", str(err)) from None
    if repo == dest:
        raise api_error("E18614", f"the job's source and destination are both {repo!r}")
    store = engine.store
    with store.atomic():
        src = engine.repo(repo)
        fields = engine.fields(src)
        try:
            sql.check_sql(code, {repo: fields})
        except sql.SqlError as err:
            raise api_error("E18209", str(err)) from None
        if store.get("job", name, scope=repo) is not None:
            raise api_error("E18605", f"job {name!r} of repo {repo!r} already exists")
        dest_doc = store.get("repo", dest)
        if dest_doc is not None:
            if dest_doc.get("derivedKind") == "transform" or dest_doc.get("type") == "kodo":
                raise api_error("E18205", f"repo {dest!r} cannot take this job's output")
        else:
            defaults = {p["name"]: p["value"] for p in params}
            doc = new_repo_doc(
                engine,
                dest,
                infer_fields(code, repo, fields, defaults),
                region=src.get("region") or "nb",
                group=src.get("group") if src.get("type") != "kodo" else None,
                derived_from=name,
                derived_kind="job",
            )
            create_repo(engine, doc)
        job = {
            "name": name,
            "repo": repo,
            "to": dest,
            "code": code,
            "container": container,
            "scheduler": sched,
            "params": params,
            "createTime": engine.now_text(),
            "state": {"nextFire": upcoming.timestamp() if upcoming and sched["type"] != "once" else None},
        }
        store.put("job", name, job, scope=repo)
    return ok()


def get(engine: Engine, req: Request) -> Response:
    """``GET /v2/repos/<repo>/jobs/<job>``: ``status`` is that of the latest run (``Ready`` before any run)."""
    repo, name = req.params["repo"], req.params["job"]
    doc = engine.existing("job", name, repo=repo)
    latest = engine.store.runs(repo, name, limit=1)
    view = {k: doc[k] for k in ("name", "repo", "to", "code", "container", "scheduler", "params", "createTime")}
    view["srcs"] = [{"name": repo, "type": "datasource" if engine.repo(repo).get("type") == "kodo" else "repo"}]
    view["status"] = latest[0][1]["status"] if latest else "Ready"
    return ok(view)


def list_all(engine: Engine, req: Request) -> Response:
    """``GET /v2/repos/<repo>/jobs``: name, destination, code and scheduler of each job."""
    repo = req.params["repo"]
    engine.repo(repo)
    jobs = [{k: j[k] for k in ("name", "to", "code", "scheduler")} for j in engine.store.docs("job", scope=repo)]
    return ok({"jobs": jobs})


def delete(engine: Engine, req: Request) -> Response:
    """``DELETE /v2/repos/<repo>/jobs/<job>``: stops a running run and forgets the job's runs too."""
    repo, name = req.params["repo"], req.params["job"]
    with engine.store.atomic():
        engine.forget("job", name, repo=repo)
        engine.runner.stop_run(repo, name)
        engine.store.delete_runs(repo, name)
    return ok()


def start(engine: Engine, req: Request) -> Response:
    """``POST /v2/repos/<repo>/jobs/<job>/actions/start``: starts a run now; answers ``{"runId"}``."""
    repo, name = req.params["repo"], req.params["job"]
    params = {p["name"]: p["value"] for p in check_params(req.json().get("params"))}
    engine.existing("job", name, repo=repo)
    run_id = engine.runner.start_run(repo, name, params)
    return ok({"runId": run_id})


def stop(engine: Engine, req: Request) -> Response:
    """Cancel the running run; stopping a job that is not running is a no-op (so retries are safe)."""
    repo, name = req.params["repo"], req.params["job"]
    engine.existing("job", name, repo=repo)
    engine.runner.stop_run(repo, name)
    return ok()


def _positive(req: Request, key: str, default: int) -> int:
    raw = req.query.get(key)
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise api_error("E18007", f"{key} {raw!r} must be a whole number >= 1") from None
    if value < 1:
        raise api_error("E18007", f"{key} {raw!r} must be a whole number >= 1")
    return value


def history(engine: Engine, req: Request) -> Response:
    """The spec's bare list, newest first, paged by ``page`` (from 1) and ``size``."""
    repo, name = req.params["repo"], req.params["job"]
    page = _positive(req, "page", 1)
    size = min(_positive(req, "size", 20), MAX_HISTORY_SIZE)
    engine.existing("job", name, repo=repo)
    runs = engine.store.runs(repo, name, offset=(page - 1) * size, limit=size)
    return ok(
        [
            {
                "runId": run_id,
                "startTime": doc.get("startTime"),
                "endTime": doc.get("endTime") or "",
                "status": doc.get("status"),
                "message": doc.get("message") or "",
            }
            for run_id, doc in runs
        ]
    )
