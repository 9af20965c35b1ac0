"""``/_emulator/...``: unsigned loopback endpoints for tests and demos (points, faults, log, stats)."""

from __future__ import annotations

import json

from airflow_provider_pandora.emulator.core.errors import api_error
from airflow_provider_pandora.emulator.core.faults import Fault
from airflow_provider_pandora.emulator.core.service import Engine
from airflow_provider_pandora.emulator.http.framing import Request, Response, ok
from airflow_provider_pandora.emulator.values import json_default


def points(engine: Engine, req: Request) -> Response:
    """``{"total": N, "points": [...]}``; values JSON-encoded (dates as RFC 3339 text)."""
    repo = req.params["repo"]
    try:
        offset = int(req.query.get("offset") or 0)
        limit = int(req.query["limit"]) if req.query.get("limit") else None
    except ValueError:
        raise api_error("E18007", "offset and limit must be whole numbers") from None
    engine.repo(repo)
    total = engine.store.count(repo)
    rows = [p for _, p in engine.typed_points(repo, offset=max(0, offset), limit=limit)]
    return ok({"total": total, "points": json.loads(json.dumps(rows, default=json_default))})


def reset(engine: Engine, req: Request) -> Response:
    """Forget every resource and point (tests start from nothing)."""
    engine.reset()
    return ok()


def add_fault(engine: Engine, req: Request) -> Response:
    """Inject a fault (``emulator/README.md`` lists the actions); answers the stored fault."""
    try:
        fault = engine.faults.add(Fault.from_dict(req.json()))
    except ValueError as err:
        raise api_error("E18007", str(err)) from None
    return ok(fault.to_dict())


def clear_faults(engine: Engine, req: Request) -> Response:
    """Remove every injected fault."""
    engine.faults.clear()
    return ok()


def list_faults(engine: Engine, req: Request) -> Response:
    """The injected faults still armed."""
    return ok({"faults": engine.faults.list()})


def requests(engine: Engine, req: Request) -> Response:
    """The request log: method, path, status and the reason of a refusal, oldest first."""
    return ok({"requests": engine.requests_log()})


def stats(engine: Engine, req: Request) -> Response:
    """Counters of data pushes: points, bytes, batches and requests taken."""
    return ok(engine.stats())


def run_transforms(engine: Engine, req: Request) -> Response:
    """Run every due transform now instead of waiting for its interval."""
    return ok({"ran": engine.runner.run_transforms()})


def health(engine: Engine, req: Request) -> Response:
    """Liveness, and whether points are stored or only counted (``--sink``)."""
    return ok({"ok": True, "sink": engine.sink})
