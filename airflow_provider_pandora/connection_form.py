"""The Airflow 2 connection form, derived from the declarative fields in ``get_provider_info``.

Airflow 3's UI reads ``conn-fields`` and ``ui-field-behaviour`` from the provider dict; Airflow 2 asks the
hook class instead. Both hooks build their answers here from the same dict, so the two forms cannot drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def ui_field_behaviour(connection: Mapping[str, Any]) -> dict[str, Any]:
    """``get_ui_field_behaviour()`` for a connection-type entry of the provider dict."""
    behaviour = connection["ui-field-behaviour"]
    return {
        "hidden_fields": list(behaviour["hidden-fields"]),
        "relabeling": dict(behaviour["relabeling"]),
        "placeholders": dict(behaviour["placeholders"]),
    }


def form_widgets(connection: Mapping[str, Any]) -> dict[str, Any]:
    """``get_connection_form_widgets()``: one wtforms field per ``conn-fields`` entry (Airflow 2 only).

    FAB and wtforms exist only in the Airflow 2 webserver, so Airflow 3 gets an empty form here.
    """
    from airflow.version import version as airflow_version

    if not airflow_version.startswith("2."):
        return {}
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import BooleanField, StringField

    widgets: dict[str, Any] = {}
    for name, field in connection["conn-fields"].items():
        schema = field.get("schema", {})
        label = lazy_gettext(field["label"])
        description = field.get("description", "")
        if "boolean" in schema.get("type", ()):
            widgets[name] = BooleanField(label, description=description, default=schema.get("default", False))
        else:
            widgets[name] = StringField(
                label, widget=BS3TextFieldWidget(), description=description, default=schema.get("default")
            )
    return widgets
