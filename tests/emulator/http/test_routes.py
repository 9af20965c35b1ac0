"""The route table checks every resource name in a ``/v2`` path, with the code the service gives that kind."""

from __future__ import annotations

import re

import pytest

from airflow_provider_pandora.emulator.http.routes import ADMIN_ROUTES, PATH_PARAMETER_KINDS, ROUTES, Route
from airflow_provider_pandora.schema import RESOURCE_NAME_CODES
from tests.emulator.conftest import Api, error_code

PLACEHOLDER = re.compile(r"\{(\w+)\}")

CASES = [
    pytest.param(route, bad, id=f"{route.method} {route.template} bad {{{bad}}}")
    for route in ROUTES
    for bad in PLACEHOLDER.findall(route.template)
]


def test_every_path_parameter_names_a_known_kind() -> None:
    for route in ROUTES + ADMIN_ROUTES:
        for key in PLACEHOLDER.findall(route.template):
            assert key in PATH_PARAMETER_KINDS, route.template
    assert set(PATH_PARAMETER_KINDS.values()) <= set(RESOURCE_NAME_CODES)


@pytest.mark.parametrize(("route", "bad"), CASES)
def test_a_malformed_name_is_refused_with_its_kinds_code(api: Api, route: Route, bad: str) -> None:
    """The names before the bad one are valid, so the answer is about the bad one and no other."""
    path = PLACEHOLDER.sub(lambda m: "9bad" if m.group(1) == bad else "ok", route.template)
    response = api.call(route.method, path, data=b"x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400, response.text
    assert error_code(response) == RESOURCE_NAME_CODES[PATH_PARAMETER_KINDS[bad]]
    assert f"{bad}: '9bad'" in response.json()["error"]


def test_admin_paths_are_looked_up_as_given(api: Api) -> None:
    """``/_emulator`` names are not checked as names: a repo that cannot exist is simply not found."""
    response = api.get("/_emulator/repos/9bad/points")
    assert error_code(response) == "E18102"
