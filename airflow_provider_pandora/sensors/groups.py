"""Wait for a resource group to reach a status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.common.compat.sdk import Context

from airflow_provider_pandora.exceptions import PandoraValidationError
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.sensors.base import PandoraPollingSensor
from airflow_provider_pandora.triggers.groups import PandoraGroupStatusTrigger

GROUP_STATUSES = ("running", "idle")


class PandoraGroupStatusSensor(PandoraPollingSensor):
    """Succeed when the group's container status is ``target_status`` (``running`` or ``idle``).

    Transient API errors are logged and polling continues; a missing group fails.

    :param group: the group's name.
    :param target_status: ``running`` or ``idle``.
    :param pandora_conn_id: the ``pandora`` connection.
    :param poll_interval: seconds between polls.
    :param deferrable: wait in the triggerer.
    """

    template_fields: Sequence[str] = ("pandora_conn_id", "group", "target_status", "poll_interval")

    def __init__(self, *, group: str, target_status: str = "running", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.group = group
        self.target_status = target_status

    def describe(self) -> str:
        """``group 'g'``."""
        return f"group {self.group!r}"

    def _target(self) -> str:
        target = str(self.target_status).lower()
        if target not in GROUP_STATUSES:
            raise PandoraValidationError(
                "target_status", f"must be one of {GROUP_STATUSES}, got {self.target_status!r}"
            )
        return target

    def check(self, context: Context) -> bool:
        """Whether the group has the target status now."""
        target = self._target()
        current = PandoraHook.group_status(self.hook.get_group(self.group))
        self.log.info("group %r is %s (waiting for %s)", self.group, current or "?", target)
        return current == target

    def trigger(self, end_time: float) -> PandoraGroupStatusTrigger:
        """The group trigger, with the same target and interval."""
        return PandoraGroupStatusTrigger(
            self.group,
            self._target(),
            pandora_conn_id=self.pandora_conn_id,
            poll_interval=self._interval(),
            end_time=end_time,
        )
