"""Why a SQL run fails: :class:`SqlError` (the server answers it as E18209) and :class:`SqlCancelled`."""

from __future__ import annotations


class SqlError(Exception):
    """The SQL cannot run; the message says why in words a user can act on (the server maps it to E18209)."""


class SqlCancelled(SqlError):
    """The run was stopped through ``should_stop`` (a job's ``stop`` action)."""
