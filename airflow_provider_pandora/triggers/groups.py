"""Deferrable wait for a resource group to reach a status."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.triggers.base import TriggerEvent

from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.triggers.base import PandoraPollingTrigger


class PandoraGroupStatusTrigger(PandoraPollingTrigger):
    """Poll ``GET /v2/groups/<group>`` until its status is ``target_status``; yield one event.

    Event ``status`` is ``success``, ``timeout`` or ``error`` (a missing group is an error).

    :param group: the group's name.
    :param target_status: ``running`` or ``idle``.
    :param pandora_conn_id: the ``pandora`` connection.
    :param poll_interval: seconds between polls.
    :param end_time: ``time.time()`` deadline; ``None`` waits forever.
    """

    serialized_fields: ClassVar[tuple[str, ...]] = ("group", "target_status")

    def __init__(
        self,
        group: str,
        target_status: str = "running",
        *,
        pandora_conn_id: str = PandoraHook.default_conn_name,
        poll_interval: float = 10.0,
        end_time: float | None = None,
    ) -> None:
        super().__init__(pandora_conn_id=pandora_conn_id, poll_interval=poll_interval, end_time=end_time)
        self.group = group
        self.target_status = target_status

    def describe(self) -> str:
        """``group 'g'``."""
        return f"group {self.group!r}"

    def timeout_message(self) -> str:
        """The ``timeout`` event's message."""
        return f"{self.describe()} did not become {self.target_status!r} in time"

    def payload(self) -> dict[str, Any]:
        """Every event names the group; ``group_status`` is filled on success."""
        return {"group": self.group, "group_status": None}

    async def poll(self, hook: PandoraHook) -> TriggerEvent | None:
        """The success event once the group has the target status."""
        current = PandoraHook.group_status(await hook.aget_group(self.group))
        if current != self.target_status:
            return None
        return self.event("success", f"group {self.group!r} is {current}", group_status=current)
