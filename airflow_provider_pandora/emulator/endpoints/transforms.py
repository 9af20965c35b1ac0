"""``/v2/repos/<repo>/transforms``: realtime SQL (and stored plugin) transforms into a destination repo."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from airflow_provider_pandora.emulator import sql
from airflow_provider_pandora.emulator.core.errors import api_error
from airflow_provider_pandora.emulator.core.service import Engine
from airflow_provider_pandora.emulator.endpoints.repos import create_repo, new_repo_doc
from airflow_provider_pandora.emulator.http.framing import Request, Response, ok
from airflow_provider_pandora.schema import (
    PLUGIN_OUTPUT_TYPES,
    WHENCE_VALUES,
    Field,
    check_choice,
    check_container,
    check_interval,
    check_name,
    check_plugin_name,
)


def check_plugin(value: Any) -> dict[str, Any]:
    """``{"name", "output": [{"name", "type"}]}`` with types defaulted to ``string``."""
    if not isinstance(value, Mapping):
        raise api_error("E18207", 'plugin must be {"name": ..., "output": [{"name", "type"}]}')
    name = check_plugin_name(value.get("name"), "plugin.name")
    outputs = value.get("output") or []
    if not isinstance(outputs, list) or not outputs:
        raise api_error("E18207", "plugin.output must list the plugin's output fields")
    checked = []
    for index, item in enumerate(outputs):
        if not isinstance(item, Mapping):
            raise api_error("E18207", f'plugin.output[{index}] must be {{"name", "type"}}')
        field = check_name(item.get("name"), f"plugin.output[{index}].name", code="E18106")
        ftype = check_choice(
            item.get("type") or "string", sorted(PLUGIN_OUTPUT_TYPES), f"plugin.output[{index}].type", code="E18211"
        )
        checked.append({"name": field, "type": ftype})
    return {"name": name, "output": checked}


def _check_sql(code: str, sources: Mapping[str, Any] | None = None) -> None:
    try:
        sql.check_sql(code, sources)
    except sql.SqlError as err:
        raise api_error("E18209", str(err)) from None


_SAMPLES: dict[str, tuple[Any, Any]] = {
    "long": (1, 1000),
    "float": (1.5, 1000.5),
    "boolean": (True, False),
    "date": (datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, 12, tzinfo=UTC)),
    "jsonstring": ({"a": 1}, {"a": 2}),
}


def _sample(field: Field, which: int) -> Any:
    if field.valtype == "array":
        return [_SAMPLES.get(field.elemtype or "string", ("a", "zzz"))[which]]
    if field.valtype == "map":
        return {child.key: _sample(child, which) for child in field.children}
    return _SAMPLES.get(field.valtype, ("a", "zzz"))[which]


def infer_fields(
    code: str, repo: str, fields: tuple[Field, ...], params: Mapping[str, str] | None = None
) -> list[Field]:
    """The destination repo's first schema: ``code``'s result columns over two made-up source points.

    Running on sample values types computed columns (``sum(hits)`` is a long) the way the first real
    run will; a column that got no value (filtered out) is left for the first run to add, unless it
    is named like a source field.
    """
    points = [{f.key: _sample(f, which) for f in fields} for which in (0, 1)]
    try:
        query = sql.substitute_params(code, params) if params is not None else code
        result = sql.run_sql(query, {repo: (fields, points)}, timeout=10)
    except sql.SqlError:
        return []
    known = {f.key.lower() for f in fields}
    return [f for f in result.fields if f.key.lower() in known or any(f.key in row for row in result.rows)]


def create(engine: Engine, req: Request) -> Response:
    """``POST /v2/repos/<repo>/transforms/<transform>/to/<dest>``: SQL and/or plugin, checked before storing."""
    repo = req.params["repo"]
    name = req.params["transform"]
    dest = req.params["dest"]
    body = req.json()
    mode, code, plugin_spec = body.get("mode"), body.get("code"), body.get("plugin")
    if mode not in (None, "", "sql"):
        raise api_error("E18203", f"transform mode {mode!r} is not supported; use sql")
    if code is not None and not isinstance(code, str):
        raise api_error("E18207", "code must be SQL text")
    if not code and not plugin_spec:
        raise api_error("E18207", "a transform needs SQL code, a plugin, or both")
    interval = check_interval(body.get("interval") or "1m")
    container = check_container(body["container"]) if body.get("container") is not None else None
    whence = check_choice(body.get("whence") or "newest", WHENCE_VALUES, "whence", code="E18207")
    plugin = check_plugin(plugin_spec) if plugin_spec else None
    if code:
        _check_sql(code)
    if repo == dest:
        raise api_error("E18204", f"the transform's source and destination are both {repo!r}")
    store = engine.store
    with store.atomic():
        src = engine.repo(repo)
        if src.get("type") == "kodo" or src.get("derivedKind") == "job":
            raise api_error("E18207", f"repo {repo!r} is offline data; realtime transforms need a realtime repo")
        if store.get("transform", name, scope=repo) is not None:
            raise api_error("E18201", f"transform {name!r} of repo {repo!r} already exists")
        if plugin and store.get("plugin", plugin["name"]) is None:
            raise api_error("E18216", f"plugin {plugin['name']!r} does not exist; upload it first")
        fields = engine.fields(src)
        if code:
            _check_sql(code, {repo: fields})
        dest_doc = store.get("repo", dest)
        if dest_doc is not None:
            owner = next((t for t in store.docs("transform") if t.get("to") == dest), None)
            if owner is not None:
                raise api_error("E18205", f"repo {dest!r} is already the destination of transform {owner['name']!r}")
            if dest_doc.get("type") == "kodo":
                raise api_error("E18205", f"repo {dest!r} is a kodo repo and cannot take a transform's output")
        else:
            if plugin:
                out_fields = [Field(o["name"], o["type"]) for o in plugin["output"]]
            else:
                out_fields = infer_fields(str(code), repo, fields)
            doc = new_repo_doc(
                engine,
                dest,
                out_fields,
                region=src.get("region") or "nb",
                group=src.get("group"),
                derived_from=name,
                derived_kind="transform",
            )
            create_repo(engine, doc)
        spec: dict[str, Any] = {"mode": "sql" if code else None, "code": code, "plugin": plugin}
        spec.update(interval=interval, container=container, whence=whence)
        doc = {
            "name": name,
            "repo": repo,
            "to": dest,
            "spec": {k: v for k, v in spec.items() if v is not None},
            "createTime": engine.now_text(),
            "state": {"offset": 0 if whence == "oldest" else store.max_seq(repo), "lastRun": engine.now(), "runs": 0},
        }
        store.put("transform", name, doc, scope=repo)
    return ok()


def view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The spec's ``{"name", "to", "spec"}``, with the spec's keys also at the top level for convenience."""
    spec = doc.get("spec") or {}
    state = doc.get("state") or {}
    return {
        **spec,
        "name": doc["name"],
        "from": doc["repo"],
        "to": doc["to"],
        "spec": spec,
        "createTime": doc.get("createTime"),
        "lastError": state.get("lastError") or "",
    }


