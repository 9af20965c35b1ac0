"""Shared base for Pandora operators: hook, conn id, and retry-safe create/delete."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any, ClassVar

from airflow.providers.common.compat.sdk import BaseOperator, Context

from airflow_provider_pandora import lineage
from airflow_provider_pandora.exceptions import PandoraAlreadyExistsError, PandoraNotFoundError
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.schema import check_choice

IF_EXISTS = ("ignore", "fail", "update")
IF_MISSING = ("ignore", "fail")


def task_job_params(op: BaseOperator) -> dict[str, Any] | None:
    """The job parameters given to the task itself.

    ``params`` is also Airflow's own argument: Airflow merges the DAG's params into it before the
    operator sees it, so the DAG's keys are dropped here (a task-level override of a DAG param key
    is therefore not sent to Pandora; use a distinct name).
    """
    merged: dict[str, Any] = op.params.dump() if op.params else {}
    dag_keys = set(op.dag.params.keys()) if op.has_dag() and op.dag is not None else set()
    return {k: v for k, v in merged.items() if k not in dag_keys} or None


def last_reqid(hook: Any) -> str:
    """The hook's last request id for the log, or ``-`` when there is none (never a secret)."""
    return str(getattr(hook, "last_reqid", None) or "-")


class PandoraBaseOperator(BaseOperator):
    """Holds ``pandora_conn_id`` and a lazily built :class:`PandoraHook`."""

    template_fields: Sequence[str] = ("pandora_conn_id",)
    ui_color = "#e8f4fd"

    def __init__(self, *, pandora_conn_id: str = PandoraHook.default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pandora_conn_id = pandora_conn_id

    @cached_property
    def hook(self) -> PandoraHook:
        """The hook, built on first use (not at DAG parse time); it remembers its last request id."""
        return PandoraHook(self.pandora_conn_id)

    def log_done(self, what: str) -> None:
        """Log what was done with the request id (for Qiniu support); never a secret."""
        self.log.info("%s (reqid %s)", what, last_reqid(self.hook))

    # ---- lineage (lineage.py): outlets checked before the first request, their events filled after ----------
    def check_outlets(self) -> None:
        """Refuse ``pandora`` outlets that name another endpoint or account than this task's connection."""
        lineage.check_outlets(self.outlets, lambda: self.hook.config)

    def emit_outlet_events(self, context: Context, repos: Sequence[str] | None, **extra: Any) -> None:
        """``extra`` on the asset events of the ``pandora`` outlets naming ``repos`` (``None``: every one)."""
        lineage.emit_outlet_events(context, self.outlets, lambda: self.hook.config, repos, extra)


class PandoraCreateOperator(PandoraBaseOperator):
    """A create call made safe to retry: an existing resource (409) is ignored, fails, or is updated."""

    resource: ClassVar[str] = "resource"

    def __init__(self, *, if_exists: str = "ignore", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.if_exists = check_choice(if_exists, IF_EXISTS, "if_exists")

    def create_or_update(
        self, name: str, create: Callable[[], Any], update: Callable[[], Any] | None
    ) -> dict[str, Any]:
        """Create; on 409 apply ``if_exists``. Returns ``{"name", "action"}`` (created/updated/exists)."""
        try:
            create()
            action = "created"
        except PandoraAlreadyExistsError as exc:
            if self.if_exists == "fail":
                raise
            if self.if_exists == "update" and update is not None:
                update()
                action = "updated"
            else:
                self.log.info(
                    "%s %r already exists (reqid %s); if_exists=%s", self.resource, name, exc.reqid, self.if_exists
                )
                action = "exists"
        self.log_done(f"{self.resource} {name!r}: {action}")
        return {self.resource: name, "action": action}


class PandoraDeleteOperator(PandoraBaseOperator):
    """A delete call made safe to retry: a missing resource (404) is ignored or fails."""

    resource: ClassVar[str] = "resource"

    def __init__(self, *, if_missing: str = "ignore", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.if_missing = check_choice(if_missing, IF_MISSING, "if_missing")

    def delete(self, name: str, call: Callable[[], Any]) -> dict[str, Any]:
        """Run ``call``; a 404 fails only with ``if_missing="fail"``. Returns ``{resource: name, "deleted": bool}``."""
        try:
            call()
        except PandoraNotFoundError as exc:
            if self.if_missing == "fail":
                raise
            self.log.info("%s %r does not exist (reqid %s); nothing to delete", self.resource, name, exc.reqid)
            return {self.resource: name, "deleted": False}
        self.log_done(f"deleted {self.resource} {name!r}")
        return {self.resource: name, "deleted": True}
