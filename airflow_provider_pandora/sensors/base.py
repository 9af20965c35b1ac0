"""The polling sensor every Pandora sensor is built on: connection, interval, transient errors, deferral."""

from __future__ import annotations

import time
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
from airflow.triggers.base import BaseTrigger

from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.hooks.polling import PollPolicy
from airflow_provider_pandora.params import parse_seconds_param


class PandoraPollingSensor(BaseSensorOperator):
    """Poke with :meth:`check`; in deferrable mode, hand the wait to :meth:`trigger` in the triggerer.

    Pokes follow the one :class:`~airflow_provider_pandora.hooks.polling.PollPolicy`: a transient failure is
    logged and polled again, a few times in a row at most (in ``reschedule`` mode each poke starts a new count);
    any other (a certificate refusal, a 4xx, a 501) fails the poke at once, so nothing polls on to its timeout
    for an answer that cannot change. ``poll_interval`` (when given, templated or not) is the poke interval in
    every mode.

    :param pandora_conn_id: the ``pandora`` connection.
    :param poll_interval: seconds between polls (default: ``poke_interval``).
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    """

    def __init__(
        self,
        *,
        pandora_conn_id: str = PandoraHook.default_conn_name,
        poll_interval: float | str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        if poll_interval is not None and "poke_interval" not in kwargs and not isinstance(poll_interval, str):
            kwargs["poke_interval"] = float(poll_interval)
        super().__init__(**kwargs)
        self.pandora_conn_id = pandora_conn_id
        self.poll_interval = poll_interval
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> PandoraHook:
        """The hook, built on first use (not at DAG parse time)."""
        return PandoraHook(self.pandora_conn_id)

    @cached_property
    def policy(self) -> PollPolicy:
        """The transient-error budget of the pokes (the sensor's own ``timeout`` is the deadline)."""
        return PollPolicy(self._interval())

    def _interval(self) -> float:
        interval = parse_seconds_param(self.poll_interval, "poll_interval", optional=True)
        return interval if interval is not None else float(self.poke_interval)

    # ---- what a subclass says ----------------------------------------------------------------
    def describe(self) -> str:
        """What is waited for, for log lines and failure messages."""
        raise NotImplementedError

    def check(self, context: Context) -> bool:
        """One look: ``True`` when the wait is over; raises when it can never succeed."""
        raise NotImplementedError

    def trigger(self, end_time: float) -> BaseTrigger:
        """The trigger that waits in the triggerer, with the same interval and ``end_time`` as its deadline."""
        raise NotImplementedError

    def before_wait(self, context: Context) -> None:
        """Runs before the first poke in every mode (e.g. to publish a console link)."""

    # ---- the wait ---------------------------------------------------------------------------
    def poke(self, context: Context) -> bool:
        """:meth:`check`, with transient failures logged and polled again."""
        try:
            done = self.check(context)
        except Exception as exc:
            policy = self.policy
            if not policy.tolerate(exc):
                exc.add_note(f"polling {self.describe()}: {policy.giving_up(exc)}")
                raise
            self.log.warning(
                "transient error polling %s (%d/%d, will poll again): %s",
                self.describe(),
                policy.errors,
                policy.max_transient_errors,
                exc,
            )
            return False
        self.policy.succeeded()
        return done

    def execute(self, context: Context) -> Any:
        """Poke on the worker, or check once and defer the rest of the wait to the triggerer."""
        self.poke_interval = self._interval()  # a templated interval is known only now; a bad one is refused
        self.before_wait(context)
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        self.defer(
            trigger=self.trigger(time.time() + float(self.timeout)),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout)),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        """Resume after the trigger: succeed, time out as a sensor does, or fail with the trigger's message."""
        event = event or {}
        status = event.get("status")
        if status == "success":
            self.log.info("%s: done", self.describe())
            return
        message = f"{self.describe()}: {status}: {event.get('message') or '(no message)'}"
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        raise AirflowFailException(message)
