"""Operators: public names, templating, argument checks, retry-safe create/delete, push, job waits."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from unittest import mock

import pytest
import requests
from airflow.providers.common.compat.sdk import DAG, AirflowException, TaskDeferred
from requests.structures import CaseInsensitiveDict

import airflow_provider_pandora.operators as ops
from airflow_provider_pandora.exceptions import (
    PandoraAlreadyExistsError,
    PandoraJobFailedError,
    PandoraNotFoundError,
    PandoraServerError,
    PandoraValidationError,
)
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.hooks.runs import JobRun, JobStatus, PushResult
from airflow_provider_pandora.operators.base import PandoraCreateOperator, PandoraDeleteOperator
from airflow_provider_pandora.triggers.jobs import PandoraJobTrigger
from tests.common import CONTAINER

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
SCHEMA = [{"key": "user", "valtype": "string"}]


def run(status: str, message: str = "", start: datetime | None = None) -> JobRun:
    return JobRun(JobStatus(status), start or datetime.now(UTC), None, message, 1)


def error(cls: type[Exception], status: int) -> Exception:
    return cls("exists" if status == 409 else "missing", status_code=status, reqid="req-1")  # type: ignore[call-arg]


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


def test_json_arguments_render_recursively() -> None:
    with DAG("render_dag", schedule=None, start_date=datetime(2026, 1, 1)):
        op = ops.PandoraCreateRepoOperator(
            task_id="t", repo="r_{{ ds_nodash }}", schema=[{"key": "k_{{ ds_nodash }}", "valtype": "string"}]
        )
    op.render_template_fields({"ds_nodash": "20260102"})  # type: ignore[arg-type]
    assert op.repo == "r_20260102"
    assert op.schema == [{"key": "k_20260102", "valtype": "string"}]


def test_job_params_are_kept_apart_from_dag_params() -> None:
    with DAG("params_dag", schedule=None, start_date=datetime(2026, 1, 1), params={"prefix": "p"}):
        op = ops.PandoraStartJobOperator(task_id="t", repo="r", job="j", params={"day": "{{ ds }}"})
        plain = ops.PandoraStartJobOperator(task_id="t2", repo="r", job="j")
    assert op.job_params == {"day": "{{ ds }}"}
    assert plain.job_params is None


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


def make(cls: type[Any], **kwargs: Any) -> tuple[Any, mock.MagicMock]:
    op = cls(task_id="t", **kwargs)
    hook = mock.MagicMock()
    op.__dict__["hook"] = hook  # the cached_property slot
    return op, hook


@pytest.mark.parametrize(
    ("policy", "expected"), [("ignore", "exists"), ("update", "updated")], ids=["ignore", "update"]
)
def test_create_existing_resource(policy: str, expected: str) -> None:
    op, hook = make(ops.PandoraCreateRepoOperator, repo="r", schema=SCHEMA, if_exists=policy)
    hook.create_repo.side_effect = error(PandoraAlreadyExistsError, 409)
    assert op.execute({}) == {"repo": "r", "action": expected}
    assert hook.update_repo.called is (policy == "update")


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


def test_create_group_refuses_an_allocate_on_start_that_is_not_a_bool() -> None:
    op, _ = make(ops.PandoraCreateGroupOperator, group="g", container=CONTAINER, allocate_on_start="maybe")
    with pytest.raises(PandoraValidationError, match="allocate_on_start: must be true or false"):
        op.execute({})


def test_create_new_resource() -> None:
    op, hook = make(ops.PandoraCreateExportOperator, repo="r", export="e", export_type="http", spec={"host": "h"})
    assert op.execute({}) == {"repo": "r", "export": "e", "action": "created"}
    hook.create_export.assert_called_once_with("r", "e", export_type="http", spec={"host": "h"}, whence=None)


def test_delete_missing_is_ignored_or_fails() -> None:
    op, hook = make(ops.PandoraDeleteTransformOperator, repo="r", transform="t")
    hook.delete_transform.side_effect = error(PandoraNotFoundError, 404)
    assert op.execute({}) == {"repo": "r", "transform": "t", "deleted": False}
    op, hook = make(ops.PandoraDeleteTransformOperator, repo="r", transform="t", if_missing="fail")
    hook.delete_transform.side_effect = error(PandoraNotFoundError, 404)
    with pytest.raises(PandoraNotFoundError):
        op.execute({})


def test_create_and_delete_bases_cover_all_resources() -> None:
    creates = [n for n in NAMES if n.startswith(("PandoraCreate", "PandoraSubmit", "PandoraUpload"))]
    deletes = [n for n in NAMES if n.startswith("PandoraDelete")]
    assert all(issubclass(getattr(ops, n), PandoraCreateOperator) for n in creates)
    assert all(issubclass(getattr(ops, n), PandoraDeleteOperator) for n in deletes)


def test_push_data_accepts_json_text_and_returns_counts() -> None:
    op, hook = make(ops.PandoraPushDataOperator, repo="r", points='[{"user": "ann"}]')
    hook.push_data.return_value = PushResult(1, 9, 1, ("req",))
    assert op.execute({}) == {"repo": "r", "points": 1, "bytes": 9, "batches": 1}
    hook.push_data.assert_called_once_with("r", [{"user": "ann"}], schema=None)


@pytest.mark.parametrize("points", ["not json", [1, 2], " "])
def test_push_data_rejects_non_dicts(points: Any) -> None:
    op, _ = make(ops.PandoraPushDataOperator, repo="r", points=points)
    with pytest.raises(PandoraValidationError, match="points"):
        op.execute({})


# ---- jobs -------------------------------------------------------------------------------------
def context(try_number: int = 1) -> dict[str, Any]:
    return {"ti": mock.MagicMock(try_number=try_number)}


def start_op(**kwargs: Any) -> tuple[Any, mock.MagicMock]:
    op, hook = make(ops.PandoraStartJobOperator, repo="r", job="j", poll_interval=0.01, **kwargs)
    hook.config.console_url = None
    # the wait is the hook's own loop, polling the mocked history
    hook.wait_for_job_run.side_effect = partial(PandoraHook.wait_for_job_run, hook)
    return op, hook


def test_start_job_waits_and_returns_final_record() -> None:
    op, hook = start_op()
    hook.get_latest_job_run.side_effect = [run("Running"), run("Success")]
    result = op.execute(context())
    assert result["run"]["status"] == "Success"
    assert result["reconnected"] is False
    hook.start_job.assert_called_once_with("r", "j", params=None)
    json.dumps(result)


def test_start_job_failure_carries_history_message() -> None:
    op, hook = start_op()
    hook.get_latest_job_run.return_value = run("Fail", "boom")
    with pytest.raises(PandoraJobFailedError, match="boom"):
        op.execute(context())


def test_start_job_tolerates_transient_poll_errors() -> None:
    op, hook = start_op()
    hook.get_latest_job_run.side_effect = [PandoraServerError("busy", status_code=503), run("Success")]
    assert op.execute(context())["run"]["status"] == "Success"


def test_start_job_timeout_stops_the_job() -> None:
    op, hook = start_op(timeout=0.05)
    hook.get_latest_job_run.return_value = run("Running")
    with pytest.raises(AirflowException, match="timeout"):
        op.execute(context())
    hook.stop_job.assert_called_once_with("r", "j")


def test_retry_reconnects_to_a_running_run() -> None:
    op, hook = start_op()
    hook.get_latest_job_run.side_effect = [run("Running"), run("Success")]
    result = op.execute(context(try_number=2))
    assert result["reconnected"] is True
    hook.start_job.assert_not_called()


def test_deferrable_start_defers_with_serialisable_trigger_and_deadline() -> None:
    op, hook = start_op(deferrable=True, execution_timeout=timedelta(seconds=30))
    hook.config.console_url = "https://console.example"
    hook.get_latest_job_run.return_value = run("Running")
    ctx = context()
    with pytest.raises(TaskDeferred) as exc:
        op.execute(ctx)
    trigger = exc.value.trigger
    assert isinstance(trigger, PandoraJobTrigger)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_pandora.triggers.jobs.PandoraJobTrigger"
    json.dumps(kwargs)
    assert kwargs["end_time"] is not None
    assert exc.value.method_name == "execute_complete"
    ctx["ti"].xcom_push.assert_called_once_with(
        key="pandora_console_url", value="https://console.example/repos/r/jobs/j"
    )


def test_execute_complete_events() -> None:
    op, hook = start_op()
    ok = op.execute_complete(context(), {"status": "success", "message": "", "run": {"status": "Success"}})
    assert ok["run"] == {"status": "Success"}
    with pytest.raises(PandoraJobFailedError, match="boom"):
        op.execute_complete(context(), {"status": "failed", "message": "boom", "run": {"status": "Fail"}})
    with pytest.raises(AirflowException, match="deadline"):
        op.execute_complete(context(), {"status": "timeout", "message": "deadline passed"})
    hook.stop_job.assert_called_once_with("r", "j")


def test_on_kill_stops_only_a_started_job() -> None:
    op, hook = start_op()
    op.on_kill()
    hook.stop_job.assert_not_called()
    hook.get_latest_job_run.return_value = run("Success")
    op.execute(context())
    op.on_kill()
    hook.stop_job.assert_called_once_with("r", "j")


def test_what_was_done_is_logged_with_reqid_and_no_secret(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    conn = {"conn_type": "pandora", "host": "http://pandora.test", "login": "AK", "password": "SECRET-KEY-VALUE"}
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_DEFAULT", json.dumps(conn))
    op = ops.PandoraCreateGroupOperator(task_id="t", group="g1", container=CONTAINER)
    sent: list[tuple[str, str]] = []

    class Answer(requests.adapters.BaseAdapter):
        """The service's answer, as a requests transport: 200 ``{}`` with its request id."""

        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
            sent.append((request.method or "", request.path_url))
            response = requests.Response()
            response.status_code, response._content = 200, b"{}"
            response.headers = CaseInsensitiveDict({"Content-Type": "application/json", "X-Reqid": "reqid-42"})
            response.request = request
            return response

        def close(self) -> None:
            pass

    op.hook.get_conn().mount("http://", Answer())
    with caplog.at_level("INFO"):
        assert op.execute({}) == {"group": "g1", "action": "created"}
    assert sent == [("POST", "/v2/groups/g1")]
    logged = caplog.text + capsys.readouterr().out  # stdlib logging on 2.x, structlog to stdout on 3.x
    assert "group 'g1': created (reqid reqid-42)" in logged
    assert "SECRET-KEY-VALUE" not in logged