def get(engine: Engine, req: Request) -> Response:
    """``GET /v2/repos/<repo>/transforms/<transform>``: ``Transform-Type`` says sql or plugin."""
    doc = engine.existing("transform", req.params["transform"], repo=req.params["repo"])
    kind = "plugin" if doc["spec"].get("plugin") else "sql"
    return ok(view(doc), headers={"Transform-Type": f"application/{kind}"})


def list_all(engine: Engine, req: Request) -> Response:
    """``GET /v2/repos/<repo>/transforms``: the repo's transforms in creation order."""
    return ok({"transforms": [view(doc) for doc in engine.children("transform", req.params["repo"])]})


def update(engine: Engine, req: Request) -> Response:
    """``PUT /v2/repos/<repo>/transforms/<transform>``: needs at least one of code, plugin, interval, container."""
    repo = req.params["repo"]
    name = req.params["transform"]
    body = req.json()
    code, plugin_spec = body.get("code"), body.get("plugin")
    interval, container = body.get("interval"), body.get("container")
    if not (code or plugin_spec or interval or container):
        raise api_error("E18207", "give at least one of code, plugin, interval or container to update")
    interval = check_interval(interval, update=True) if interval else None
    container = check_container(container) if container is not None else None
    plugin = check_plugin(plugin_spec) if plugin_spec else None
    if code:
        _check_sql(str(code))
    with engine.store.atomic():
        doc = engine.existing("transform", name, repo=repo)
        spec = doc["spec"]
        if code:
            _check_sql(str(code), {repo: engine.fields(engine.repo(repo))})
            spec.update(code=code, mode="sql")
        if plugin:
            old = {o["name"]: o["type"] for o in (spec.get("plugin") or {}).get("output", [])}
            new = {o["name"]: o["type"] for o in plugin["output"]}
            for key, otype in old.items():
                if new.get(key) != otype:
                    raise api_error("E18211", f"plugin output {key!r} ({otype}) cannot be removed or changed")
            spec["plugin"] = plugin
        if interval:
            spec["interval"] = interval
        if container:
            spec["container"] = container
        engine.store.put("transform", name, doc, scope=repo)
    return ok()


def delete(engine: Engine, req: Request) -> Response:
    """``DELETE /v2/repos/<repo>/transforms/<transform>``: 404 when it does not exist."""
    engine.forget("transform", req.params["transform"], repo=req.params["repo"])
    return ok()
