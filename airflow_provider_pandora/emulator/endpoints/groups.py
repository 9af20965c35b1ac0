"""``/v2/groups``: resource pools, ``idle`` or ``running``."""

from __future__ import annotations

from airflow_provider_pandora.emulator.core.errors import api_error
from airflow_provider_pandora.emulator.core.service import Engine
from airflow_provider_pandora.emulator.http.framing import Request, Response, ok
from airflow_provider_pandora.schema import check_container, check_region


def create(engine: Engine, req: Request) -> Response:
    """``POST /v2/groups/<group>``: checks region and container; a duplicate name is E18218."""
    name = req.params["group"]
    body = req.json()
    region = check_region(body.get("region"))
    container = check_container(body.get("container"))
    allocate = body.get("allocateOnStart")
    if allocate is not None and not isinstance(allocate, bool):
        raise api_error("E18007", f"allocateOnStart {allocate!r} must be true or false")
    now = engine.now_text()
    with engine.store.atomic():
        if engine.store.get("group", name) is not None:
            raise api_error("E18218", f"group {name!r} already exists")
        doc = {
            "name": name,
            "region": region,
            "container": container,
            "allocateOnStart": bool(allocate),
            "started": bool(allocate),
            "createTime": now,
            "updateTime": now,
        }
        engine.store.put("group", name, doc)
    return ok()


def update(engine: Engine, req: Request) -> Response:
    """``PUT /v2/groups/<group>``: only the container can change."""
    name = req.params["group"]
    body = req.json()
    container = check_container(body.get("container"))
    with engine.store.atomic():
        doc = engine.existing("group", name)
        doc.update(container=container, updateTime=engine.now_text())
        engine.store.put("group", name, doc)
    return ok()


def _set_started(engine: Engine, req: Request, started: bool) -> Response:
    name = req.params["group"]
    with engine.store.atomic():
        doc = engine.existing("group", name)
        doc.update(started=started, updateTime=engine.now_text())
        engine.store.put("group", name, doc)
    return ok()


def start(engine: Engine, req: Request) -> Response:
    """``POST /v2/groups/<group>/actions/start``."""
    return _set_started(engine, req, True)


def stop(engine: Engine, req: Request) -> Response:
    """``POST /v2/groups/<group>/actions/stop``."""
    return _set_started(engine, req, False)


def list_all(engine: Engine, req: Request) -> Response:
    """``GET /v2/groups``: name, region and container of each group."""
    groups = [
        {"name": g["name"], "region": g["region"], "container": g["container"]} for g in engine.store.docs("group")
    ]
    return ok({"groups": groups})


def get(engine: Engine, req: Request) -> Response:
    """``GET /v2/groups/<group>``: the container carries the live ``status`` (running or idle)."""
    name = req.params["group"]
    doc = engine.existing("group", name)
    status = engine.group_status(name)
    return ok(
        {
            "name": name,
            "region": doc["region"],
            "container": {**doc["container"], "status": status},
            "allocateOnStart": doc.get("allocateOnStart", False),
            "createTime": doc["createTime"],
            "updateTime": doc["updateTime"],
        }
    )


def delete(engine: Engine, req: Request) -> Response:
    """``DELETE /v2/groups/<group>``: refused (E18215) while repos still use the group."""
    name = req.params["group"]
    with engine.store.atomic():
        engine.existing("group", name)
        users = [r["name"] for r in engine.store.docs("repo") if r.get("group") == name]
        if users:
            raise api_error("E18215", f"group {name!r} is in use by repo(s) {', '.join(sorted(users))}")
        engine.store.delete("group", name)
    return ok()
