"""The provider dict is read by every Airflow process: a bad one takes the whole CLI down."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.resources
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from airflow_provider_pandora import __version__
from airflow_provider_pandora.get_provider_info import get_provider_info

INFO = get_provider_info()


def _installed_schema() -> dict[str, Any]:
    text = (importlib.resources.files("airflow") / "provider_info.schema.json").read_text()
    return dict(json.loads(text))


def test_validates_against_the_installed_airflow_schema():
    jsonschema.validate(INFO, _installed_schema())


def test_package_name_and_version_match_the_distribution():
    dist = importlib.metadata.distribution("airflow-provider-pandora")
    assert INFO["package-name"] == dist.metadata["Name"] == "airflow-provider-pandora"
    assert dist.version == __version__
    assert INFO["versions"] == [__version__]


def test_entry_point_is_registered():
    eps = importlib.metadata.entry_points(group="apache_airflow_provider")
    targets = {ep.value for ep in eps if ep.dist is not None and ep.dist.metadata["Name"] == "airflow-provider-pandora"}
    assert targets == {"airflow_provider_pandora.get_provider_info:get_provider_info"}


def _modules() -> list[str]:
    modules: list[str] = []
    for key in ("hooks", "operators", "sensors", "triggers"):
        for entry in INFO.get(key, []):
            modules.extend(entry["python-modules"])
    modules.extend(t["python-module"] for t in INFO.get("transfers", []))
    return modules


@pytest.mark.parametrize("module", _modules())
def test_every_listed_module_imports(module: str):
    importlib.import_module(module)


@pytest.mark.parametrize(
    "class_path",
    [c["hook-class-name"] for c in INFO["connection-types"]] + list(INFO.get("extra-links", [])),
)
def test_every_listed_class_exists(class_path: str):
    module, _, name = class_path.rpartition(".")
    assert hasattr(importlib.import_module(module), name)


@pytest.mark.parametrize("conn", INFO["connection-types"], ids=lambda c: c["connection-type"])
def test_hook_class_matches_its_connection_type(conn: dict[str, Any]):
    module, _, name = conn["hook-class-name"].rpartition(".")
    hook = getattr(importlib.import_module(module), name)
    assert hook.conn_type == conn["connection-type"]
    assert hook.hook_name == conn["hook-name"]
    # Airflow builds hooks as HookClass(**{conn_name_attr: conn_id}).
    assert hook(**{hook.conn_name_attr: hook.default_conn_name})
    for field_name, spec in conn["conn-fields"].items():
        jsonschema.Draft7Validator.check_schema(spec["schema"])
        assert spec["label"], field_name


def _how_to_guides() -> list[str]:
    guides: list[str] = []
    for entry in INFO["integrations"]:
        guides.extend(entry.get("how-to-guide", []))
    guides.extend(t["how-to-guide"] for t in INFO["transfers"] if "how-to-guide" in t)
    return guides


def test_every_how_to_guide_is_a_page_of_the_docs():
    """Official providers' /docs/<package>/<path> paths; ours name docs/<path>, which `make docs` builds."""
    root = Path(__file__).resolve().parents[2]
    guides = _how_to_guides()
    assert guides, "no how-to-guide entries"
    prefix = "/docs/airflow-provider-pandora/"
    for guide in guides:
        assert guide.startswith(prefix), guide
        assert (root / "docs" / guide.removeprefix(prefix)).is_file(), f"{guide}: no such page in docs/"
    howtos = {p.name for p in (root / "docs" / "howto").glob("*.rst")}
    assert howtos == {g.rpartition("/")[2] for g in guides}, "every how-to page is named by an integration"


def test_airflow_2_form_matches_the_declarative_fields():
    from airflow_provider_pandora.hooks.pandora import PandoraHook

    declared = next(c for c in INFO["connection-types"] if c["connection-type"] == "pandora")
    behaviour = PandoraHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == declared["ui-field-behaviour"]["hidden-fields"]
    assert behaviour["relabeling"]["password"] == "Secret Key (SK)"
    widgets = PandoraHook.get_connection_form_widgets()
    from airflow.version import version

    if version.startswith("2."):
        assert set(widgets) == set(declared["conn-fields"])
        # wtforms' unbound fields keep their constructor arguments: defaults come from the declared schema.
        assert widgets["region"].kwargs["default"] is None  # nb: the hook's default, not saved as a short extra
        assert widgets["verify"].kwargs["default"] is True
    else:
        assert widgets == {}
