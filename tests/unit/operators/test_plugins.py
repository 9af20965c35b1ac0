"""operators/plugins.py: upload a plugin jar (if_exists: ignore, fail, or delete and upload again)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import pytest

import airflow_provider_pandora.operators as ops
from airflow_provider_pandora.exceptions import PandoraAlreadyExistsError, PandoraValidationError
from tests.unit.operators.conftest import Case, check_case, error, make

PLUGIN = "com.acme.Parser"


def test_rendered_arguments_reach_the_hook_and_xcom() -> None:
    check_case(
        Case(
            ops.PandoraUploadPluginOperator,
            {"plugin": "com.acme.{{ params.parser }}", "jar_path": "{{ params.jars }}/parser-{{ ds_nodash }}.jar"},
            "upload_plugin",
            (PLUGIN, "/opt/jars/parser-20260102.jar"),
            {},
            {"plugin": PLUGIN, "action": "created"},
            dag_params={"parser": "Parser", "jars": "/opt/jars"},
        )
    )


def test_an_existing_plugin_is_left_alone_by_default() -> None:
    op, hook = make(ops.PandoraUploadPluginOperator, plugin=PLUGIN, jar_path="/j.jar")
    hook.upload_plugin.side_effect = error(PandoraAlreadyExistsError, 409)
    assert op.execute({}) == {"plugin": PLUGIN, "action": "exists"}
    hook.delete_plugin.assert_not_called()


def test_if_exists_update_deletes_the_stored_jar_then_uploads_again() -> None:
    op, hook = make(ops.PandoraUploadPluginOperator, plugin=PLUGIN, jar_path="/j.jar", if_exists="update")
    hook.upload_plugin.side_effect = [error(PandoraAlreadyExistsError, 409), {}]
    assert op.execute({}) == {"plugin": PLUGIN, "action": "updated"}
    assert hook.mock_calls == [
        mock.call.upload_plugin(PLUGIN, "/j.jar"),
        mock.call.delete_plugin(PLUGIN),
        mock.call.upload_plugin(PLUGIN, "/j.jar"),
    ]


def test_an_existing_plugin_fails_when_asked() -> None:
    op, hook = make(ops.PandoraUploadPluginOperator, plugin=PLUGIN, jar_path="/j.jar", if_exists="fail")
    hook.upload_plugin.side_effect = error(PandoraAlreadyExistsError, 409)
    with pytest.raises(PandoraAlreadyExistsError):
        op.execute({})
    hook.delete_plugin.assert_not_called()


def test_a_bad_if_exists_is_refused_naming_it() -> None:
    with pytest.raises(PandoraValidationError) as caught:
        ops.PandoraUploadPluginOperator(task_id="t", plugin=PLUGIN, jar_path="/j.jar", if_exists="replace")
    assert caught.value.parameter == "if_exists"


# ---- what is refused before any request, naming the operator's parameter --------------------------------------
@pytest.mark.parametrize(
    ("plugin", "jar", "parameter"),
    [
        (PLUGIN, None, "jar_path"),  # no such file
        (PLUGIN, b"", "jar_path"),  # an empty jar
        ("1Parser", b"PK", "plugin"),
        ("com.acme.Parser.", b"PK", "plugin"),
    ],
    ids=["missing-jar", "empty-jar", "leading-digit", "trailing-dot"],
)
def test_a_bad_argument_is_refused_before_any_request(
    plugin: str, jar: bytes | None, parameter: str, tmp_path: Path, refused: Any
) -> None:
    jar_path = tmp_path / "parser.jar"
    if jar is not None:
        jar_path.write_bytes(jar)
    op = ops.PandoraUploadPluginOperator(task_id="t", plugin=plugin, jar_path=str(jar_path))
    assert refused(op).parameter == parameter
