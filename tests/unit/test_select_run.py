"""Which history record a waiter watches: never the run that ended just before ours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow_provider_pandora.hooks.runs import JobRun, run_id_of, select_run

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def record(run_id: int, start_offset_s: float, status: str) -> JobRun:
    start = T0 + timedelta(seconds=start_offset_s)
    return JobRun.from_record(
        {"runId": run_id, "startTime": start.isoformat(), "endTime": start.isoformat(), "status": status}
    )


# Newest first, as the history endpoint answers: run 7 finished one second before our start call.
HISTORY = [record(8, 0.5, "Running"), record(7, -1.0, "Successful")]
SINCE = T0 - timedelta(seconds=2)  # the operator's clock slack reaches back over run 7


def test_slack_alone_would_adopt_the_previous_run() -> None:
    assert select_run(HISTORY, SINCE).run_id == 7  # type: ignore[union-attr]


def test_run_id_from_the_start_answer_selects_exactly_that_run() -> None:
    assert select_run(HISTORY, SINCE, run_id=8).run_id == 8  # type: ignore[union-attr]
    assert select_run(HISTORY, SINCE, run_id=9) is None


def test_runs_up_to_the_pre_start_newest_are_ignored() -> None:
    assert select_run(HISTORY, SINCE, after_run_id=7).run_id == 8  # type: ignore[union-attr]
    assert select_run(HISTORY[1:], SINCE, after_run_id=7) is None


def test_run_id_parsing_accepts_the_docs_strings_and_sdk_ints() -> None:
    assert run_id_of({"runId": 12}) == 12
    assert run_id_of({"runId": "12"}) == 12
    assert run_id_of({"runId": -1}) == -1
    assert run_id_of({}) is None
    assert run_id_of({"runId": True}) is None
    assert run_id_of(None) is None
