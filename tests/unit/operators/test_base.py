"""operators/base.py and the package: public names, what is templated, the hook, the retry-safe create/delete bases
(``if_exists``/``if_missing``), the task's own job params, and the log line with the last request id."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar
from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import DAG

import airflow_provider_pandora.operators as ops
from airflow_provider_pandora.exceptions import (
    PandoraAlreadyExistsError,
    PandoraNotFoundError,
    PandoraServerError,
    PandoraValidationError,
)
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.operators.base import (
    PandoraBaseOperator,
    PandoraCreateOperator,
    PandoraDeleteOperator,
    last_reqid,
    task_job_params,
)
from tests.common import CONTAINER
from tests.unit.operators.conftest import OFFLINE_SECRET, error, render

NAMES = [
    "PandoraCreateGroupOperator",
    "PandoraUpdateGroupOperator",
    "PandoraStartGroupOperator",
    "PandoraStopGroupOperator",
    "PandoraDeleteGroupOperator",
    "PandoraCreateRepoOperator",
    "PandoraUpdateRepoOperator",
    "PandoraDeleteRepoOperator",
    "PandoraPushDataOperator",
    "PandoraCreateTransformOperator",
    "PandoraUpdateTransformOperator",
    "PandoraDeleteTransformOperator",
    "PandoraUploadPluginOperator",
    "PandoraCreateExportOperator",
    "PandoraUpdateExportOperator",
    "PandoraDeleteExportOperator",
    "PandoraSubmitJobOperator",
    "PandoraStartJobOperator",
    "PandoraStopJobOperator",
]
#: Control arguments that are deliberately not templated.
NOT_TEMPLATED = {"if_exists", "if_missing", "deferrable", "wait_for_completion", "stop_on_timeout", "kwargs"}


def test_all_public_names_importable() -> None:
    assert sorted(ops.__all__) == sorted(NAMES)
    for name in NAMES:
        assert inspect.isclass(getattr(ops, name))


@pytest.mark.parametrize("name", NAMES)
def test_every_user_facing_argument_is_templated(name: str) -> None:
    cls = getattr(ops, name)
    args = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", *NOT_TEMPLATED)]
    fields = set(cls.template_fields)
    for arg in args:
        assert ("job_params" if arg == "params" else arg) in fields, f"{name}.{arg} is not templated"
    assert "pandora_conn_id" in fields


def test_create_and_delete_bases_cover_all_resources() -> None:
    creates = [n for n in NAMES if n.startswith(("PandoraCreate", "PandoraSubmit", "PandoraUpload"))]
    deletes = [n for n in NAMES if n.startswith("PandoraDelete")]
    assert all(issubclass(getattr(ops, n), PandoraCreateOperator) for n in creates)
    assert all(issubclass(getattr(ops, n), PandoraDeleteOperator) for n in deletes)


# ---- PandoraBaseOperator: the connection and the hook --------------------------------------------------------
def test_operator_hook_is_a_plain_pandora_hook_that_a_patch_reaches() -> None:
    """``operator.hook`` is a ``PandoraHook`` (no private subclass), so patching the class the module uses works."""
    op = ops.PandoraCreateRepoOperator(task_id="t", repo="r", schema=[{"key": "k", "valtype": "string"}])
    assert type(op.hook) is PandoraHook
    assert op.hook.last_reqid is None
    with mock.patch("airflow_provider_pandora.operators.base.PandoraHook") as patched:
        fresh = ops.PandoraCreateRepoOperator(task_id="t", repo="r", schema=[{"key": "k", "valtype": "string"}])
        assert fresh.hook is patched.return_value


def test_the_hook_is_built_on_first_use_on_the_rendered_connection() -> None:
    """Parsing a DAG reads no connection; the hook is made for the connection id the template rendered to."""
    with DAG("conn_dag", schedule=None, start_date=datetime(2026, 1, 1), params={"env": "prod"}):
        op = ops.PandoraStartGroupOperator(task_id="t", group="g", pandora_conn_id="pandora_{{ params.env }}")
    assert op.pandora_conn_id == "pandora_{{ params.env }}"
    assert "hook" not in op.__dict__  # nothing built at parse time (the connection does not even exist)
    render(op)
    assert op.pandora_conn_id == "pandora_prod"
    assert op.hook.pandora_conn_id == "pandora_prod"


def test_the_default_connection_is_pandora_default() -> None:
    op = ops.PandoraStopGroupOperator(task_id="t", group="g")
    assert op.pandora_conn_id == PandoraHook.default_conn_name == "pandora_default"


# ---- task_job_params ---------------------------------------------------------------------------------------
def test_job_params_are_kept_apart_from_dag_params() -> None:
    with DAG("params_dag", schedule=None, start_date=datetime(2026, 1, 1), params={"prefix": "p"}):
        op = ops.PandoraStartJobOperator(task_id="t", repo="r", job="j", params={"day": "{{ ds }}"})
        plain = ops.PandoraStartJobOperator(task_id="t2", repo="r", job="j")
    assert op.job_params == {"day": "{{ ds }}"}
    assert plain.job_params is None


def test_job_params_outside_a_dag_are_the_task_params() -> None:
    op = ops.PandoraStartJobOperator(task_id="t", repo="r", job="j", params={"day": "d", "n": 3})
    assert task_job_params(op) == {"day": "d", "n": 3}


def test_a_task_param_that_shadows_a_dag_param_is_not_sent() -> None:
    """Documented: Airflow merges the DAG's params into the task's, so a task key equal to a DAG key is dropped."""
    with DAG("shadow_dag", schedule=None, start_date=datetime(2026, 1, 1), params={"day": "dag"}):
        op = ops.PandoraStartJobOperator(task_id="t", repo="r", job="j", params={"day": "task", "hour": "1"})
    assert op.job_params == {"hour": "1"}


# ---- PandoraCreateOperator / PandoraDeleteOperator: retry-safe create and delete -----------------------------
class Thing(PandoraCreateOperator):
    """A create operator over two callables, to show the base alone."""

    resource: ClassVar[str] = "thing"

    def __init__(self, *, create: Callable[[], Any], update: Callable[[], Any] | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.create, self.update = create, update

    def execute(self, context: Any) -> dict[str, Any]:
        return self.create_or_update("t1", self.create, self.update)


class DropThing(PandoraDeleteOperator):
    """A delete operator over one callable."""

    resource: ClassVar[str] = "thing"

    def __init__(self, *, call: Callable[[], Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.call = call

    def execute(self, context: Any) -> dict[str, Any]:
        return self.delete("t1", self.call)


def exists() -> None:
    raise error(PandoraAlreadyExistsError, 409)


def missing() -> None:
    raise error(PandoraNotFoundError, 404)


def with_mock_hook(op: PandoraBaseOperator) -> PandoraBaseOperator:
    op.__dict__["hook"] = mock.create_autospec(PandoraHook, instance=True)
    return op


@pytest.mark.parametrize(
    ("create", "policy", "action", "updated"),
    [
        (lambda: None, "ignore", "created", False),
        (lambda: None, "update", "created", False),
        (exists, "ignore", "exists", False),
        (exists, "update", "updated", True),
    ],
    ids=["new", "new-update", "existing-ignore", "existing-update"],
)
def test_create_or_update_applies_if_exists(create: Any, policy: str, action: str, updated: bool) -> None:
    update = mock.Mock()
    op = with_mock_hook(Thing(task_id="t", create=create, update=update, if_exists=policy))
    assert op.execute({}) == {"thing": "t1", "action": action}
    assert update.called is updated


def test_if_exists_update_without_an_update_call_leaves_the_resource_as_it_is() -> None:
    op = with_mock_hook(Thing(task_id="t", create=exists, update=None, if_exists="update"))
    assert op.execute({}) == {"thing": "t1", "action": "exists"}


def test_if_exists_fail_raises_the_409() -> None:
    op = with_mock_hook(Thing(task_id="t", create=exists, update=mock.Mock(), if_exists="fail"))
    with pytest.raises(PandoraAlreadyExistsError) as caught:
        op.execute({})
    assert caught.value.reqid == "req-1"


@pytest.mark.parametrize("policy", ["ignore", "update"])
def test_if_exists_forgives_only_an_existing_resource(policy: str) -> None:
    """Any other failure of the create (here a 503) fails the task whatever ``if_exists`` says."""

    def busy() -> None:
        raise PandoraServerError("busy", status_code=503)

    op = with_mock_hook(Thing(task_id="t", create=busy, update=mock.Mock(), if_exists=policy))
    with pytest.raises(PandoraServerError):
        op.execute({})


@pytest.mark.parametrize(
    ("call", "policy", "deleted"),
    [(lambda: None, "ignore", True), (lambda: None, "fail", True), (missing, "ignore", False)],
    ids=["present", "present-fail", "missing-ignore"],
)
def test_delete_applies_if_missing(call: Any, policy: str, deleted: bool) -> None:
    op = with_mock_hook(DropThing(task_id="t", call=call, if_missing=policy))
    assert op.execute({}) == {"thing": "t1", "deleted": deleted}


def test_if_missing_fail_raises_the_404() -> None:
    op = with_mock_hook(DropThing(task_id="t", call=missing, if_missing="fail"))
    with pytest.raises(PandoraNotFoundError):
        op.execute({})


def test_if_missing_forgives_only_a_missing_resource() -> None:
    def refused() -> None:
        raise PandoraServerError("busy", status_code=503)

    op = with_mock_hook(DropThing(task_id="t", call=refused))
    with pytest.raises(PandoraServerError):
        op.execute({})


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (ops.PandoraCreateGroupOperator, {"group": "g", "container": CONTAINER, "if_exists": "replace"}),
        (ops.PandoraDeleteRepoOperator, {"repo": "r", "if_missing": "update"}),
    ],
)
def test_bad_policy_is_rejected_naming_the_argument(cls: type[Any], kwargs: dict[str, Any]) -> None:
    with pytest.raises(PandoraValidationError, match="if_"):
        cls(task_id="t", **kwargs)


@pytest.mark.parametrize(
    ("cls", "kwargs", "parameter"),
    [
        (Thing, {"create": None, "update": None, "if_exists": "overwrite"}, "if_exists"),
        (DropThing, {"call": None, "if_missing": "skip"}, "if_missing"),
    ],
)
def test_a_bad_policy_is_refused_when_the_dag_is_parsed(cls: type[Any], kwargs: dict[str, Any], parameter: str) -> None:
    """The policies are not templated, so a wrong one fails at parse time, naming itself and its choices."""
    with pytest.raises(PandoraValidationError) as caught:
        cls(task_id="t", **kwargs)
    assert caught.value.parameter == parameter
    assert "is not one of ignore, fail" in caught.value.problem


# ---- the log line: what was done, with the request id -------------------------------------------------------
def test_what_was_done_is_logged_with_reqid_and_no_secret(
    offline: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    op = ops.PandoraCreateGroupOperator(task_id="t", group="g1", container=CONTAINER)
    script = offline(op, [(200, {})])
    with caplog.at_level("INFO"):
        assert op.execute({}) == {"group": "g1", "action": "created"}
    assert [(s.method, s.path) for s in script.sent] == [("POST", "/v2/groups/g1")]
    logged = caplog.text + capsys.readouterr().out  # stdlib logging on 2.x, structlog to stdout on 3.x
    assert "group 'g1': created (reqid reqid:/v2/groups/g1)" in logged
    assert OFFLINE_SECRET not in logged


def test_an_existing_resource_is_logged_with_the_reqid_of_the_409(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    op = with_mock_hook(Thing(task_id="t", create=exists, update=None))
    with caplog.at_level("INFO"):
        op.execute({})
    logged = caplog.text + capsys.readouterr().out
    assert "thing 't1' already exists (reqid req-1); if_exists=ignore" in logged


def test_last_reqid_is_a_dash_when_the_hook_has_none() -> None:
    assert last_reqid(PandoraHook("unused")) == "-"
    assert last_reqid(object()) == "-"
    hook = PandoraHook("unused")
    hook.last_reqid = "abc"
    assert last_reqid(hook) == "abc"
