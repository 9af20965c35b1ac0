"""Wait for a resource group to reach a status."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowSensorTimeout,
    BaseSensorOperator,
    Context,
    conf,
)

from airflow_provider_pandora.exceptions import PandoraValidationError
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.sensors.jobs import TRANSIENT_ERRORS
from airflow_provider_pandora.triggers.groups import PandoraGroupStatusTrigger

GROUP_STATUSES = ("running", "idle")


class PandoraGroupStatusSensor(BaseSensorOperator):
    """Succeed when the group's container status is ``target_status`` (``running`` or ``idle``).

    Transient API errors are logged and polling continues; a missing group fails.
    """

    template_fields: Sequence[str] = ("pandora_conn_id", "group", "target_status", "poll_interval")

    def __init__(
        self,
        *,
        group: str,
        target_status: str = "running",
        pandora_conn_id: str = PandoraHook.default_conn_name,
        poll_interval: float | str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        if poll_interval is not None and "poke_interval" not in kwargs and not isinstance(poll_interval, str):
            kwargs["poke_interval"] = float(poll_interval)
        super().__init__(**kwargs)
        self.group = group
        self.target_status = target_status
        self.pandora_conn_id = pandora_conn_id
        self.poll_interval = poll_interval
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> PandoraHook:
        return PandoraHook(self.pandora_conn_id)

    def _target(self) -> str:
        target = str(self.target_status).lower()
        if target not in GROUP_STATUSES:
            raise PandoraValidationError(
                "target_status", f"must be one of {GROUP_STATUSES}, got {self.target_status!r}"
            )
        return target

    def poke(self, context: Context) -> bool:
        target = self._target()
        try:
            current = PandoraHook.group_status(self.hook.get_group(self.group))
        except TRANSIENT_ERRORS as exc:
            self.log.warning("transient error reading group %r (will poll again): %s", self.group, exc)
            return False
        self.log.info("group %r is %s (waiting for %s)", self.group, current or "?", target)
        return current == target

    def execute(self, context: Context) -> Any:
        if self.poll_interval not in (None, ""):
            self.poke_interval = float(self.poll_interval)  # a templated interval is known only now
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        interval = float(self.poll_interval) if self.poll_interval not in (None, "") else float(self.poke_interval)
        self.defer(
            trigger=PandoraGroupStatusTrigger(
                self.group,
                self._target(),
                pandora_conn_id=self.pandora_conn_id,
                poll_interval=interval,
                end_time=time.time() + float(self.timeout),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout)),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        event = event or {}
        status = event.get("status")
        if status == "success":
            return
        message = f"group {self.group!r}: {status}: {event.get('message') or '(no message)'}"
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        raise AirflowFailException(message)