class Store(dict[str, Any]):
    """A stand-in for Airflow 3.3's task_state_store."""

    def set(self, key: str, value: Any) -> None:
        self[key] = value


def test_task_state_store_records_the_run_and_a_retry_reconnects_to_it() -> None:
    op, hook = start_op()
    store = Store()
    hook.get_latest_job_run.return_value = run("Success")
    op.execute({"ti": mock.MagicMock(try_number=1), "task_state_store": store})
    stored = store["pandora_run_started_at"]
    hook.start_job.reset_mock()
    hook.get_latest_job_run.side_effect = [run("Running"), run("Success")]
    result = op.execute({"ti": mock.MagicMock(try_number=2), "task_state_store": store})
    assert result["reconnected"] is True
    hook.start_job.assert_not_called()
    assert hook.get_latest_job_run.call_args_list[0].kwargs["since"] == datetime.fromisoformat(stored)


def test_task_state_store_resubmits_after_a_failed_run() -> None:
    op, hook = start_op()
    store = Store(pandora_run_started_at="2026-01-01T00:00:00+00:00")
    hook.get_latest_job_run.side_effect = [run("Fail", "old"), run("Success")]
    result = op.execute({"ti": mock.MagicMock(try_number=2), "task_state_store": store})
    assert result["reconnected"] is False
    hook.start_job.assert_called_once()
    assert store["pandora_run_started_at"] != "2026-01-01T00:00:00+00:00"


def test_operator_hook_is_a_plain_pandora_hook_that_a_patch_reaches() -> None:
    """``operator.hook`` is a ``PandoraHook`` (no private subclass), so patching the class the module uses works."""
    op = ops.PandoraCreateRepoOperator(task_id="t", repo="r", schema=[{"key": "k", "valtype": "string"}])
    assert type(op.hook) is PandoraHook
    assert op.hook.last_reqid is None
    with mock.patch("airflow_provider_pandora.operators.base.PandoraHook") as patched:
        fresh = ops.PandoraCreateRepoOperator(task_id="t", repo="r", schema=[{"key": "k", "valtype": "string"}])
        assert fresh.hook is patched.return_value
