"""operators/groups.py: create (if_exists), update, start, stop and delete (if_missing) a resource group."""

from __future__ import annotations

from typing import Any

import pytest

import airflow_provider_pandora.operators as ops
from airflow_provider_pandora.exceptions import PandoraAlreadyExistsError, PandoraNotFoundError, PandoraValidationError
from tests.common import CONTAINER
from tests.unit.operators.conftest import DS_NODASH, Case, check_case, context, error, make, render

PARAMS = {"size": "M32C8", "team": "ads"}
SIZED = {"type": "{{ params.size }}", "count": 2}
RENDERED = {"type": "M32C8", "count": 2}
GROUP = "g_{{ params.team }}_{{ ds_nodash }}"
NAME = f"g_ads_{DS_NODASH}"

CASES = [
    Case(
        ops.PandoraCreateGroupOperator,
        {"group": GROUP, "container": SIZED, "region": "{{ dag_run.conf['region'] }}", "allocate_on_start": True},
        "create_group",
        (NAME,),
        {"container": RENDERED, "region": "nb", "allocate_on_start": True},
        {"group": NAME, "action": "created"},
        dag_params=PARAMS,
        conf={"region": "nb"},
    ),
    Case(
        ops.PandoraUpdateGroupOperator,
        {"group": GROUP, "container": SIZED},
        "update_group",
        (NAME,),
        {"container": RENDERED},
        {"group": NAME, "action": "updated"},
        dag_params=PARAMS,
    ),
    Case(
        ops.PandoraStartGroupOperator,
        {"group": GROUP},
        "start_group",
        (NAME,),
        {},
        {"group": NAME, "action": "started"},
        dag_params=PARAMS,
    ),
    Case(
        ops.PandoraStopGroupOperator,
        {"group": GROUP},
        "stop_group",
        (NAME,),
        {},
        {"group": NAME, "action": "stopped"},
        dag_params=PARAMS,
    ),
    Case(
        ops.PandoraDeleteGroupOperator,
        {"group": GROUP},
        "delete_group",
        (NAME,),
        {},
        {"group": NAME, "deleted": True},
        dag_params=PARAMS,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rendered_arguments_reach_the_hook_and_xcom(case: Case) -> None:
    check_case(case)


# ---- create: if_exists --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("policy", "action"), [("ignore", "exists"), ("update", "updated")])
def test_create_existing_group(policy: str, action: str) -> None:
    op, hook = make(ops.PandoraCreateGroupOperator, group="g", container=CONTAINER, if_exists=policy)
    hook.create_group.side_effect = error(PandoraAlreadyExistsError, 409)
    assert op.execute({}) == {"group": "g", "action": action}
    if policy == "update":  # resizes the existing group to the asked container
        hook.update_group.assert_called_once_with("g", container=CONTAINER)
    else:
        hook.update_group.assert_not_called()


def test_create_existing_fails_when_asked() -> None:
    op, hook = make(ops.PandoraCreateGroupOperator, group="g", container=CONTAINER, if_exists="fail")
    hook.create_group.side_effect = error(PandoraAlreadyExistsError, 409)
    with pytest.raises(PandoraAlreadyExistsError):
        op.execute({})


@pytest.mark.parametrize(("rendered", "expected"), [("false", False), ("True", True), (False, False)])
def test_create_group_reads_a_templated_allocate_on_start(rendered: Any, expected: bool) -> None:
    op, hook = make(ops.PandoraCreateGroupOperator, group="g", container=CONTAINER, allocate_on_start=rendered)
    op.execute({})
    assert hook.create_group.call_args.kwargs["allocate_on_start"] is expected


def test_allocate_on_start_from_a_dag_param_is_rendered_then_read_as_a_bool() -> None:
    op, hook = make(
        ops.PandoraCreateGroupOperator,
        dag_params={"allocate": False},
        group="g",
        container=CONTAINER,
        allocate_on_start="{{ params.allocate }}",
    )
    render(op)
    assert op.allocate_on_start == "False"  # Jinja renders text
    op.execute(context())
    assert hook.create_group.call_args.kwargs["allocate_on_start"] is False


def test_create_group_refuses_an_allocate_on_start_that_is_not_a_bool() -> None:
    op, _ = make(ops.PandoraCreateGroupOperator, group="g", container=CONTAINER, allocate_on_start="maybe")
    with pytest.raises(PandoraValidationError, match="allocate_on_start: must be true or false"):
        op.execute({})


def test_create_group_refuses_a_bad_if_exists_naming_it() -> None:
    with pytest.raises(PandoraValidationError) as caught:
        ops.PandoraCreateGroupOperator(task_id="t", group="g", container=CONTAINER, if_exists="resize")
    assert caught.value.parameter == "if_exists"


# ---- delete: if_missing -------------------------------------------------------------------------------------
def test_delete_missing_group_is_ignored_or_fails() -> None:
    op, hook = make(ops.PandoraDeleteGroupOperator, group="g")
    hook.delete_group.side_effect = error(PandoraNotFoundError, 404)
    assert op.execute({}) == {"group": "g", "deleted": False}
    op, hook = make(ops.PandoraDeleteGroupOperator, group="g", if_missing="fail")
    hook.delete_group.side_effect = error(PandoraNotFoundError, 404)
    with pytest.raises(PandoraNotFoundError):
        op.execute({})


def test_delete_group_refuses_a_bad_if_missing_naming_it() -> None:
    with pytest.raises(PandoraValidationError) as caught:
        ops.PandoraDeleteGroupOperator(task_id="t", group="g", if_missing="warn")
    assert caught.value.parameter == "if_missing"


# ---- what is refused before any request, naming the operator's parameter --------------------------------------
@pytest.mark.parametrize(
    ("cls", "kwargs", "parameter"),
    [
        (ops.PandoraCreateGroupOperator, {"group": "1g", "container": CONTAINER}, "group"),
        (ops.PandoraCreateGroupOperator, {"group": "g", "container": {"type": "M16C4", "count": 0}}, "container.count"),
        (ops.PandoraCreateGroupOperator, {"group": "g", "container": CONTAINER, "region": "mars"}, "region"),
        (ops.PandoraUpdateGroupOperator, {"group": "g", "container": {"type": "XL", "count": 1}}, "container.type"),
        (ops.PandoraUpdateGroupOperator, {"group": "g", "container": "M16C4x1"}, "container"),
        (ops.PandoraStartGroupOperator, {"group": "g-1"}, "group"),
        (ops.PandoraStopGroupOperator, {"group": ""}, "group"),
        (ops.PandoraDeleteGroupOperator, {"group": "g/1"}, "group"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_a_bad_argument_is_refused_before_any_request(
    cls: type[Any], kwargs: dict[str, Any], parameter: str, refused: Any
) -> None:
    op = cls(task_id="t", **kwargs)
    assert refused(op).parameter == parameter
