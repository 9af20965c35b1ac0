"""operators/transforms.py: create a SQL or plugin transform (if_exists), update it, delete it (if_missing)."""

from __future__ import annotations

from typing import Any

import pytest

import airflow_provider_pandora.operators as ops
from airflow_provider_pandora.exceptions import PandoraAlreadyExistsError, PandoraNotFoundError, PandoraValidationError
from tests.unit.operators.conftest import DS, DS_NODASH, Case, check_case, error, make

PARAMS = {"src": "clicks", "every": "5m"}
SQL = "select user, count(*) as n from stream where day = '{{ ds }}' group by user"
RENDERED_SQL = SQL.replace("{{ ds }}", DS)
PLUGIN = {"name": "com.acme.Parser", "output": [{"name": "host", "type": "string"}]}

CASES = [
    Case(
        ops.PandoraCreateTransformOperator,
        {
            "repo": "{{ params.src }}",
            "transform": "t_{{ ds_nodash }}",
            "dest_repo": "{{ params.src }}_daily",
            "code": SQL,
            "interval": "{{ params.every }}",
            "container": {"type": "M16C4", "count": 1},
            "whence": "oldest",
        },
        "create_transform",
        ("clicks", f"t_{DS_NODASH}", "clicks_daily"),
        {
            "code": RENDERED_SQL,
            "mode": "sql",
            "plugin": None,
            "interval": "5m",
            "container": {"type": "M16C4", "count": 1},
            "whence": "oldest",
        },
        {"repo": "clicks", "dest_repo": "clicks_daily", "transform": f"t_{DS_NODASH}", "action": "created"},
        dag_params=PARAMS,
    ),
    Case(
        ops.PandoraUpdateTransformOperator,
        {"repo": "{{ params.src }}", "transform": "t", "code": SQL, "interval": "{{ params.every }}"},
        "update_transform",
        ("clicks", "t"),
        {"code": RENDERED_SQL, "plugin": None, "interval": "5m", "container": None},
        {"repo": "clicks", "transform": "t", "action": "updated"},
        dag_params=PARAMS,
    ),
    Case(
        ops.PandoraDeleteTransformOperator,
        {"repo": "{{ params.src }}", "transform": "t_{{ ds_nodash }}"},
        "delete_transform",
        ("clicks", f"t_{DS_NODASH}"),
        {},
        {"repo": "clicks", "transform": f"t_{DS_NODASH}", "deleted": True},
        dag_params=PARAMS,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rendered_arguments_reach_the_hook_and_xcom(case: Case) -> None:
    check_case(case)


def test_a_plugin_transform_renders_its_plugin_spec() -> None:
    check_case(
        Case(
            ops.PandoraCreateTransformOperator,
            {
                "repo": "r",
                "transform": "t",
                "dest_repo": "d",
                "code": None,
                "plugin": {**PLUGIN, "name": "{{ params.p }}"},
            },
            "create_transform",
            ("r", "t", "d"),
            {"code": None, "mode": "sql", "plugin": PLUGIN, "interval": None, "container": None, "whence": None},
            {"repo": "r", "dest_repo": "d", "transform": "t", "action": "created"},
            dag_params={"p": "com.acme.Parser"},
        )
    )


# ---- create: if_exists --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("policy", "action"), [("ignore", "exists"), ("update", "updated")])
def test_create_existing_transform(policy: str, action: str) -> None:
    op, hook = make(
        ops.PandoraCreateTransformOperator, repo="r", transform="t", dest_repo="d", code="select 1", if_exists=policy
    )
    hook.create_transform.side_effect = error(PandoraAlreadyExistsError, 409)
    assert op.execute({}) == {"repo": "r", "dest_repo": "d", "transform": "t", "action": action}
    if policy == "update":  # the transform's code (and interval, container, plugin) are replaced
        hook.update_transform.assert_called_once_with(
            "r", "t", code="select 1", plugin=None, interval=None, container=None
        )
    else:
        hook.update_transform.assert_not_called()


def test_create_existing_transform_fails_when_asked() -> None:
    op, hook = make(
        ops.PandoraCreateTransformOperator, repo="r", transform="t", dest_repo="d", code="select 1", if_exists="fail"
    )
    hook.create_transform.side_effect = error(PandoraAlreadyExistsError, 409)
    with pytest.raises(PandoraAlreadyExistsError):
        op.execute({})


def test_create_transform_refuses_a_bad_if_exists_naming_it() -> None:
    with pytest.raises(PandoraValidationError) as caught:
        ops.PandoraCreateTransformOperator(task_id="t", repo="r", transform="t", dest_repo="d", if_exists="Update")
    assert caught.value.parameter == "if_exists"


# ---- delete: if_missing -------------------------------------------------------------------------------------
def test_delete_missing_is_ignored_or_fails() -> None:
    op, hook = make(ops.PandoraDeleteTransformOperator, repo="r", transform="t")
    hook.delete_transform.side_effect = error(PandoraNotFoundError, 404)
    assert op.execute({}) == {"repo": "r", "transform": "t", "deleted": False}
    op, hook = make(ops.PandoraDeleteTransformOperator, repo="r", transform="t", if_missing="fail")
    hook.delete_transform.side_effect = error(PandoraNotFoundError, 404)
    with pytest.raises(PandoraNotFoundError):
        op.execute({})


def test_delete_transform_refuses_a_bad_if_missing_naming_it() -> None:
    with pytest.raises(PandoraValidationError) as caught:
        ops.PandoraDeleteTransformOperator(task_id="t", repo="r", transform="t", if_missing="")
    assert caught.value.parameter == "if_missing"


# ---- what is refused before any request, naming the operator's parameter --------------------------------------
CREATE = {"repo": "r", "transform": "t", "dest_repo": "d", "code": "select 1"}


@pytest.mark.parametrize(
    ("cls", "kwargs", "parameter"),
    [
        (ops.PandoraCreateTransformOperator, {**CREATE, "dest_repo": "r"}, "dest_repo"),
        (ops.PandoraCreateTransformOperator, {**CREATE, "dest_repo": "d-1"}, "dest_repo"),
        (ops.PandoraCreateTransformOperator, {**CREATE, "transform": "t.1"}, "transform"),
        (ops.PandoraCreateTransformOperator, {**CREATE, "code": None}, "code"),
        (ops.PandoraCreateTransformOperator, {**CREATE, "mode": "spark"}, "mode"),
        (ops.PandoraCreateTransformOperator, {**CREATE, "interval": "2m"}, "interval"),
        (ops.PandoraCreateTransformOperator, {**CREATE, "whence": "latest"}, "whence"),
        (
            ops.PandoraCreateTransformOperator,
            {**CREATE, "container": {"type": "M16C4", "count": 500}},
            "container.count",
        ),
        (
            ops.PandoraCreateTransformOperator,
            {**CREATE, "plugin": {"name": "com.acme.Parser", "output": [{"name": "n", "type": "int"}]}},
            "plugin.output[0].type",
        ),
        (ops.PandoraUpdateTransformOperator, {"repo": "r", "transform": "t"}, "code"),
        (ops.PandoraUpdateTransformOperator, {"repo": "r", "transform": "t", "interval": "5s"}, "interval"),
        (ops.PandoraUpdateTransformOperator, {"repo": "r", "transform": "t", "plugin": {"name": "1x"}}, "plugin.name"),
        (ops.PandoraDeleteTransformOperator, {"repo": "r", "transform": "no such"}, "transform"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_a_bad_argument_is_refused_before_any_request(
    cls: type[Any], kwargs: dict[str, Any], parameter: str, refused: Any
) -> None:
    op = cls(task_id="t", **kwargs)
    assert refused(op).parameter == parameter
