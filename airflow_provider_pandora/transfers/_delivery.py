"""Delivery: post batches with retries, and bisect a batch the server refuses for its content.

Each batch is retried with the hook's back-off on 5xx, 429, timeouts and dropped connections; a
batch refused for its content (:data:`CONTENT_CODES`) is bisected so its good points still land and
each refused point becomes a bad line. Every failed attempt the server may have stored anyway
(`maybe_committed`, from the transport) counts the body's points as possible duplicates.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import tenacity

from airflow_provider_pandora import wire
from airflow_provider_pandora.exceptions import BadLine, PandoraApiError
from airflow_provider_pandora.hooks._transport import maybe_committed, retrying
from airflow_provider_pandora.transfers._batch import Batch

if TYPE_CHECKING:
    from airflow_provider_pandora.hooks._connection import PandoraConnectionConfig

__all__ = ["CONTENT_CODES", "PushHook", "Sender", "Sent"]

DEFAULT_ATTEMPTS = 5
#: Codes meaning "this batch's content is refused": bisect to find the bad points.
CONTENT_CODES = frozenset({"E18005", "E18007", "E18008", "E18104", "E18106", "E18110", "E18111", "E18123"})
_FIELD_RE = re.compile(r"(?:field key|field|key|line \d+\.)\s*'?\"?([A-Za-z_][A-Za-z0-9_]*)")


class PushHook(Protocol):
    """What delivery needs of :class:`~airflow_provider_pandora.hooks.pandora.PandoraHook`."""

    @property
    def config(self) -> PandoraConnectionConfig: ...

    def push_batch(self, repo: str, body: bytes, *, gzip: bool = ..., retry: bool = ...) -> str | None: ...


@dataclass
class Sent:
    """What happened to one batch on its worker thread (settled on the main thread)."""

    points: int = 0
    bytes: int = 0
    requests: int = 0
    retries: int = 0
    possible_duplicates: int = 0
    rejected: list[BadLine] = field(default_factory=list)
    before_resend: Callable[[int], None] | None = None
    """Called on the worker thread with a body's points after an attempt the server may have stored and before
    that body is sent again: the engine saves that copy in the checkpoint first, so a try killed during the retry
    leaves it counted (:attr:`possible_duplicates` covers a batch that settles)."""


def _field_of(message: str) -> str | None:
    match = _FIELD_RE.search(message)
    return match.group(1) if match else None


class Sender:
    """Posts batches to ``repo`` (called on worker threads; only touches the batch's :class:`Sent`)."""

    def __init__(
        self, hook: PushHook, repo: str, *, gzip: bool, attempts: int | None, log: logging.Logger | Any
    ) -> None:
        self.hook = hook
        self.repo = repo
        self.gzip = gzip
        self.attempts = attempts
        self.log = log

    def send(self, batch: Batch, sent: Sent) -> None:
        """Post the batch with retries; bisect it when its content is refused."""
        try:
            self.post(batch.body, batch.points, sent)
        except PandoraApiError as err:
            if err.code not in CONTENT_CODES:
                raise
            lines, nos = batch.lines()
            self._bisect(batch.source, lines, nos, err, sent)

    def _bisect(self, source: str, lines: list[bytes], nos: list[int], err: PandoraApiError, sent: Sent) -> None:
        if len(lines) == 1:
            reason = f"refused by the server: {err.message}"
            sent.rejected.append(BadLine(source, nos[0], reason, _field_of(err.message), lines[0]))
            return
        mid = len(lines) // 2
        for part, part_nos in ((lines[:mid], nos[:mid]), (lines[mid:], nos[mid:])):
            try:
                self.post(wire.body_of(part), len(part), sent)
            except PandoraApiError as sub:
                if sub.code not in CONTENT_CODES:
                    raise
                self._bisect(source, part, part_nos, sub, sent)

    def post(self, body: bytes, points: int, sent: Sent) -> None:
        """One body, retried with the shared back-off (:func:`~airflow_provider_pandora.hooks._transport.retrying`).

        Every failed attempt that the server may have stored anyway (5xx, timeout, dropped
        connection) adds the body's points to ``possible_duplicates``.
        """
        hook = self.hook
        ambiguous = 0

        def note(state: tenacity.RetryCallState) -> None:
            nonlocal ambiguous
            exc = state.outcome.exception() if state.outcome else None
            sent.retries += 1
            if maybe_committed(exc):
                ambiguous += 1
                if sent.before_resend is not None:
                    sent.before_resend(points)
            self.log.warning(
                "push of %d points failed (%s); retrying, attempt %d", points, exc, state.attempt_number + 1
            )

        config = hook.config
        attempts = self.attempts or max(DEFAULT_ATTEMPTS, config.retry_limit)
        try:
            retrying(attempts, config.retry_delay, before_sleep=note)(
                hook.push_batch, self.repo, body, gzip=self.gzip, retry=False
            )
        except BaseException as exc:
            ambiguous += maybe_committed(exc)
            raise
        finally:
            sent.possible_duplicates += points * ambiguous
        sent.points += points
        sent.bytes += len(body)
        sent.requests += 1
