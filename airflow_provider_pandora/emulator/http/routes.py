"""Every endpoint in one visible table, each with its body limits and the resource names in its path.

A route names what its path parameters are (``{repo}``, ``{dest}``, ``{job}``...); the server checks each
against :func:`airflow_provider_pandora.schema.check_resource_name` before the endpoint runs, so a
malformed name is refused with the service's E-code (the table the client checks names with, too).
To add an endpoint: write ``(engine, request) -> Response`` in :mod:`~airflow_provider_pandora.emulator.endpoints`
and add a line here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from airflow_provider_pandora.emulator.core.service import Engine
from airflow_provider_pandora.emulator.endpoints import (
    admin,
    data,
    exports,
    groups,
    jobs,
    kodo_schemas,
    plugins,
    repos,
    transforms,
)
from airflow_provider_pandora.emulator.http.framing import Request, Response
from airflow_provider_pandora.schema import check_resource_name

Endpoint = Callable[[Engine, Request], Response]
"""What a route calls: the emulator's state and the parsed request in, the answer out."""

#: The kind of resource (a key of :data:`~airflow_provider_pandora.schema.RESOURCE_NAME_CODES`) each path
#: parameter names.
PATH_PARAMETER_KINDS: dict[str, str] = {
    "group": "group",
    "repo": "repo",
    "dest": "dest_repo",
    "transform": "transform",
    "export": "export",
    "job": "job",
    "plugin": "plugin",
}

DEFAULT_MAX_BODY = 4 * 1024 * 1024
DATA_MAX_BODY = 8 * 1024 * 1024  # gzip bodies; the 2 MiB limit applies once decompressed
PLUGIN_MAX_BODY = plugins.MAX_PLUGIN_BYTES


@dataclass(frozen=True)
class Route:
    """One endpoint: ``check_names`` refuses malformed resource names in the path (off for ``/_emulator``)."""

    method: str
    template: str
    endpoint: Endpoint
    max_body: int = DEFAULT_MAX_BODY
    body_required: bool = False
    short_body_code: str = "E18004"
    check_names: bool = True

    @property
    def pattern(self) -> re.Pattern[str]:
        """The compiled template, path parameters as named groups that match one path segment each."""
        return _compile(self.template)

    def checked_params(self, params: dict[str, str]) -> dict[str, str]:
        """The path parameters, each name checked in path order; raises ``PandoraValidationError``."""
        if self.check_names:
            for key, value in params.items():
                check_resource_name(PATH_PARAMETER_KINDS[key], value, key)
        return params


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compile(template: str) -> re.Pattern[str]:
    pattern = _PATTERNS.get(template)
    if pattern is None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
        pattern = _PATTERNS[template] = re.compile(f"^{regex}$")
    return pattern


R = Route


def A(method: str, template: str, endpoint: Endpoint) -> Route:
    """An unsigned ``/_emulator`` route: its path parameters are looked up as given, not checked as names."""
    return Route(method, template, endpoint, check_names=False)


#: Every endpoint, in one visible table (the spec's paths; jobs with the spec's missing "/" restored).
ROUTES: tuple[Route, ...] = (
    R("GET", "/v2/groups", groups.list_all),
    R("POST", "/v2/groups/{group}", groups.create),
    R("PUT", "/v2/groups/{group}", groups.update),
    R("GET", "/v2/groups/{group}", groups.get),
    R("DELETE", "/v2/groups/{group}", groups.delete),
    R("POST", "/v2/groups/{group}/actions/start", groups.start),
    R("POST", "/v2/groups/{group}/actions/stop", groups.stop),
    R("GET", "/v2/repos", repos.list_all),
    R("POST", "/v2/repos/{repo}", repos.create),
    R("GET", "/v2/repos/{repo}", repos.get),
    R("PUT", "/v2/repos/{repo}", repos.update),
    R("DELETE", "/v2/repos/{repo}", repos.delete),
    R("GET", "/v2/repos/{repo}/exists", repos.exists),
    R("POST", "/v2/repos/{repo}/data", data.push, max_body=DATA_MAX_BODY, body_required=True),
    R("GET", "/v2/repos/{repo}/data", repos.sample),
    R("POST", "/v2/repos/{repo}/transforms/{transform}/to/{dest}", transforms.create),
    R("GET", "/v2/repos/{repo}/transforms", transforms.list_all),
    R("GET", "/v2/repos/{repo}/transforms/{transform}", transforms.get),
    R("PUT", "/v2/repos/{repo}/transforms/{transform}", transforms.update),
    R("DELETE", "/v2/repos/{repo}/transforms/{transform}", transforms.delete),
    R("POST", "/v2/plugins/{plugin}", plugins.upload, PLUGIN_MAX_BODY, body_required=True, short_body_code="E18219"),
    R("GET", "/v2/plugins", plugins.list_all),
    R("GET", "/v2/plugins/{plugin}", plugins.get),
    R("DELETE", "/v2/plugins/{plugin}", plugins.delete),
    R("POST", "/v2/verify/plugins/{plugin}", plugins.verify),
    R("POST", "/v2/repos/{repo}/exports/{export}", exports.create),
    R("GET", "/v2/repos/{repo}/exports", exports.list_all),
    R("GET", "/v2/repos/{repo}/exports/{export}", exports.get),
    R("PUT", "/v2/repos/{repo}/exports/{export}", exports.update),
    R("DELETE", "/v2/repos/{repo}/exports/{export}", exports.delete),
    R("POST", "/v2/repos/{repo}/jobs/{job}/to/{dest}", jobs.submit),
    R("GET", "/v2/repos/{repo}/jobs", jobs.list_all),
    R("GET", "/v2/repos/{repo}/jobs/{job}", jobs.get),
    R("DELETE", "/v2/repos/{repo}/jobs/{job}", jobs.delete),
    R("POST", "/v2/repos/{repo}/jobs/{job}/actions/start", jobs.start),
    R("POST", "/v2/repos/{repo}/jobs/{job}/actions/stop", jobs.stop),
    R("GET", "/v2/repos/{repo}/jobs/{job}/history", jobs.history),
    R("GET", "/v2/schemas", kodo_schemas.get),
    R("POST", "/v2/schemas", kodo_schemas.get),
)

#: Unsigned loopback endpoints for tests and demos.
ADMIN_ROUTES: tuple[Route, ...] = (
    A("GET", "/_emulator/health", admin.health),
    A("GET", "/_emulator/repos/{repo}/points", admin.points),
    A("POST", "/_emulator/reset", admin.reset),
    A("GET", "/_emulator/faults", admin.list_faults),
    A("POST", "/_emulator/faults", admin.add_fault),
    A("DELETE", "/_emulator/faults", admin.clear_faults),
    A("GET", "/_emulator/requests", admin.requests),
    A("GET", "/_emulator/stats", admin.stats),
    A("GET", "/_emulator/exports/{repo}/{export}", exports.status),
    A("POST", "/_emulator/transforms/run", admin.run_transforms),
)


def match(routes: tuple[Route, ...], method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """``(route, path params, path known)``; a known path with another method gives ``(None, {}, True)``."""
    known = False
    for route in routes:
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.method == method:
            return route, {k: unquote(v) for k, v in found.groupdict().items()}, True
        known = True
    return None, {}, known
