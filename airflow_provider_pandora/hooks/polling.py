"""The one polling policy: the hook's synchronous wait, the sensors and the triggers all poll this way.

A wait looks, sleeps ``interval`` and looks again until it has an answer or ``end_time`` passes. A look
that fails with an error :func:`~airflow_provider_pandora.hooks._transport.is_transient` calls transient
is tolerated up to ``max_transient_errors`` times in a row (the hook already retried each call); anything
else ends the wait at once, so nothing polls to its deadline for an answer that cannot change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from airflow_provider_pandora.hooks._transport import is_transient

#: Consecutive failed looks (each already retried by the hook) a wait tolerates before it gives up.
MAX_TRANSIENT_ERRORS = 5


@dataclass
class PollPolicy:
    """Interval, deadline and transient-error budget of one wait (its state: the errors in a row)."""

    interval: float = 10.0
    end_time: float | None = None
    """``time.time()`` deadline; ``None`` waits forever."""
    max_transient_errors: int = MAX_TRANSIENT_ERRORS
    errors: int = field(default=0, init=False)

    @classmethod
    def within(cls, interval: float, timeout: float | None, *, start: float | None = None) -> PollPolicy:
        """A policy whose deadline is ``timeout`` seconds after ``start`` (now by default)."""
        end = None if timeout is None else (time.time() if start is None else start) + timeout
        return cls(float(interval), end)

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self.end_time is not None and time.time() >= self.end_time

    def pause(self) -> float:
        """Seconds to sleep before the next look: the interval, cut short so the last look is at the deadline."""
        if self.end_time is None:
            return self.interval
        return max(0.0, min(self.interval, self.end_time - time.time()))

    def succeeded(self) -> None:
        """A look got an answer: the budget counts errors in a row."""
        self.errors = 0

    def tolerate(self, exc: BaseException) -> bool:
        """Whether to look again after ``exc``: transient, and within the budget (counted)."""
        if not is_transient(exc):
            return False
        self.errors += 1
        return self.errors < self.max_transient_errors

    def giving_up(self, exc: BaseException) -> str:
        """Why the wait ends after ``exc``, for the event or the exception note."""
        if is_transient(exc):
            return f"giving up after {self.errors} transient errors in a row: {exc}"
        return str(exc)
