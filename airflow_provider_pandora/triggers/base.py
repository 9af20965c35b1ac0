"""The polling trigger every Pandora wait is built on: serialise, deadline, transient-error budget, one event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.hooks.polling import PollPolicy


class PandoraPollingTrigger(BaseTrigger):
    """Poll with one hook (one shared async client) until :meth:`poll` has an answer; yield exactly one event.

    Events carry ``status`` (``success``, ``failed``, ``timeout`` or ``error``) and ``message``, plus what
    :meth:`payload` adds. It polls under the one :class:`~airflow_provider_pandora.hooks.polling.PollPolicy`
    (a transient failure is polled again a few times in a row; anything else, such as a certificate refusal,
    a 4xx or a 501, ends the wait at once with an ``error`` event). Subclasses name their constructor arguments in
    ``serialized_fields`` (primitives only, so ``serialize()`` is safe on every Airflow line).

    :param pandora_conn_id: the ``pandora`` connection.
    :param poll_interval: seconds between polls.
    :param end_time: ``time.time()`` deadline; ``None`` waits forever.
    """

    #: Constructor arguments (beyond the base's) that :meth:`serialize` hands to the triggerer.
    serialized_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        *,
        pandora_conn_id: str = PandoraHook.default_conn_name,
        poll_interval: float = 10.0,
        end_time: float | None = None,
    ) -> None:
        super().__init__()
        self.pandora_conn_id = pandora_conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = end_time

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and every constructor argument, so the triggerer rebuilds the same wait."""
        fields = (*self.serialized_fields, "pandora_conn_id", "poll_interval", "end_time")
        return f"{type(self).__module__}.{type(self).__qualname__}", {name: getattr(self, name) for name in fields}

    # ---- what a subclass says ----------------------------------------------------------------
    def describe(self) -> str:
        """What is waited for, for messages (``job 'j' of repo 'r'``)."""
        raise NotImplementedError

    def timeout_message(self) -> str:
        """The ``timeout`` event's message."""
        return f"{self.describe()} did not finish before the deadline"

    def payload(self) -> dict[str, Any]:
        """What every event of this trigger carries besides ``status`` and ``message``."""
        return {}

    async def poll(self, hook: PandoraHook) -> TriggerEvent | None:
        """One look: the final event when the wait is over, else ``None`` to look again after the interval."""
        raise NotImplementedError

    # ---- the loop ---------------------------------------------------------------------------
    def event(self, status: str, message: str, **extra: Any) -> TriggerEvent:
        """An event of this trigger (``extra`` overrides :meth:`payload`)."""
        return TriggerEvent({"status": status, "message": message, **self.payload(), **extra})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until :meth:`poll` answers, the deadline passes, or an error ends the wait."""
        policy = PollPolicy(self.poll_interval, self.end_time)
        async with PandoraHook(self.pandora_conn_id) as hook:
            while True:
                try:
                    event = await self.poll(hook)
                    policy.succeeded()
                except Exception as exc:
                    if not policy.tolerate(exc):
                        yield self.event("error", policy.giving_up(exc))
                        return
                    self.log.warning(
                        "transient error polling %s (%d/%d): %s",
                        self.describe(),
                        policy.errors,
                        policy.max_transient_errors,
                        exc,
                    )
                    event = None
                if event is not None:
                    yield event
                    return
                if policy.expired():
                    yield self.event("timeout", self.timeout_message())
                    return
                await asyncio.sleep(policy.pause())
