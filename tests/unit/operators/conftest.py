"""Helpers shared by the operator tests (one file per ``airflow_provider_pandora/operators`` module).

- :func:`make`: an operator in a DAG of its own, with its hook replaced by a mock spec'd on ``PandoraHook`` (so a
  misspelt method or argument fails) that carries a real connection config;
- :func:`render`: renders the operator's templated fields with Airflow's own template context for a manual run
  (Airflow 3: the Task SDK's ``RuntimeTaskInstance.get_template_context``; 2.11: ``TaskInstance.get_template_context``),
  both built in memory as Airflow's ``airflow tasks`` commands build them, so no metadata DB or API server is needed;
- :class:`Case` and :func:`check_case`: one operator rendered, executed against the mocked hook, checked for the
  hook call it makes and the value it returns to XCom;
- the ``offline`` fixture: a real ``PandoraHook`` on a test connection whose transport records every request
  (``tests/unit/hooks/test_pandora.py``'s recording adapter), for what the hook refuses before any request leaves;
- :func:`context`, :func:`run`, :func:`error`, :class:`Store`: the task context, job runs, API errors and a
  stand-in for Airflow 3.3's ``task_state_store``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_pandora.exceptions import PandoraValidationError
from airflow_provider_pandora.hooks._connection import PandoraConnectionConfig
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.hooks.runs import JobRun, JobStatus
from airflow_provider_pandora.version_compat import AIRFLOW_V_3_0_PLUS
from tests.unit.hooks.test_pandora import ENDPOINT, Answer, RecordingAdapter, Script

#: What the mocked hook's connection says (a console URL is set where a test needs one).
CONFIG = PandoraConnectionConfig(endpoint=ENDPOINT, access_key="AK-ops", secret_key="SK-ops")
SCHEMA = [{"key": "user", "valtype": "string"}]
#: The logical date of the manual run whose context templates are rendered with, and what ``ds`` renders to.
LOGICAL_DATE = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DS, DS_NODASH = "2026-01-02", "20260102"
#: The reqid the mocked hook remembers from its last call (the operators log it).
LAST_REQID = "reqid-mock"


def make(cls: type[Any], *, dag_params: Mapping[str, Any] | None = None, **kwargs: Any) -> tuple[Any, Any]:
    """``cls(task_id="t", **kwargs)`` in a DAG of its own (with ``dag_params``), and its spec'd mock hook."""
    with DAG(f"dag_{cls.__name__}", schedule=None, start_date=datetime(2026, 1, 1), params=dict(dag_params or {})):
        op = cls(task_id="t", **kwargs)
    hook = mock.create_autospec(PandoraHook, instance=True)
    hook.config = CONFIG
    hook.last_reqid = LAST_REQID
    op.__dict__["hook"] = hook  # the cached_property slot
    return op, hook


def template_context(op: Any, conf: Mapping[str, Any] | None = None) -> Any:
    """Airflow's template context for ``op`` in a manual run at :data:`LOGICAL_DATE` with ``conf``.

    Built in memory as Airflow itself builds one outside a worker (Airflow 3's ``airflow tasks`` CLI:
    ``RuntimeTaskInstance.model_construct`` with the run's ``TIRunContext``; Airflow 2.11: a ``TaskInstance`` of an
    unsaved ``DagRun``), so ``ds``, ``params``, ``dag_run.conf``, ``run_id``, ``macros`` ... are Airflow's own.
    Nothing here reaches a metadata DB, so a template must not pull XComs or Variables.
    """
    dag = op.dag
    run_id = f"manual__{LOGICAL_DATE.isoformat()}"
    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk.api.datamodels._generated import DagRun, TIRunContext
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

        dag_run = DagRun(
            dag_id=dag.dag_id,
            run_id=run_id,
            logical_date=LOGICAL_DATE,
            data_interval_start=LOGICAL_DATE,
            data_interval_end=LOGICAL_DATE,
            run_after=LOGICAL_DATE,
            start_date=LOGICAL_DATE,
            end_date=None,
            run_type="manual",
            state="running",
            conf=dict(conf or {}),
            consumed_asset_events=[],
            partition_key=None,
        )
        ti = RuntimeTaskInstance.model_construct(
            id=uuid.uuid4(),
            task_id=op.task_id,
            dag_id=dag.dag_id,
            run_id=run_id,
            try_number=1,
            map_index=-1,
            task=op,
            start_date=LOGICAL_DATE,
            _ti_context_from_server=TIRunContext(dag_run=dag_run, max_tries=0),
        )
        return ti.get_template_context()
    from airflow.models.dagrun import DagRun as DagRun2
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.types import DagRunType

    dag_run2 = DagRun2(
        dag_id=dag.dag_id,
        run_id=run_id,
        execution_date=LOGICAL_DATE,
        data_interval=(LOGICAL_DATE, LOGICAL_DATE),
        run_type=DagRunType.MANUAL,
        conf=dict(conf or {}),
        external_trigger=True,
    )
    ti2 = TaskInstance(op, run_id=run_id)
    ti2.dag_run = dag_run2
    # The first run of its DAG: no earlier successful run (Airflow 2 would ask its metadata DB).
    ti2.get_previous_dagrun = lambda *args, **kwargs: None
    ti2.get_previous_execution_date = lambda *args, **kwargs: None
    return ti2.get_template_context()


