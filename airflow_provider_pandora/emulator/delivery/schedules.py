"""When an offline job fires next, for the spec's scheduler types ``once``, ``loop`` and ``crontab``.

The spec's shape is ``{"type": "loop", "loop": "10m"}`` / ``{"type": "crontab", "crontab": "0 0 0/1 * * ?"}``;
the SDK's ``{"type": ..., "spec": {"loop": ..., "crontab": ...}}`` and its ``manual`` / ``depend`` types are
understood too. Pure functions of (schedule, last fire, now) so the emulator's job loop and the tests agree.

Times follow the service's clock, Beijing time (UTC+8, no daylight saving): the spec states its magic
variables in Beijing time, and a crontab ``0 0 8 * * ?`` fires at 08:00 there. Naive datetimes are UTC,
as everywhere in this provider.

Missed fires are not caught up: after a pause the job fires once, at ``now``, then keeps its rhythm; this is
what a user expects of a local emulator that was not running (and what Airflow's ``catchup=False`` does).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_pandora.emulator.values import service_time

__all__ = ["loop_interval", "next_fire"]


_LOOP_RE = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 60}


def _setting(scheduler: Mapping[str, Any], key: str) -> Any:
    value = scheduler.get(key)
    spec = scheduler.get("spec")
    if value in (None, "") and isinstance(spec, Mapping):
        value = spec.get(key)
    return value


def loop_interval(value: Any) -> timedelta:
    """``"10m"`` -> 10 minutes. The spec's units are ``m`` and ``h``; ``s`` and ``d`` are accepted for local
    use, and ``""``/``"0"`` mean "run continuously" as the batch API documents (a zero interval)."""
    if value is None or value == "":
        return timedelta(0)
    match = _LOOP_RE.match(str(value))
    if match is None:
        raise ValueError(f"scheduler.loop {value!r} must be a number with a unit, like '10m' or '1h'")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def _croniter(expression: str, base: datetime) -> Any:
    try:
        from croniter import CroniterBadCronError, croniter
    except ImportError:
        raise RuntimeError(
            "crontab schedules need croniter: pip install 'airflow-provider-pandora[emulator]'"
        ) from None
    fields = expression.split()
    try:
        if len(fields) >= 6:  # Quartz, as the spec's example "0 0 0/1 * * ?": seconds first, optional year
            return croniter(expression, base, second_at_beginning=True)
        try:
            return croniter(expression, base)
        except CroniterBadCronError:
            # The batch docs' "0 0 0/1 * *" is Quartz without its day-of-week: read it that way.
            return croniter(expression + " ?", base, second_at_beginning=True)
    except (CroniterBadCronError, ValueError, KeyError) as err:
        raise ValueError(f"scheduler.crontab {expression!r} is not a valid crontab expression: {err}") from None


def next_fire(scheduler: Mapping[str, Any], last_fire: datetime | None, now: datetime) -> datetime | None:
    """The next time the job should run, or ``None`` when it will not run again by itself.

    * ``once`` (and the SDK's ``manual``): at ``now`` when it has not fired yet, then never.
    * ``loop``: at ``now`` first, then every interval after the previous fire.
    * ``crontab``: the first matching time after the previous fire (after ``now`` for the first run); five
      fields are standard cron (minute first), six or seven are Quartz (seconds first, ``?``, year),
      matched in Beijing time (:data:`SERVICE_TZ`).
    * ``depend`` (SDK): never by itself; it runs when its upstream job does.

    A time already past (the emulator was busy or stopped) becomes ``now``: one late run, no catch-up.
    Raises :class:`ValueError` for an unknown type or a bad ``loop``/``crontab`` value.
    """
    now = service_time(now)
    last = service_time(last_fire) if last_fire is not None else None
    stype = str(scheduler.get("type") or "").lower()
    if stype in ("once", "manual"):
        return now if last is None else None
    if stype == "depend":
        return None
    if stype == "loop":
        if last is None:
            return now
        return max(last + loop_interval(_setting(scheduler, "loop")), now)
    if stype == "crontab":
        expression = _setting(scheduler, "crontab")
        if not isinstance(expression, str) or not expression.strip():
            raise ValueError("scheduler.crontab is required for crontab schedules, e.g. '0 0 * * *'")
        base = last if last is not None else now
        upcoming: datetime = _croniter(expression.strip(), base).get_next(datetime)
        return max(upcoming, now) if last is not None else upcoming
    raise ValueError(f"scheduler.type {scheduler.get('type')!r} is not one of once, loop, crontab")
