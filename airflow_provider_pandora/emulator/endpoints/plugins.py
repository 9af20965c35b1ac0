"""``/v2/plugins``: plugin jars, checked against Content-Length and Content-MD5 and stored (never run)."""

from __future__ import annotations

from airflow_provider_pandora.auth import content_md5
from airflow_provider_pandora.emulator.core.errors import api_error
from airflow_provider_pandora.emulator.core.service import Engine
from airflow_provider_pandora.emulator.http.framing import Request, Response, ok

MAX_PLUGIN_BYTES = 20 * 1024 * 1024


def upload(engine: Engine, req: Request) -> Response:
    """``POST /v2/plugins/<plugin>``: stores the jar; refuses empty, oversized, duplicate or Content-MD5-mismatched."""
    name = req.params["plugin"]
    content = req.body
    if not content:
        raise api_error("E18006", "the plugin jar is empty")
    if len(content) > MAX_PLUGIN_BYTES:
        raise api_error("E18005", f"the plugin jar is over {MAX_PLUGIN_BYTES} bytes")
    expected = req.header("Content-MD5").strip()
    if expected and expected != content_md5(content):
        raise api_error("E18220", "Content-MD5 does not match the uploaded jar (base64 of the raw MD5 digest)")
    with engine.store.atomic():
        if engine.store.get("plugin", name) is not None:
            raise api_error("E18217", f"plugin {name!r} already exists")
        doc = {"name": name, "createTime": engine.now_text(), "size": len(content), "md5": content_md5(content)}
        engine.store.put("plugin", name, doc)
        engine.store.put_blob(f"plugin:{name}", content)
    return ok()


def get(engine: Engine, req: Request) -> Response:
    """``GET /v2/plugins/<plugin>``: name, creation time, size and MD5 of the jar."""
    return ok(engine.existing("plugin", req.params["plugin"]))


def list_all(engine: Engine, req: Request) -> Response:
    """``GET /v2/plugins``: name and creation time of each plugin."""
    return ok({"plugins": [{"name": p["name"], "createTime": p["createTime"]} for p in engine.store.docs("plugin")]})


def delete(engine: Engine, req: Request) -> Response:
    """``DELETE /v2/plugins/<plugin>``: removes the record and the jar."""
    name = req.params["plugin"]
    with engine.store.atomic():
        engine.forget("plugin", name)
        engine.store.delete_blob(f"plugin:{name}")
    return ok()


def verify(engine: Engine, req: Request) -> Response:
    """``POST /v2/verify/plugins/<name>`` (SDK): the emulator cannot load jars, so it reports no fields."""
    engine.existing("plugin", req.params["plugin"])
    return ok({"outputFields": []})
