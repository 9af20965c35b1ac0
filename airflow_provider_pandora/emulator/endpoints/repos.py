"""``/v2/repos``: realtime (``rt``) and ``kodo`` repos, their schemas and the cascade rules."""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_pandora.emulator.core.errors import api_error
from airflow_provider_pandora.emulator.core.service import Engine
from airflow_provider_pandora.emulator.http.framing import Request, Response, ok
from airflow_provider_pandora.emulator.values import json_default
from airflow_provider_pandora.schema import (
    KODO_FILE_TYPES,
    REPO_TYPES,
    Field,
    check_choice,
    check_region,
    check_schema_extension,
    parse_schema,
    schema_to_json,
)

MAX_SAMPLE = 10


def new_repo_doc(
    engine: Engine,
    name: str,
    fields: tuple[Field, ...] | list[Field],
    *,
    region: str = "nb",
    group: str | None = None,
    derived_from: str = "",
    derived_kind: str = "",
) -> dict[str, Any]:
    """A new realtime repo document (the caller stores it); also used for repos a transform or job creates."""
    now = engine.now_text()
    return {
        "name": name,
        "region": region,
        "type": "rt",
        "group": group or "",
        "schema": schema_to_json(fields),
        "derivedFrom": derived_from,
        "derivedKind": derived_kind,
        "options": None,
        "description": None,
        "createTime": now,
        "updateTime": now,
    }


def create_repo(engine: Engine, doc: dict[str, Any]) -> None:
    """Store a repo and its points table (inside the caller's transaction)."""
    engine.store.put("repo", doc["name"], doc)
    engine.store.create_points(doc["name"])


def create(engine: Engine, req: Request) -> Response:
    """``POST /v2/repos/<repo>``: checks region, type and schema; kodo repos need a bucket and no group."""
    name = req.params["repo"]
    body = req.json()
    region = check_region(body.get("region") or "nb")
    rtype = check_choice(body.get("type") or "rt", REPO_TYPES, "type", code="E18109")
    fields = parse_schema(body.get("schema"), "schema")
    group = body.get("group") or None
    doc = new_repo_doc(engine, name, fields, region=region, group=group)
    doc["type"] = rtype
    doc["options"] = body.get("options")
    doc["description"] = body.get("description")
    if rtype == "kodo":
        if group:
            raise api_error("E18109", "kodo repos read files from a bucket and belong to no group; leave group empty")
        bucket, key_prefix, file_type = body.get("bucket"), body.get("keyPrefix"), body.get("fileType")
        if not isinstance(bucket, str) or not bucket:
            raise api_error("E18109", "kodo repos need bucket, keyPrefix and fileType; bucket is missing")
        if key_prefix is not None and not isinstance(key_prefix, str):
            raise api_error("E18109", f"keyPrefix {key_prefix!r} must be text")
        check_choice(file_type, KODO_FILE_TYPES, "fileType", code="E18109")
        doc.update(bucket=bucket, keyPrefix=key_prefix or "", fileType=file_type)
    with engine.store.atomic():
        if engine.store.get("repo", name) is not None:
            raise api_error("E18101", f"repo {name!r} already exists")
        if group:
            group_doc = engine.store.get("group", group)
            if group_doc is None:
                raise api_error("E18120", f"group {group!r} does not exist")
            if group_doc.get("region") != region:
                raise api_error("E18222", f"group {group!r} is in region {group_doc.get('region')!r}, not {region!r}")
        create_repo(engine, doc)
    return ok()


def view(doc: dict[str, Any]) -> dict[str, Any]:
    """A repo as the service shows it (internal fields left out)."""
    out = {
        key: doc.get(key)
        for key in (
            "name",
            "region",
            "type",
            "group",
            "schema",
            "derivedFrom",
            "options",
            "description",
            "createTime",
            "updateTime",
        )
    }
    if doc.get("type") == "kodo":
        out.update(bucket=doc.get("bucket"), keyPrefix=doc.get("keyPrefix"), fileType=doc.get("fileType"))
    return out


def get(engine: Engine, req: Request) -> Response:
    """``GET /v2/repos/<repo>``."""
    return ok(view(engine.repo(req.params["repo"])))


def exists(engine: Engine, req: Request) -> Response:
    """``GET /v2/repos/<repo>/exists``: ``{"exist": bool}``, never a 404."""
    return ok({"exist": engine.store.get("repo", req.params["repo"]) is not None})


def list_all(engine: Engine, req: Request) -> Response:
    """``GET /v2/repos``: summary of each repo (no schema)."""
    repos = [
        {key: doc.get(key) for key in ("name", "region", "type", "group", "derivedFrom", "description")}
        for doc in engine.store.docs("repo")
    ]
    return ok({"repos": repos})


def update(engine: Engine, req: Request) -> Response:
    """``PUT /v2/repos/<repo>``: a new schema that may only add fields; the description may change."""
    name = req.params["repo"]
    body = req.json()
    fields = parse_schema(body.get("schema"), "schema")
    with engine.store.atomic():
        doc = engine.repo(name)
        check_schema_extension(engine.fields(doc), fields)
        doc.update(schema=schema_to_json(fields), updateTime=engine.now_text())
        if "description" in body:
            doc["description"] = body.get("description")
        engine.store.put("repo", name, doc)
    return ok()


def delete(engine: Engine, req: Request) -> Response:
    """``DELETE /v2/repos/<repo>``: refused (E18112) while transforms or exports still read from it."""
    name = req.params["repo"]
    store = engine.store
    with store.atomic():
        engine.repo(name)
        transforms = [t["name"] for t in store.docs("transform", scope=name)]
        exports = [e["name"] for e in store.docs("export", scope=name)]
        if transforms or exports:
            parts = []
            if transforms:
                parts.append(f"transform(s) {', '.join(transforms)}")
            if exports:
                parts.append(f"export(s) {', '.join(exports)}")
            raise api_error("E18112", f"repo {name!r} still has {' and '.join(parts)}; delete them first")
        feeding = [t for t in store.docs("transform") if t.get("to") == name]
        if feeding:
            raise api_error(
                "E18206",
                f"repo {name!r} is the destination of transform {feeding[0]['name']!r} of repo "
                f"{feeding[0]['repo']!r}; delete the transform first",
            )
        jobs = [j["name"] for j in store.docs("job", scope=name)]
        for job in jobs:
            engine.runner.stop_run(name, job)
            store.delete_runs(name, job)
            store.delete("job", job, scope=name)
        store.delete("repo", name)
        store.drop_points(name)
    return ok()


def sample(engine: Engine, req: Request) -> Response:
    """``GET /v2/repos/<repo>/data?count=N``: the latest N (at most 10) points."""
    name = req.params["repo"]
    try:
        count = int(req.query.get("count") or MAX_SAMPLE)
    except ValueError:
        raise api_error("E18007", f"count {req.query.get('count')!r} is not a number") from None
    count = max(1, min(count, MAX_SAMPLE))
    engine.repo(name)
    total = engine.store.count(name)
    points = [p for _, p in engine.typed_points(name, offset=max(0, total - count))]
    return ok({"records": json.loads(json.dumps(points, default=json_default))})
