"""operators/data.py: push points (a list, one dict, or rendered JSON text) to a repo; counts to XCom."""

from __future__ import annotations

from typing import Any

import pytest

import airflow_provider_pandora.operators as ops
from airflow_provider_pandora.exceptions import PandoraValidationError
from airflow_provider_pandora.hooks.runs import PushResult
from airflow_provider_pandora.wire import PointError
from tests.unit.operators.conftest import DS, DS_NODASH, Case, check_case, context, make, render

PUSH_SCHEMA: list[dict[str, Any]] = [
    {"key": "user", "valtype": "string", "required": True},
    {"key": "hits", "valtype": "long"},
]

CASE = Case(
    ops.PandoraPushDataOperator,
    {
        "repo": "clicks_{{ ds_nodash }}",
        "points": [{"user": "{{ params.user }}", "day": "{{ ds }}"}],
        "schema": [{"key": "{{ params.key }}", "valtype": "string"}],
    },
    "push_data",
    (f"clicks_{DS_NODASH}", [{"user": "ann", "day": DS}]),
    {"schema": [{"key": "user", "valtype": "string"}]},
    {"repo": f"clicks_{DS_NODASH}", "points": 1, "bytes": 24, "batches": 1},
    hook_returns=PushResult(1, 24, 1, ("reqid-1",)),
    dag_params={"user": "ann", "key": "user"},
)


def test_rendered_arguments_reach_the_hook_and_xcom() -> None:
    check_case(CASE)


def test_push_data_accepts_json_text_and_returns_counts() -> None:
    op, hook = make(ops.PandoraPushDataOperator, repo="r", points='[{"user": "ann"}]')
    hook.push_data.return_value = PushResult(1, 9, 1, ("req",))
    assert op.execute({}) == {"repo": "r", "points": 1, "bytes": 9, "batches": 1}
    hook.push_data.assert_called_once_with("r", [{"user": "ann"}], schema=None)


def test_points_from_a_dag_run_conf_rendered_as_json_are_pushed_as_dicts() -> None:
    """``points="{{ dag_run.conf['points'] | tojson }}"`` renders to text; the operator reads it back."""
    op, hook = make(ops.PandoraPushDataOperator, repo="r", points="{{ dag_run.conf['points'] | tojson }}")
    render(op, conf={"points": [{"user": "ann", "hits": 2}, {"user": "bob"}]})
    assert isinstance(op.points, str)
    hook.push_data.return_value = PushResult(2, 30, 1, ())
    op.execute(context())
    hook.push_data.assert_called_once_with("r", [{"user": "ann", "hits": 2}, {"user": "bob"}], schema=None)


def test_one_dict_is_pushed_as_one_point() -> None:
    op, hook = make(ops.PandoraPushDataOperator, repo="r", points={"user": "ann"})
    hook.push_data.return_value = PushResult(1, 9, 1, ())
    assert op.execute({})["points"] == 1
    hook.push_data.assert_called_once_with("r", [{"user": "ann"}], schema=None)


@pytest.mark.parametrize("points", ["not json", [1, 2], " "])
def test_push_data_rejects_non_dicts(points: Any) -> None:
    op, _ = make(ops.PandoraPushDataOperator, repo="r", points=points)
    with pytest.raises(PandoraValidationError, match="points"):
        op.execute({})


# ---- what is refused before any request, naming the operator's parameter --------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"points": "{not json"}, "points"),
        ({"points": [{"user": "ann"}, "bob"]}, "points"),
        ({"points": []}, "points"),
        ({"points": [{"user": "ann"}, {"hits": 3}]}, "points[1].user"),
        ({"points": [{"user": "ann", "hits": "many"}]}, "points[0].hits"),
        ({"points": [{"user": "ann"}], "schema": [{"key": "user", "valtype": "str"}]}, "schema[0].valtype"),
        ({"repo": "bad repo", "points": [{"user": "ann"}]}, "repo"),
    ],
)
def test_a_bad_argument_is_refused_before_any_request(kwargs: dict[str, Any], parameter: str, refused: Any) -> None:
    arguments: dict[str, Any] = {"repo": "r", "schema": PUSH_SCHEMA, **kwargs}
    op = ops.PandoraPushDataOperator(task_id="t", **arguments)
    assert refused(op).parameter == parameter


def test_a_bad_point_names_its_index_and_field(refused: Any) -> None:
    op = ops.PandoraPushDataOperator(
        task_id="t", repo="r", schema=PUSH_SCHEMA, points=[{"user": "ann"}, {"user": "bob", "hits": 1.5}]
    )
    err = refused(op)
    assert isinstance(err, PointError)
    assert (err.index, err.field) == (1, "hits")
