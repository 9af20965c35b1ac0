"""operators/exports.py: create an export (if_exists), update its spec, delete it (if_missing)."""

from __future__ import annotations

from typing import Any

import pytest

import airflow_provider_pandora.operators as ops
from airflow_provider_pandora.exceptions import PandoraAlreadyExistsError, PandoraNotFoundError, PandoraValidationError
from tests.unit.operators.conftest import DS_NODASH, Case, check_case, error, make

PARAMS = {"host": "hooks.example.com", "repo": "clicks"}
SPEC = {"host": "{{ params.host }}", "uri": "/in/{{ ds_nodash }}"}
RENDERED_SPEC = {"host": "hooks.example.com", "uri": f"/in/{DS_NODASH}"}

CASES = [
    Case(
        ops.PandoraCreateExportOperator,
        {
            "repo": "{{ params.repo }}",
            "export": "e_{{ ds_nodash }}",
            "export_type": "{{ dag_run.conf['type'] }}",
            "spec": SPEC,
            "whence": "newest",
        },
        "create_export",
        ("clicks", f"e_{DS_NODASH}"),
        {"export_type": "http", "spec": RENDERED_SPEC, "whence": "newest"},
        {"repo": "clicks", "export": f"e_{DS_NODASH}", "action": "created"},
        dag_params=PARAMS,
        conf={"type": "http"},
    ),
    Case(
        ops.PandoraUpdateExportOperator,
        {"repo": "{{ params.repo }}", "export": "e", "spec": SPEC, "export_type": "http"},
        "update_export",
        ("clicks", "e"),
        {"spec": RENDERED_SPEC, "export_type": "http"},
        {"repo": "clicks", "export": "e", "action": "updated"},
        dag_params=PARAMS,
    ),
    Case(
        ops.PandoraDeleteExportOperator,
        {"repo": "{{ params.repo }}", "export": "e_{{ ds_nodash }}"},
        "delete_export",
        ("clicks", f"e_{DS_NODASH}"),
        {},
        {"repo": "clicks", "export": f"e_{DS_NODASH}", "deleted": True},
        dag_params=PARAMS,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rendered_arguments_reach_the_hook_and_xcom(case: Case) -> None:
    check_case(case)


def test_create_new_resource() -> None:
    op, hook = make(ops.PandoraCreateExportOperator, repo="r", export="e", export_type="http", spec={"host": "h"})
    assert op.execute({}) == {"repo": "r", "export": "e", "action": "created"}
    hook.create_export.assert_called_once_with("r", "e", export_type="http", spec={"host": "h"}, whence=None)


# ---- create: if_exists --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("policy", "action"), [("ignore", "exists"), ("update", "updated")])
def test_create_existing_export(policy: str, action: str) -> None:
    spec = {"host": "h", "uri": "/u"}
    op, hook = make(
        ops.PandoraCreateExportOperator, repo="r", export="e", export_type="http", spec=spec, if_exists=policy
    )
    hook.create_export.side_effect = error(PandoraAlreadyExistsError, 409)
    assert op.execute({}) == {"repo": "r", "export": "e", "action": action}
    if policy == "update":  # the spec is replaced (checked against the type)
        hook.update_export.assert_called_once_with("r", "e", spec=spec, export_type="http")
    else:
        hook.update_export.assert_not_called()


def test_create_existing_export_fails_when_asked() -> None:
    op, hook = make(
        ops.PandoraCreateExportOperator, repo="r", export="e", export_type="http", spec={"host": "h"}, if_exists="fail"
    )
    hook.create_export.side_effect = error(PandoraAlreadyExistsError, 409)
    with pytest.raises(PandoraAlreadyExistsError):
        op.execute({})


def test_create_export_refuses_a_bad_if_exists_naming_it() -> None:
    with pytest.raises(PandoraValidationError) as caught:
        ops.PandoraCreateExportOperator(task_id="t", repo="r", export="e", export_type="http", spec={}, if_exists="x")
    assert caught.value.parameter == "if_exists"


# ---- delete: if_missing -------------------------------------------------------------------------------------
def test_delete_missing_export_is_ignored_or_fails() -> None:
    op, hook = make(ops.PandoraDeleteExportOperator, repo="r", export="e")
    hook.delete_export.side_effect = error(PandoraNotFoundError, 404)
    assert op.execute({}) == {"repo": "r", "export": "e", "deleted": False}
    op, hook = make(ops.PandoraDeleteExportOperator, repo="r", export="e", if_missing="fail")
    hook.delete_export.side_effect = error(PandoraNotFoundError, 404)
    with pytest.raises(PandoraNotFoundError):
        op.execute({})


def test_delete_export_refuses_a_bad_if_missing_naming_it() -> None:
    with pytest.raises(PandoraValidationError) as caught:
        ops.PandoraDeleteExportOperator(task_id="t", repo="r", export="e", if_missing="ignored")
    assert caught.value.parameter == "if_missing"


# ---- what is refused before any request, naming the operator's parameter --------------------------------------
HTTP = {"host": "h", "uri": "/u"}


@pytest.mark.parametrize(
    ("cls", "kwargs", "parameter"),
    [
        (ops.PandoraCreateExportOperator, {"export_type": "ftp", "spec": HTTP}, "export_type"),
        (ops.PandoraCreateExportOperator, {"export_type": "http", "spec": {"uri": "/u"}}, "spec.host"),
        (ops.PandoraCreateExportOperator, {"export_type": "http", "spec": {"host": "h", "uri": "u"}}, "spec.uri"),
        (ops.PandoraCreateExportOperator, {"export_type": "mongodb", "spec": {"host": "h"}}, "spec.dbName"),
        (ops.PandoraCreateExportOperator, {"export_type": "http", "spec": "host=h"}, "spec"),
        (ops.PandoraCreateExportOperator, {"export_type": "http", "spec": HTTP, "whence": "now"}, "whence"),
        (ops.PandoraCreateExportOperator, {"export": "e-1", "export_type": "http", "spec": HTTP}, "export"),
        (ops.PandoraUpdateExportOperator, {"spec": {}}, "spec"),
        (ops.PandoraUpdateExportOperator, {"spec": {"host": "h"}, "export_type": "http"}, "spec.uri"),
        (ops.PandoraUpdateExportOperator, {"spec": HTTP, "export_type": "s3"}, "export_type"),
        (ops.PandoraDeleteExportOperator, {"repo": "1r"}, "repo"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_a_bad_argument_is_refused_before_any_request(
    cls: type[Any], kwargs: dict[str, Any], parameter: str, refused: Any
) -> None:
    op = cls(task_id="t", **{"repo": "r", "export": "e", **kwargs})
    assert refused(op).parameter == parameter
