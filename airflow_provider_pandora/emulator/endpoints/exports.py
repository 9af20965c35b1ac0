"""``/v2/repos/<repo>/exports``: http, kodo, tsdb, logdb and mongo exports.

``http`` and ``kodo`` really deliver (see :mod:`~airflow_provider_pandora.emulator.core.background`);
``tsdb``, ``logdb`` and ``mongo`` have no external system here, so they are validated and count the points
they would have delivered.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from airflow_provider_pandora.emulator.core.errors import api_error
from airflow_provider_pandora.emulator.core.service import Engine
from airflow_provider_pandora.emulator.http.framing import Request, Response, ok
from airflow_provider_pandora.schema import (
    WHENCE_VALUES,
    check_choice,
    check_export_spec,
    normalise_export_type,
)

#: Spec keys whose values reference source fields as ``#field``.
FIELD_REFERENCES = {"kodo": ("fields",), "tsdb": ("tags", "fields", "timestamp"), "logdb": ("doc",)}


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.startswith("#"):
        yield value[1:]
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def check_spec(etype: str, spec: Any, keys: set[str]) -> dict[str, Any]:
    """The shared spec rules plus: every ``#field`` reference names a field of the source repo.

    The Go SDK sends kodo's optional ``format`` even when its caller left it unset (no ``omitempty``,
    pandora-go-sdk/pipeline/models.go:967), as ``""``: that is the seed's default (json), so it is checked as
    absent and kept as sent (delivery reads ``""`` as json too).
    """
    if etype == "kodo" and isinstance(spec, Mapping) and spec.get("format") == "":
        return {**check_spec(etype, {k: v for k, v in spec.items() if k != "format"}, keys), "format": ""}
    checked = check_export_spec(etype, spec)
    for key in FIELD_REFERENCES.get(etype, ()):
        for ref in _references(checked.get(key)):
            if ref.split(".", 1)[0] not in keys:
                raise api_error(
                    "E18305", f"spec.{key} references #{ref}, which is not a field of the repo ({', '.join(keys)})"
                )
    return checked


def create(engine: Engine, req: Request) -> Response:
    """``POST /v2/repos/<repo>/exports/<export>``: refuses kodo repos, duplicates and a spec the export type refuses."""
    repo = req.params["repo"]
    name = req.params["export"]
    body = req.json()
    etype = normalise_export_type(body.get("type"), "type")
    sent_whence = body.get("whence") or None  # echoed as sent; an export created without one starts at the oldest
    whence = check_choice(sent_whence or "oldest", WHENCE_VALUES, "whence", code="E18305")
    store = engine.store
    with store.atomic():
        src = engine.repo(repo)
        if src.get("type") == "kodo":
            raise api_error("E18305", f"repo {repo!r} is a kodo repo; export from a realtime repo")
        spec = check_spec(etype, body.get("spec"), {f.key for f in engine.fields(src)})
        if store.get("export", name, scope=repo) is not None:
            raise api_error("E18301", f"export {name!r} of repo {repo!r} already exists")
        doc = {
            "name": name,
            "repo": repo,
            "type": etype,
            "spec": spec,
            "createTime": engine.now_text(),
            "state": {
                "offset": 0 if whence == "oldest" else store.max_seq(repo),
                "delivered": 0,
                "status": "running",
                "lastError": "",
            },
        }
        if sent_whence is not None:
            doc["whence"] = whence
        store.put("export", name, doc, scope=repo)
    return ok()


def view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """An export as the service shows it (its delivery state stays internal); ``whence`` only when it was sent."""
    shown = {"name": doc["name"], "type": doc["type"], "spec": doc["spec"], "whence": doc.get("whence"), "workflow": ""}
    if shown["whence"] is None:
        del shown["whence"]
    return shown


def get(engine: Engine, req: Request) -> Response:
    """``GET /v2/repos/<repo>/exports/<export>``."""
    return ok(view(engine.existing("export", req.params["export"], repo=req.params["repo"])))


def list_all(engine: Engine, req: Request) -> Response:
    """``GET /v2/repos/<repo>/exports``: the repo's exports in creation order."""
    return ok({"exports": [view(doc) for doc in engine.children("export", req.params["repo"])]})


def update(engine: Engine, req: Request) -> Response:
    """``PUT /v2/repos/<repo>/exports/<export>``: a new spec; the type and ``whence`` cannot change (E18305)."""
    repo = req.params["repo"]
    name = req.params["export"]
    body = req.json()
    with engine.store.atomic():
        doc = engine.existing("export", name, repo=repo)
        if body.get("type") is not None:
            etype = normalise_export_type(body["type"], "type")
            if etype != doc["type"]:
                raise api_error("E18305", f"an export's type cannot change (it is {doc['type']})")
        whence = doc.get("whence") or "oldest"  # what the export acts as, sent or not
        if body.get("whence") not in (None, whence):
            raise api_error("E18305", f"an export's whence cannot change (it is {whence})")
        doc["spec"] = check_spec(doc["type"], body.get("spec"), {f.key for f in engine.fields(engine.repo(repo))})
        engine.store.put("export", name, doc, scope=repo)
    return ok()


def delete(engine: Engine, req: Request) -> Response:
    """``DELETE /v2/repos/<repo>/exports/<export>``: 404 when it does not exist."""
    engine.forget("export", req.params["export"], repo=req.params["repo"])
    return ok()


def status(engine: Engine, req: Request) -> Response:
    """Admin: what an export has done (delivered and undelivered points, files, last error, state, the
    destination refused by ``--export-allow``)."""
    doc = engine.existing("export", req.params["export"], repo=req.params["repo"])
    state = doc.get("state") or {}
    offset = int(state.get("offset") or 0)
    return ok(
        {
            "name": doc["name"],
            "repo": doc["repo"],
            "type": doc["type"],
            "state": state.get("status") or "running",
            "delivered": int(state.get("delivered") or 0),
            "undelivered": engine.undelivered(doc["repo"], offset),
            "offset": offset,
            "files": int(state.get("files") or 0),
            "lastError": state.get("lastError") or "",
            "refused": state.get("refused") or "",
        }
    )
