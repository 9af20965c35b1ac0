"""Soak under faults, small size: four concurrent local transfers while the emulator fails 10 % of the
pushes with each action (error, drop, delay, commit_then_error). Nothing is lost; the only duplicates
are the points of pushes stored but answered with an error, and the transfers count every push that
might have been stored. The full size runs in ``make bench`` (``benchmarks/bench_soak.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from benchmarks.bench_soak import CONNECTION_EXTRA, REPO, SoakReport, run_soak, write_sources
from tests.transfers.conftest import StateStore

pytestmark = pytest.mark.timeout(120)

POINTS = 5_000
TRANSFERS = 4
BATCH_BYTES = 8 * 1024
"""About 50 points a push: ~400 pushes in all, so each action fires about 40 times."""


def soak(
    pandora_emulator: PandoraEmulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    stores: list[StateStore],
    **kwargs: Any,
) -> SoakReport:
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_DEFAULT", pandora_emulator.connection_json(**CONNECTION_EXTRA))
    sources = write_sources(tmp_path, TRANSFERS, POINTS)

    def context() -> dict[str, Any]:
        stores.append(StateStore())
        return {"task_state_store": stores[-1]}

    return run_soak(pandora_emulator.url, sources, POINTS, max_batch_bytes=BATCH_BYTES, context=context, **kwargs)


def test_four_transfers_under_every_fault_lose_nothing_and_account_for_every_duplicate(
    pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stores: list[StateStore] = []
    report = soak(pandora_emulator, monkeypatch, tmp_path, stores)

    assert set(report.faults) == {"error", "drop", "delay", "commit_then_error"}, report.faults  # all fired
    assert [r["points"] for r in report.results] == [POINTS] * TRANSFERS
    # the emulator's own store, read in-process: every source point is there
    ids = {point["id"] for point in pandora_emulator.points(REPO)}
    assert len(ids) == TRANSFERS * POINTS
    assert report.lost == 0
    assert report.unexpected == 0
    # duplicates come only from pushes stored and then answered with an error, and all of them
    assert report.committed_unacked > 0
    assert report.duplicates == report.committed_unacked
    # each transfer counts every push that failed after the server may have stored it: an upper bound,
    # since an injected 503 or a dropped connection looks the same to a client whether or not it stored
    assert report.reported == report.ambiguous
    assert report.reported >= report.duplicates
    # checkpoints were kept while the transfers ran, and marked finished when they succeeded (a task state store
    # outlives the try: a retry after a worker lost then would count what was delivered)
    assert len(stores) == TRANSFERS
    assert all(store.sets > 0 and store.values["pandora_transfer_checkpoint"]["finished"] for store in stores)


def test_when_only_commits_are_ambiguous_the_reported_duplicates_are_exact(
    pandora_emulator: PandoraEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    report = soak(pandora_emulator, monkeypatch, tmp_path, [], actions=("delay", "commit_then_error"))

    assert set(report.faults) == {"delay", "commit_then_error"}
    assert report.lost == 0
    assert report.unexpected == 0
    assert report.duplicates > 0
    assert report.reported == report.duplicates == report.committed_unacked
