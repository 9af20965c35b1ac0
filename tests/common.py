"""Shared across suites: a schema with every value type, a resource-group container, clicks to load, and
:func:`dag_test` / :func:`explain`, which make a failed dag.test() run say what its failed tasks raised."""

from __future__ import annotations

import importlib
import json
import logging
import re
import traceback
from pathlib import Path
from typing import Any

import pluggy

CONTAINER: dict[str, Any] = {"type": "M16C4", "count": 1}
#: One field of each valtype (string, long, float, boolean, date, array, map), ``user`` required.
SCHEMA: list[dict[str, Any]] = [
    {"key": "user", "valtype": "string", "required": True},
    {"key": "hits", "valtype": "long"},
    {"key": "ratio", "valtype": "float"},
    {"key": "ok", "valtype": "boolean"},
    {"key": "at", "valtype": "date"},
    {"key": "tags", "valtype": "array", "elemtype": "string"},
    {"key": "meta", "valtype": "map", "schema": [{"key": "zone", "valtype": "string"}]},
]


def write_clicks(path: Path, count: int = 300) -> Path:
    """``count`` JSON lines of clicks as the pipeline example's schema wants them (nested map included)."""
    path.write_text(
        "".join(
            json.dumps(
                {
                    "user": f"u{i % 7}",
                    "hits": i,
                    "latency": 0.5,
                    "ok": i % 3 != 0,
                    "at": "2024-05-01T00:00:00Z",
                    "tags": ["a"],
                    "meta": {"zone": "nb", "device": {"os": "linux", "version": 2}},
                }
            )
            + "\n"
            for i in range(count)
        )
    )
    return path


# ---- dag.test() whose failures explain themselves ----------------------------------------------------------
#: what the listener saw: (dag_id, run_id, task_id, map_index) -> (try number, formatted exception) per failed try
FAILED_TRIES: dict[tuple[str, str, str, int], list[tuple[int, str]]] = {}
#: (dag_id, run_id) -> the exceptions Airflow logged during that dag.test() (for a task that failed without raising)
_LOGGED: dict[tuple[str, str], list[str]] = {}
EXCEPTION_LINES = 40
#: the marker lines under a traceback's source lines ("    ^^^^^^" / "    ~~~~^^^"): noise in a short tail
CARETS = re.compile(r"^\s*[\^~]+\s*$")
_hookimpl = pluggy.HookimplMarker("airflow")  # what Airflow's listener managers (pluggy, project "airflow") collect


def _formatted(error: BaseException | str | None, last: int = EXCEPTION_LINES) -> str:
    if isinstance(error, BaseException):
        lines = "".join(traceback.format_exception(error)).splitlines()
    else:
        lines = str(error).splitlines()
    return "\n".join([line for line in lines if not CARETS.match(line)][-last:])


class _FailedTries:
    """An Airflow listener keeping each failed try's exception. Its hook takes the arguments that Airflow 2.11's
    and Airflow 3's ``on_task_instance_failed`` specs share, so one object serves both lines."""

    @_hookimpl
    def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
        ti = task_instance
        key = (ti.dag_id, ti.run_id, ti.task_id, int(ti.map_index if ti.map_index is not None else -1))
        FAILED_TRIES.setdefault(key, []).append((int(ti.try_number or 0), _formatted(error)))


class _ErrorRecords(logging.Handler):
    """Exceptions Airflow logs while running dag.test() outside any task (say, a trigger that raised inline)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.seen.append(self.format(record))


def _listener_manager() -> Any:
    """The manager whose ``on_task_instance_failed`` dag.test() calls: the Task SDK's from Airflow 3.2 (tasks run
    in-process), the core one on Airflow 2.11 and 3.0/3.1."""
    try:
        from airflow.sdk.listener import get_listener_manager
    except ImportError:
        from airflow.listeners.listener import get_listener_manager
    return get_listener_manager()


def dag_test(dag: Any, **kwargs: Any) -> Any:
    """``dag.test(**kwargs)`` (the dag run it returns), noting each failed try's exception for :func:`explain`."""
    listener = _FailedTries()
    manager = _listener_manager()
    manager.add_listener(listener)
    handler = _ErrorRecords()
    logging.getLogger().addHandler(handler)
    try:
        dagrun = dag.test(**kwargs)
    finally:
        logging.getLogger().removeHandler(handler)
        manager.pm.unregister(listener)
    _LOGGED[(dagrun.dag_id, dagrun.run_id)] = handler.seen
    return dagrun


def explain(dagrun: Any) -> str:
    """What a failed assertion on a :func:`dag_test` run should say: the run's state, every task's state, and for
    each failed (or up_for_retry) task its exception with the last lines of its traceback; for one that failed
    without raising, the exceptions Airflow logged during the run."""
    tis = sorted(dagrun.get_task_instances(), key=lambda ti: (ti.task_id, ti.map_index))

    def name(ti: Any) -> str:
        return str(ti.task_id) + (f"[{ti.map_index}]" if ti.map_index >= 0 else "")

    out = [
        f"dag run {dagrun.dag_id} / {dagrun.run_id}: {dagrun.state!s}",
        "task states: " + ", ".join(f"{name(ti)}: {ti.state!s}" for ti in tis),
    ]
    for ti in tis:
        state = str(ti.state)
        if state == "upstream_failed":
            out.append(f"----- {name(ti)}: upstream_failed, never ran (an upstream task failed) -----")
        elif state in ("failed", "up_for_retry"):
            tries = FAILED_TRIES.get((dagrun.dag_id, dagrun.run_id, ti.task_id, ti.map_index))
            if tries:
                number, text = tries[-1]
                out += [f"----- {name(ti)}: {state}, try {number} raised -----", text]
            else:
                logged = "\n".join(_LOGGED.get((dagrun.dag_id, dagrun.run_id)) or ["(nothing)"])
                out += [f"----- {name(ti)}: {state} without raising in a task; what Airflow logged -----"]
                out.append(_formatted(logged))
    return "\n".join(out)


def run_module_dag(name: str, conf: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """:func:`dag_test` the module-level ``dag`` of tests/dags/<name>.py: the dag run and its task instances by id
    (mapped ones under their task id too, the last one winning)."""
    dag = importlib.import_module(f"tests.dags.{name}").dag
    dagrun = dag_test(dag, run_conf=conf or {})
    return dagrun, {ti.task_id: ti for ti in dagrun.get_task_instances()}


def assert_succeeded(dagrun: Any) -> None:
    """Fail with :func:`explain` unless the :func:`dag_test` run succeeded."""
    if str(dagrun.state) != "success":
        raise AssertionError(explain(dagrun))
