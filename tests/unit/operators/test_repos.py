"""operators/repos.py: create a repo (if_exists, kodo repos), update its schema, delete it (if_missing)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import DAG

import airflow_provider_pandora.operators as ops
from airflow_provider_pandora.exceptions import PandoraAlreadyExistsError, PandoraNotFoundError, PandoraValidationError
from tests.unit.operators.conftest import DS_NODASH, SCHEMA, Case, check_case, context, error, make, render

PARAMS = {"prefix": "clicks", "field": "user"}
REPO = "{{ params.prefix }}_{{ ds_nodash }}"
NAME = f"clicks_{DS_NODASH}"
TEMPLATED_SCHEMA = [{"key": "{{ params.field }}", "valtype": "string", "required": True}]
RENDERED_SCHEMA = [{"key": "user", "valtype": "string", "required": True}]

CASES = [
    Case(
        ops.PandoraCreateRepoOperator,
        {"repo": REPO, "schema": TEMPLATED_SCHEMA, "group": "{{ dag_run.conf['group'] }}"},
        "create_repo",
        (NAME,),
        {
            "schema": RENDERED_SCHEMA,
            "region": None,
            "group": "shared",
            "repo_type": None,
            "bucket": None,
            "key_prefix": None,
            "file_type": None,
        },
        {"repo": NAME, "action": "created"},
        dag_params=PARAMS,
        conf={"group": "shared"},
    ),
    Case(
        ops.PandoraUpdateRepoOperator,
        {"repo": REPO, "schema": TEMPLATED_SCHEMA},
        "update_repo",
        (NAME,),
        {"schema": RENDERED_SCHEMA},
        {"repo": NAME, "action": "updated"},
        dag_params=PARAMS,
    ),
    Case(
        ops.PandoraDeleteRepoOperator,
        {"repo": REPO},
        "delete_repo",
        (NAME,),
        {},
        {"repo": NAME, "deleted": True},
        dag_params=PARAMS,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rendered_arguments_reach_the_hook_and_xcom(case: Case) -> None:
    check_case(case)


def test_json_arguments_render_recursively() -> None:
    with DAG("render_dag", schedule=None, start_date=datetime(2026, 1, 1)):
        op = ops.PandoraCreateRepoOperator(
            task_id="t", repo="r_{{ ds_nodash }}", schema=[{"key": "k_{{ ds_nodash }}", "valtype": "string"}]
        )
    render(op)
    assert op.repo == f"r_{DS_NODASH}"
    assert op.schema == [{"key": f"k_{DS_NODASH}", "valtype": "string"}]


def test_kodo_repo_fields_are_rendered_and_passed() -> None:
    op, hook = make(
        ops.PandoraCreateRepoOperator,
        repo="logs",
        schema=SCHEMA,
        repo_type="kodo",
        bucket="{{ params.bucket }}",
        key_prefix="app/{{ ds }}/",
        file_type="json",
        dag_params={"bucket": "raw"},
    )
    render(op)
    op.execute(context())
    kwargs = hook.create_repo.call_args.kwargs
    assert (kwargs["repo_type"], kwargs["bucket"], kwargs["key_prefix"], kwargs["file_type"]) == (
        "kodo",
        "raw",
        "app/2026-01-02/",
        "json",
    )


def test_optional_fields_rendered_empty_are_not_sent() -> None:
    """A template that renders to "" (an unset conf key) means "not given", not an empty group name."""
    op, hook = make(ops.PandoraCreateRepoOperator, repo="r", schema=SCHEMA, group="{{ dag_run.conf.get('group', '') }}")
    render(op, conf={})
    op.execute(context())
    assert hook.create_repo.call_args.kwargs["group"] is None


# ---- create: if_exists --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("policy", "expected"), [("ignore", "exists"), ("update", "updated")], ids=["ignore", "update"]
)
def test_create_existing_resource(policy: str, expected: str) -> None:
    op, hook = make(ops.PandoraCreateRepoOperator, repo="r", schema=SCHEMA, if_exists=policy)
    hook.create_repo.side_effect = error(PandoraAlreadyExistsError, 409)
    assert op.execute({}) == {"repo": "r", "action": expected}
    assert hook.update_repo.called is (policy == "update")


def test_create_existing_repo_with_update_replaces_its_schema() -> None:
    op, hook = make(ops.PandoraCreateRepoOperator, repo="r", schema=SCHEMA, if_exists="update")
    hook.create_repo.side_effect = error(PandoraAlreadyExistsError, 409)
    op.execute({})
    hook.update_repo.assert_called_once_with("r", schema=SCHEMA)


def test_create_existing_repo_fails_when_asked() -> None:
    op, hook = make(ops.PandoraCreateRepoOperator, repo="r", schema=SCHEMA, if_exists="fail")
    hook.create_repo.side_effect = error(PandoraAlreadyExistsError, 409)
    with pytest.raises(PandoraAlreadyExistsError):
        op.execute({})
    hook.update_repo.assert_not_called()


def test_create_repo_refuses_a_bad_if_exists_naming_it() -> None:
    with pytest.raises(PandoraValidationError) as caught:
        ops.PandoraCreateRepoOperator(task_id="t", repo="r", schema=SCHEMA, if_exists="merge")
    assert caught.value.parameter == "if_exists"


# ---- delete: if_missing -------------------------------------------------------------------------------------
def test_delete_missing_repo_is_ignored_or_fails() -> None:
    op, hook = make(ops.PandoraDeleteRepoOperator, repo="r")
    hook.delete_repo.side_effect = error(PandoraNotFoundError, 404)
    assert op.execute({}) == {"repo": "r", "deleted": False}
    op, hook = make(ops.PandoraDeleteRepoOperator, repo="r", if_missing="fail")
    hook.delete_repo.side_effect = error(PandoraNotFoundError, 404)
    with pytest.raises(PandoraNotFoundError):
        op.execute({})


# ---- what is refused before any request, naming the operator's parameter --------------------------------------
@pytest.mark.parametrize(
    ("cls", "kwargs", "parameter"),
    [
        (ops.PandoraCreateRepoOperator, {"repo": "my-repo", "schema": SCHEMA}, "repo"),
        (
            ops.PandoraCreateRepoOperator,
            {"repo": "r", "schema": [{"key": "k", "valtype": "text"}]},
            "schema[0].valtype",
        ),
        (ops.PandoraCreateRepoOperator, {"repo": "r", "schema": []}, "schema"),
        (ops.PandoraCreateRepoOperator, {"repo": "r", "schema": SCHEMA, "repo_type": "batch"}, "repo_type"),
        (ops.PandoraCreateRepoOperator, {"repo": "r", "schema": SCHEMA, "repo_type": "kodo"}, "bucket"),
        (ops.PandoraCreateRepoOperator, {"repo": "r", "schema": SCHEMA, "bucket": "b"}, "bucket"),
        (ops.PandoraCreateRepoOperator, {"repo": "r", "schema": SCHEMA, "group": "g 1"}, "group"),
        (
            ops.PandoraCreateRepoOperator,
            {"repo": "r", "schema": SCHEMA, "repo_type": "kodo", "bucket": "b", "key_prefix": "", "file_type": "xml"},
            "file_type",
        ),
        (ops.PandoraUpdateRepoOperator, {"repo": "r", "schema": [{"key": "1k", "valtype": "long"}]}, "schema[0].key"),
        (ops.PandoraUpdateRepoOperator, {"repo": "r r", "schema": SCHEMA}, "repo"),
        (ops.PandoraDeleteRepoOperator, {"repo": "9lives"}, "repo"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_a_bad_argument_is_refused_before_any_request(
    cls: type[Any], kwargs: dict[str, Any], parameter: str, refused: Any
) -> None:
    op = cls(task_id="t", **kwargs)
    assert refused(op).parameter == parameter


def test_delete_repo_refuses_a_bad_if_missing_naming_it() -> None:
    with pytest.raises(PandoraValidationError) as caught:
        ops.PandoraDeleteRepoOperator(task_id="t", repo="r", if_missing="fail-loudly")
    assert caught.value.parameter == "if_missing"
