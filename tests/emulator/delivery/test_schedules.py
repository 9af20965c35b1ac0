"""Offline job schedules: when once / loop / crontab jobs fire."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from airflow_provider_pandora.emulator.delivery.schedules import loop_interval, next_fire

NOW = datetime(2024, 1, 1, 10, 30, 15, tzinfo=UTC)


def test_once_fires_now_then_never():
    assert next_fire({"type": "once"}, None, NOW) == NOW
    assert next_fire({"type": "once"}, NOW, NOW + timedelta(hours=1)) is None


def test_sdk_manual_behaves_like_once_and_depend_never_fires_alone():
    assert next_fire({"type": "manual"}, None, NOW) == NOW
    assert next_fire({"type": "manual"}, NOW, NOW) is None
    assert next_fire({"type": "depend"}, None, NOW) is None


def test_loop_fires_now_then_every_interval():
    sched = {"type": "loop", "loop": "10m"}
    assert next_fire(sched, None, NOW) == NOW
    assert next_fire(sched, NOW, NOW + timedelta(seconds=1)) == NOW + timedelta(minutes=10)
    assert next_fire({"type": "loop", "loop": "2h"}, NOW, NOW) == NOW + timedelta(hours=2)


def test_loop_after_a_pause_fires_once_now_without_catch_up():
    later = NOW + timedelta(hours=5)
    assert next_fire({"type": "loop", "loop": "10m"}, NOW, later) == later


def test_loop_reads_the_sdk_spec_shape():
    sched = {"type": "loop", "spec": {"loop": "3m"}}
    assert next_fire(sched, NOW, NOW) == NOW + timedelta(minutes=3)


def test_loop_zero_or_empty_runs_continuously():
    assert next_fire({"type": "loop", "loop": "0"}, NOW, NOW + timedelta(seconds=2)) == NOW + timedelta(seconds=2)
    assert next_fire({"type": "loop", "spec": {"loop": ""}}, NOW, NOW) == NOW


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10m", timedelta(minutes=10)),
        ("1h", timedelta(hours=1)),
        ("30s", timedelta(seconds=30)),
        ("5", timedelta(minutes=5)),
    ],
)
def test_loop_interval_units(text: str, expected: timedelta):
    assert loop_interval(text) == expected


@pytest.mark.parametrize("bad", ["ten minutes", "10x", "-1m", "1.5h"])
def test_bad_loop_is_refused_with_the_parameter_named(bad: str):
    with pytest.raises(ValueError, match=r"scheduler\.loop"):
        next_fire({"type": "loop", "loop": bad}, NOW, NOW)


def test_standard_five_field_crontab():
    sched = {"type": "crontab", "crontab": "*/15 * * * *"}
    first = next_fire(sched, None, NOW)
    assert first == datetime(2024, 1, 1, 10, 45, tzinfo=UTC)
    assert next_fire(sched, first, first) == datetime(2024, 1, 1, 11, 0, tzinfo=UTC)


def test_quartz_crontab_from_the_spec_fires_every_hour():
    sched = {"type": "crontab", "crontab": "0 0 0/1 * * ?"}
    first = next_fire(sched, None, NOW)
    assert first == datetime(2024, 1, 1, 11, 0, 0, tzinfo=UTC)
    assert next_fire(sched, first, first + timedelta(seconds=1)) == datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def test_batch_docs_crontab_without_day_of_week_is_read_as_quartz():
    sched = {"type": "crontab", "spec": {"crontab": "0 0 0/1 * *"}}
    assert next_fire(sched, None, NOW) == datetime(2024, 1, 1, 11, 0, tzinfo=UTC)


def test_quartz_crontab_with_seconds():
    sched = {"type": "crontab", "crontab": "*/20 * * * * ?"}
    assert next_fire(sched, None, NOW) == datetime(2024, 1, 1, 10, 30, 20, tzinfo=UTC)


def test_crontab_after_a_pause_fires_once_now():
    sched = {"type": "crontab", "crontab": "0 * * * *"}
    later = NOW + timedelta(days=1)
    assert next_fire(sched, NOW, later) == later


def test_crontab_hours_are_beijing_time():
    beijing = timezone(timedelta(hours=8))
    sched = {"type": "crontab", "crontab": "0 8 * * *"}
    assert next_fire(sched, None, datetime(2024, 1, 1, 7, 0, tzinfo=beijing)) == datetime(2024, 1, 1, 8, tzinfo=beijing)
    # 10:30 UTC is 18:30 in Beijing: the next 08:00 there is 00:00 UTC the next day
    assert next_fire(sched, None, NOW) == datetime(2024, 1, 2, 0, 0, tzinfo=UTC)


def test_naive_times_are_utc():
    naive = datetime(2024, 1, 1, 10, 30)
    assert next_fire({"type": "crontab", "crontab": "0 19 * * *"}, None, naive) == datetime(2024, 1, 1, 11, tzinfo=UTC)
    assert next_fire({"type": "loop", "loop": "1m"}, naive, naive) == datetime(2024, 1, 1, 10, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sched", "message"),
    [
        ({"type": "crontab", "crontab": "61 * * * *"}, r"scheduler\.crontab '61 \* \* \* \*' is not a valid"),
        ({"type": "crontab"}, r"scheduler\.crontab is required"),
        ({"type": "hourly"}, r"scheduler\.type 'hourly' is not one of once, loop, crontab"),
        ({}, r"scheduler\.type None"),
    ],
)
def test_bad_schedules_are_refused(sched: dict[str, str], message: str):
    with pytest.raises(ValueError, match=message):
        next_fire(sched, None, NOW)


def test_crontab_without_the_emulator_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "croniter", None)
    with pytest.raises(RuntimeError, match=r"pip install 'airflow-provider-pandora\[emulator\]'"):
        next_fire({"type": "crontab", "crontab": "0 * * * *"}, None, NOW)
    assert next_fire({"type": "loop", "loop": "1m"}, None, NOW) == NOW  # other types need nothing extra
