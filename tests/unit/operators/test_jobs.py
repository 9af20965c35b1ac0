"""operators/jobs.py: submit an offline job (if_exists), start a run and wait for it (sync, deferred, on a retry),
stop it; the console link; what is refused before any request."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, TaskDeferred

import airflow_provider_pandora.operators as ops
from airflow_provider_pandora.exceptions import (
    PandoraAlreadyExistsError,
    PandoraJobFailedError,
    PandoraServerError,
    PandoraValidationError,
)
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.links import CONSOLE_URL_XCOM_KEY
from airflow_provider_pandora.triggers.jobs import PandoraJobTrigger
from tests.common import CONTAINER
from tests.unit.operators.conftest import (
    CONFIG,
    DS,
    DS_NODASH,
    Case,
    Store,
    check_case,
    context,
    error,
    make,
    render,
    run,
)

SQL = "select user, count(*) as n from clicks where day = '{{ ds }}' group by user"
ONCE = {"type": "once"}


def start_op(**kwargs: Any) -> tuple[Any, Any]:
    op, hook = make(ops.PandoraStartJobOperator, **{"repo": "r", "job": "j", "poll_interval": 0.01, **kwargs})
    hook.get_job_history.return_value = []  # no earlier run
    hook.start_job.return_value = {}
    # the wait is the hook's own loop, polling the mocked history
    hook.wait_for_job_run.side_effect = partial(PandoraHook.wait_for_job_run, hook)
    return op, hook


# ---- templated fields and XCom ------------------------------------------------------------------------------
CASES = [
    Case(
        ops.PandoraSubmitJobOperator,
        {
            "repo": "{{ params.src }}",
            "job": "daily_{{ ds_nodash }}",
            "dest_repo": "{{ params.src }}_daily",
            "code": SQL,
            "container": {"type": "{{ params.size }}", "count": 1},
            "scheduler": {"type": "crontab", "crontab": "{{ dag_run.conf['cron'] }}"},
            "params": {"day": "{{ ds }}"},
        },
        "submit_job",
        ("clicks", f"daily_{DS_NODASH}", "clicks_daily"),
        {
            "code": SQL.replace("{{ ds }}", DS),
            "container": {"type": "M32C8", "count": 1},
            "scheduler": {"type": "crontab", "crontab": "0 0 * * *"},
            "params": {"day": DS},
        },
        {"repo": "clicks", "dest_repo": "clicks_daily", "job": f"daily_{DS_NODASH}", "action": "created"},
        dag_params={"src": "clicks", "size": "M32C8"},
        conf={"cron": "0 0 * * *"},
    ),
    Case(
        ops.PandoraStopJobOperator,
        {"repo": "{{ params.src }}", "job": "daily_{{ ds_nodash }}"},
        "stop_job",
        ("clicks", f"daily_{DS_NODASH}"),
        {},
        {"repo": "clicks", "job": f"daily_{DS_NODASH}", "action": "stopped"},
        dag_params={"src": "clicks"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rendered_arguments_reach_the_hook_and_xcom(case: Case) -> None:
    check_case(case)


def test_start_job_renders_its_run_params_and_returns_the_run_without_waiting() -> None:
    op, hook = start_op(
        dag_params={"src": "clicks"},  # a DAG param: rendered, never sent as a job param
        repo="{{ params.src }}",
        job="daily",
        params={"day": "{{ ds }}"},
        wait_for_completion=False,
    )
    render(op)
    hook.start_job.return_value = {"runId": "7"}
    hook.get_latest_job_run.return_value = run("Running")
    result = op.execute(context())
    hook.start_job.assert_called_once_with("clicks", "daily", params={"day": DS})
    assert hook.get_latest_job_run.call_args.kwargs["run_id"] == 7  # the run the start call answered
    assert set(result) == {"repo", "job", "started_at", "reconnected", "run"}
    assert (result["repo"], result["job"], result["reconnected"]) == ("clicks", "daily", False)
    assert result["run"]["status"] == "Running"
    assert datetime.fromisoformat(result["started_at"]).tzinfo is not None
    assert json.loads(json.dumps(result)) == result


def test_templated_poll_interval_and_timeout_are_read_as_seconds() -> None:
    op, hook = start_op(
        dag_params={"poll": 0.01, "timeout": 0.2},
        poll_interval="{{ params.poll }}",
        timeout="{{ params.timeout }}",
    )
    render(op)
    assert (op.poll_interval, op.timeout) == ("0.01", "0.2")
    hook.get_latest_job_run.return_value = run("Running")
    began = time.monotonic()
    with pytest.raises(AirflowException, match="timeout"):
        op.execute(context())
    assert time.monotonic() - began < 5
    assert hook.get_latest_job_run.call_count > 2  # polled at the rendered interval
    hook.stop_job.assert_called_once_with("r", "j")


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (
            ops.PandoraSubmitJobOperator,
            {"dest_repo": "d", "code": "select 1", "container": CONTAINER, "scheduler": ONCE},
        ),
        (ops.PandoraStartJobOperator, {"wait_for_completion": False}),
        (ops.PandoraStopJobOperator, {}),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_job_operators_publish_the_console_link(cls: type[Any], kwargs: dict[str, Any]) -> None:
    op, hook = make(cls, repo="r", job="j", **kwargs)
    hook.config = dataclasses.replace(CONFIG, console_url="https://console.example/")
    hook.get_job_history.return_value = []
    hook.start_job.return_value = {}
    hook.get_latest_job_run.return_value = None
    ctx = context()
    op.execute(ctx)
    ctx["ti"].xcom_push.assert_any_call(key=CONSOLE_URL_XCOM_KEY, value="https://console.example/repos/r/jobs/j")


# ---- submit: if_exists --------------------------------------------------------------------------------------
SUBMIT: dict[str, Any] = {
    "repo": "r",
    "job": "j",
    "dest_repo": "d",
    "code": "select 1",
    "container": CONTAINER,
    "scheduler": ONCE,
}


@pytest.mark.parametrize(("policy", "action"), [("ignore", "exists"), ("update", "updated")])
def test_submit_existing_job(policy: str, action: str) -> None:
    op, hook = make(ops.PandoraSubmitJobOperator, **SUBMIT, if_exists=policy)
    hook.submit_job.side_effect = [error(PandoraAlreadyExistsError, 409), {}]
    assert op.execute(context()) == {"repo": "r", "dest_repo": "d", "job": "j", "action": action}
    if policy == "update":  # the API has no job update: delete, then submit again
        names = [c[0] for c in hook.mock_calls]
        assert names == ["submit_job", "delete_job", "submit_job"]
        hook.delete_job.assert_called_once_with("r", "j")
    else:
        hook.delete_job.assert_not_called()
        assert hook.submit_job.call_count == 1


def test_submit_existing_job_fails_when_asked() -> None:
    op, hook = make(ops.PandoraSubmitJobOperator, **SUBMIT, if_exists="fail")
    hook.submit_job.side_effect = error(PandoraAlreadyExistsError, 409)
    with pytest.raises(PandoraAlreadyExistsError):
        op.execute(context())
    hook.delete_job.assert_not_called()


def test_submit_job_refuses_a_bad_if_exists_naming_it() -> None:
    with pytest.raises(PandoraValidationError) as caught:
        ops.PandoraSubmitJobOperator(task_id="t", **SUBMIT, if_exists="recreate")
    assert caught.value.parameter == "if_exists"


# ---- start: the wait ----------------------------------------------------------------------------------------
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
    hook.config = dataclasses.replace(CONFIG, console_url="https://console.example")
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


def test_task_state_store_records_the_run_and_a_retry_reconnects_to_it() -> None:
    op, hook = start_op()
    store = Store()
    hook.get_latest_job_run.return_value = run("Success")
    op.execute({**context(try_number=1), "task_state_store": store})
    stored = store["pandora_run_started_at"]
    hook.start_job.reset_mock()
    hook.get_latest_job_run.side_effect = [run("Running"), run("Success")]
    result = op.execute({**context(try_number=2), "task_state_store": store})
    assert result["reconnected"] is True
    hook.start_job.assert_not_called()
    assert hook.get_latest_job_run.call_args_list[0].kwargs["since"] == datetime.fromisoformat(stored)


def test_task_state_store_resubmits_after_a_failed_run() -> None:
    op, hook = start_op()
    store = Store(pandora_run_started_at="2026-01-01T00:00:00+00:00")
    hook.get_latest_job_run.side_effect = [run("Fail", "old"), run("Success")]
    result = op.execute({**context(try_number=2), "task_state_store": store})
    assert result["reconnected"] is False
    hook.start_job.assert_called_once()
    assert store["pandora_run_started_at"] != "2026-01-01T00:00:00+00:00"


# ---- what is refused before any request, naming the operator's parameter --------------------------------------
LONG_NAME = "p" * 65


@pytest.mark.parametrize(
    ("cls", "kwargs", "parameter"),
    [
        (ops.PandoraSubmitJobOperator, {**SUBMIT, "job": "daily-job"}, "job"),
        (ops.PandoraSubmitJobOperator, {**SUBMIT, "dest_repo": "d d"}, "dest_repo"),
        (ops.PandoraSubmitJobOperator, {**SUBMIT, "code": "  "}, "code"),
        (ops.PandoraSubmitJobOperator, {**SUBMIT, "container": {"type": "M16C4", "count": 0}}, "container.count"),
        (ops.PandoraSubmitJobOperator, {**SUBMIT, "scheduler": {"type": "hourly"}}, "scheduler.type"),
        (ops.PandoraSubmitJobOperator, {**SUBMIT, "scheduler": {"type": "loop", "loop": "3d"}}, "scheduler.loop"),
        (ops.PandoraSubmitJobOperator, {**SUBMIT, "params": {LONG_NAME: "x"}}, "params[0].name"),
        (ops.PandoraStartJobOperator, {"repo": "r", "job": "j j"}, "job"),
        (ops.PandoraStopJobOperator, {"repo": "1r", "job": "j"}, "repo"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_a_bad_argument_is_refused_before_any_request(
    cls: type[Any], kwargs: dict[str, Any], parameter: str, refused: Any
) -> None:
    op = cls(task_id="t", **kwargs)
    assert refused(op).parameter == parameter


def test_start_job_refuses_a_bad_job_param_before_starting(offline: Any) -> None:
    """Only the history is read (to tell an earlier run from ours); the start call itself never leaves."""
    op = ops.PandoraStartJobOperator(task_id="t", repo="r", job="j", params={LONG_NAME: "x"})
    script = offline(op, [(200, [])])
    with pytest.raises(PandoraValidationError) as caught:
        op.execute(context())
    assert caught.value.parameter == "params[0].name"
    assert [(s.method, s.path) for s in script.sent] == [("GET", "/v2/repos/r/jobs/j/history")]


@pytest.mark.parametrize("parameter", ["poll_interval", "timeout"])
def test_a_bad_poll_interval_or_timeout_is_refused_before_the_job_starts(parameter: str) -> None:
    op, hook = start_op(**{parameter: "soon"})
    with pytest.raises(PandoraValidationError) as caught:
        op.execute(context())
    assert caught.value.parameter == parameter
    hook.start_job.assert_not_called()
