"""Deferrable wait for a resource group to reach a status."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.triggers.jobs import MAX_TRANSIENT_ERRORS, TRANSIENT_ERRORS


class PandoraGroupStatusTrigger(BaseTrigger):
    """Poll ``GET /v2/groups/<group>`` until its status is ``target_status``; yield one event.

    Event ``status`` is ``success``, ``timeout`` or ``error`` (a missing group is an error).
    """

    def __init__(
        self,
        group: str,
        target_status: str = "running",
        *,
        pandora_conn_id: str = PandoraHook.default_conn_name,
        poll_interval: float = 10.0,
        end_time: float | None = None,
    ) -> None:
        super().__init__()
        self.group = group
        self.target_status = target_status
        self.pandora_conn_id = pandora_conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = end_time

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "group": self.group,
                "target_status": self.target_status,
                "pandora_conn_id": self.pandora_conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
            },
        )

    def _event(self, status: str, message: str, group_status: str | None = None) -> TriggerEvent:
        return TriggerEvent({"status": status, "message": message, "group": self.group, "group_status": group_status})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        errors = 0
        async with PandoraHook(self.pandora_conn_id) as hook:
            while True:
                if self.end_time is not None and time.time() >= self.end_time:
                    yield self._event("timeout", f"group {self.group!r} did not become {self.target_status!r} in time")
                    return
                try:
                    current = PandoraHook.group_status(await hook.aget_group(self.group))
                    errors = 0
                except TRANSIENT_ERRORS as exc:
                    errors += 1
                    if errors >= MAX_TRANSIENT_ERRORS:
                        yield self._event("error", f"giving up after {errors} transient errors: {exc}")
                        return
                    current = None
                except Exception as exc:
                    yield self._event("error", str(exc))
                    return
                if current == self.target_status:
                    yield self._event("success", f"group {self.group!r} is {current}", current)
                    return
                await asyncio.sleep(self.poll_interval)
