"""``/v2/groups``: resource pools, ``idle`` or ``running``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_pandora.emulator.common import ApiError, Request, Response, api_error, ok
from airflow_provider_pandora.exceptions import PandoraValidationError
from airflow_provider_pandora.schema import check_container, check_name, check_region

if TYPE_CHECKING:
    from airflow_provider_pandora.emulator.engine import Engine


def _name(req: Request) -> str:
    try:
        return check_name(req.params["group"], "group", code="E18221")
    except PandoraValidationError as err:
        raise ApiError.from_validation(err) from None


def _get(engine: Engine, name: str) -> dict[str, Any]:
    doc = engine.store.get("group", name)
    if doc is None:
        raise api_error("E18120", f"group {name!r} does not exist")
    return doc


def create(engine: Engine, req: Request) -> Response:
    name = _name(req)
    body = req.json()
    try:
        region = check_region(body.get("region"))
        container = check_container(body.get("container"))
    except PandoraValidationError as err:
        raise ApiError.from_validation(err) from None
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
    name = _name(req)
    body = req.json()
    try:
        container = check_container(body.get("container"))
    except PandoraValidationError as err:
        raise ApiError.from_validation(err) from None
    with engine.store.atomic():
        doc = _get(engine, name)
        doc.update(container=container, updateTime=engine.now_text())
        engine.store.put("group", name, doc)
    return ok()


def _set_started(engine: Engine, req: Request, started: bool) -> Response:
    name = _name(req)
    with engine.store.atomic():
        doc = _get(engine, name)
        doc.update(started=started, updateTime=engine.now_text())
        engine.store.put("group", name, doc)
    return ok()


def start(engine: Engine, req: Request) -> Response:
    return _set_started(engine, req, True)


def stop(engine: Engine, req: Request) -> Response:
    return _set_started(engine, req, False)


def list_all(engine: Engine, req: Request) -> Response:
    groups = [
        {"name": g["name"], "region": g["region"], "container": g["container"]} for g in engine.store.docs("group")
    ]
    return ok({"groups": groups})


def get(engine: Engine, req: Request) -> Response:
    name = _name(req)
    doc = _get(engine, name)
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
    name = _name(req)
    with engine.store.atomic():
        _get(engine, name)
        users = [r["name"] for r in engine.store.docs("repo") if r.get("group") == name]
        if users:
            raise api_error("E18215", f"group {name!r} is in use by repo(s) {', '.join(sorted(users))}")
        engine.store.delete("group", name)
    return ok()