def render(op: Any, conf: Mapping[str, Any] | None = None) -> Any:
    """Render ``op``'s templated fields as a worker does before ``execute``; returns the context used."""
    ctx = template_context(op, conf)
    op.render_template_fields(ctx)
    return ctx


def context(try_number: int = 1) -> dict[str, Any]:
    """The part of the task context ``execute`` reads: the task instance (console links are pushed to it)."""
    return {"ti": mock.MagicMock(try_number=try_number)}


def run(status: str, message: str = "", start: datetime | None = None) -> JobRun:
    """A job-history record with ``status`` (``Running``, ``Success``, ``Fail`` or ``Cancel``)."""
    return JobRun(JobStatus(status), start or datetime.now(UTC), None, message, 1)


def error(cls: type[Exception], status: int) -> Exception:
    """The API error ``cls`` (409 already exists, 404 missing) as the hook raises it, with a reqid."""
    return cls("exists" if status == 409 else "missing", status_code=status, reqid="req-1")  # type: ignore[call-arg]


class Store(dict[str, Any]):
    """A stand-in for Airflow 3.3's task_state_store."""

    def set(self, key: str, value: Any) -> None:
        self[key] = value


@dataclass
class Case:
    """One operator: its (templated) arguments, the hook call they must become once rendered, its XCom value."""

    cls: type[Any]
    kwargs: dict[str, Any]
    method: str
    args: tuple[Any, ...]
    call_kwargs: dict[str, Any]
    returns: dict[str, Any]
    hook_returns: Any = None
    dag_params: dict[str, Any] = field(default_factory=dict)
    conf: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.cls.__name__


def check_case(case: Case) -> tuple[Any, Any]:
    """Render the case's operator with Airflow's context, execute it: the hook gets the rendered values once, and
    the XCom value is the case's (and JSON, as XCom stores it)."""
    op, hook = make(case.cls, dag_params=case.dag_params, **case.kwargs)
    render(op, case.conf)
    if case.hook_returns is not None:
        getattr(hook, case.method).return_value = case.hook_returns
    result = op.execute(context())
    getattr(hook, case.method).assert_called_once_with(*case.args, **case.call_kwargs)
    assert result == case.returns
    assert json.loads(json.dumps(result)) == result
    return op, hook


# ---- a real hook that must not send anything ---------------------------------------------------------------
OFFLINE_CONN = "pandora_offline"
OFFLINE_SECRET = "SK-OFFLINE-SECRET-VALUE"


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Script]]:
    """Give an operator a real ``PandoraHook`` whose transport answers from a script (by default none: any request
    fails the test with "unexpected request"); returns the script, whose ``sent`` lists what reached the wire."""
    conn = {"conn_type": "pandora", "host": ENDPOINT, "login": "AK-offline", "password": OFFLINE_SECRET}
    monkeypatch.setenv(f"AIRFLOW_CONN_{OFFLINE_CONN.upper()}", json.dumps(conn))
    hooks: list[PandoraHook] = []

    def attach(op: Any, answers: Sequence[Answer] = ()) -> Script:
        op.pandora_conn_id = OFFLINE_CONN
        op.__dict__.pop("hook", None)
        script = Script(answers)
        op.hook.get_conn().mount(ENDPOINT, RecordingAdapter(script))
        hooks.append(op.hook)
        return script

    yield attach
    for hook in hooks:
        hook.close()


@pytest.fixture
def refused(offline: Callable[..., Script]) -> Callable[[Any], PandoraValidationError]:
    """Execute an operator on a real hook: it must fail with a validation error before any request; returns it."""

    def check(op: Any) -> PandoraValidationError:
        script = offline(op)
        with pytest.raises(PandoraValidationError) as caught:
            op.execute(context())
        assert script.sent == [], "a request left before the parameter was refused"
        return caught.value

    return check
