"""A transfer killed midway by emulator faults resumes from its checkpoint: every point lands exactly once,
except points of batches the server stored without acknowledging them, and those are counted."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.exceptions import PandoraServerError
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.transfers._checkpoints import MemoryCheckpoints
from airflow_provider_pandora.transfers._engine import Transfer, TransferOptions
from airflow_provider_pandora.transfers.local_to_pandora import local_sources
from tests.transfers.conftest import REPO, jsonl, users, write_lines

pytestmark = pytest.mark.timeout(60)

N = 4000
DATA = f"/v2/repos/{REPO}/data"


def transfer(store: MemoryCheckpoints, fmt: str = "jsonl", **hooks: Any) -> Transfer:
    processes = 2 if fmt == "jsonl+processes" else 0
    fmt = fmt.split("+")[0]
    options = TransferOptions(
        repo=REPO, format=fmt, max_batch_bytes=4096, attempts=3, max_in_flight=3, encode_processes=processes
    )
    return Transfer(PandoraHook(), options, checkpoints=store, sources_spec="test", **hooks)


@pytest.mark.parametrize("fmt", ["jsonl", "jsonl+processes", "pandora"])
def test_killed_transfer_resumes_and_every_point_lands_once_except_counted(
    repo: str, pandora: PandoraEmulator, tmp_path: Path, fmt: str
) -> None:
    first = tmp_path / "a.jsonl"
    second = tmp_path / "b.jsonl.gz"  # the kill lands here: the retry skips the delivered part of the gzip stream
    if fmt.startswith("jsonl"):
        write_lines(first, jsonl({"user": f"u{i}", "hits": i} for i in range(N // 2)))
        write_lines(second, jsonl({"user": f"u{i}", "hits": i} for i in range(N // 2, N)))
    else:
        write_lines(first, [f"user=u{i}\thits={i}" for i in range(N // 2)])
        write_lines(second, [f"user=u{i}\thits={i}" for i in range(N // 2, N)])
    sources = local_sources(str(tmp_path / "*"))
    store = MemoryCheckpoints()
    acks: list[dict[str, Any]] = []

    def faults(result: dict[str, Any]) -> None:
        acks.append(result)
        if len(acks) == 3:  # one batch is stored but answered 503: it is sent again and counted
            pandora.add_fault("commit_then_error", method="POST", path=DATA, status=503, count=1)
        if len(acks) == 12:  # the service goes away for good (429: nothing stored): the try fails
            pandora.add_fault("error", method="POST", path=DATA, status=429)

    with pytest.raises(PandoraServerError):
        transfer(store, fmt, on_ack=faults).run(sources)
    checkpoint = store.load()
    assert checkpoint is not None
    assert N // 2 < checkpoint["totals"]["points"] < N
    assert checkpoint["source"] == str(second)
    assert checkpoint["totals"]["possible_duplicates"] >= 1

    pandora.clear_faults()
    result = transfer(store, fmt).run(sources)
    stored = Counter(users(pandora))
    assert set(stored) == {f"u{i}" for i in range(N)}  # nothing lost
    duplicates = sum(stored.values()) - N
    assert duplicates >= 1  # the committed-then-503 batch really is there twice
    assert duplicates == result["possible_duplicates"]  # and every copy is counted
    assert result["points"] == N
    assert result["sources"] == 2
    assert store.load() is None


class Dies(MemoryCheckpoints):
    """A store that takes ``keep`` saves and then the process is SIGKILLed at the next one: the batches it had
    posted still land (the server has them), and it saves and posts nothing more. Every try saves before it posts
    a batch, so what it posted is always in the last save it made."""

    def __init__(self, state: dict[str, Any] | None, keep: int) -> None:
        super().__init__()
        self.state = state
        self.keep = keep
        self.dead = False

    def save(self, state: dict[str, Any]) -> None:
        if self.dead:
            return
        if self.keep > 0:
            self.keep -= 1
            super().save(state)
            return
        self.dead = True
        raise KeyboardInterrupt


def test_a_try_killed_without_settling_has_its_unacknowledged_batches_counted_by_the_next(
    repo: str, pandora: PandoraEmulator, tmp_path: Path
) -> None:
    """A SIGKILLed try never settles the batches it had posted: the retry sends them again and must count them."""
    path = tmp_path / "a.jsonl"
    write_lines(path, jsonl({"user": f"u{i}", "hits": i} for i in range(N)))
    sources = local_sources(str(path))
    store = Dies(None, keep=6)  # the first save, then a few batches posted and settled

    with pytest.raises(KeyboardInterrupt):
        transfer(store).run(sources)
    checkpoint = store.load()
    assert checkpoint is not None
    assert checkpoint["inflight"]  # the batches it had posted are still to be counted
    resumed = MemoryCheckpoints()
    resumed.state = checkpoint
    result = transfer(resumed).run(sources)
    stored = Counter(users(pandora))
    assert set(stored) == {f"u{i}" for i in range(N)}
    duplicates = sum(stored.values()) - N
    assert duplicates > 0
    assert duplicates <= result["possible_duplicates"], (duplicates, result)


@pytest.mark.parametrize(("in_flight", "deaths"), [(1, 3), (3, 2)])
def test_tries_killed_one_after_another_each_have_their_copies_counted(
    repo: str, pandora: PandoraEmulator, tmp_path: Path, in_flight: int, deaths: int
) -> None:
    """Tries that die before their checkpoint moves post the same batches again; every copy must be counted.

    (Found by an adversarial tester: only the last death was counted, so three deaths stored twice as many
    duplicates as reported.)
    """
    path = tmp_path / "a.jsonl"
    write_lines(path, jsonl({"user": f"u{i}", "hits": i} for i in range(N)))
    sources = local_sources(str(path))
    options = TransferOptions(repo=REPO, max_batch_bytes=4096, attempts=3, max_in_flight=in_flight)
    state: dict[str, Any] | None = None
    for death in range(deaths):
        # later tries save where they start and before each of their first batches, then die before the
        # checkpoint moves past any of them
        store = Dies(state, keep=8 if death == 0 else 1 + in_flight)
        with pytest.raises(KeyboardInterrupt):
            Transfer(PandoraHook(), options, checkpoints=store, sources_spec="test").run(sources)
        state = store.state
    last = MemoryCheckpoints()
    last.state = state
    result = Transfer(PandoraHook(), options, checkpoints=last, sources_spec="test").run(sources)
    stored = Counter(users(pandora))
    assert set(stored) == {f"u{i}" for i in range(N)}
    duplicates = sum(stored.values()) - N
    assert duplicates >= deaths  # each dead try really did store copies
    assert duplicates <= result["possible_duplicates"], (duplicates, result)


def test_a_try_killed_before_its_first_answer_has_its_copies_counted(
    repo: str, pandora: PandoraEmulator, tmp_path: Path
) -> None:
    """A first try killed before any answer leaves no acknowledged batch; what it posted must still be counted."""
    path = tmp_path / "a.jsonl"
    write_lines(path, jsonl({"user": f"u{i}", "hits": i} for i in range(N)))
    sources = local_sources(str(path))
    options = TransferOptions(repo=REPO, max_batch_bytes=4096, attempts=3, max_in_flight=3)
    store = Dies(None, keep=4)  # where it starts, and one save before each of its 3 first batches is posted

    with pytest.raises(KeyboardInterrupt):
        Transfer(PandoraHook(), options, checkpoints=store, sources_spec="test").run(sources)
    assert store.state is not None
    resumed = MemoryCheckpoints()
    resumed.state = store.state
    result = Transfer(PandoraHook(), options, checkpoints=resumed, sources_spec="test").run(sources)
    stored = Counter(users(pandora))
    duplicates = sum(stored.values()) - N
    assert set(stored) == {f"u{i}" for i in range(N)}
    assert 0 < duplicates <= result["possible_duplicates"], (duplicates, result)


class Settled(MemoryCheckpoints):
    """A store that takes only saves of up to ``batches`` settled batches: a try killed before the next one's."""

    def __init__(self, batches: int) -> None:
        super().__init__()
        self.batches = batches

    def save(self, state: dict[str, Any]) -> None:
        if state["totals"]["batches"] <= self.batches:
            super().save(state)


@pytest.mark.parametrize("lost_answers", [1, 2])
def test_a_try_killed_after_resending_a_batch_whose_answer_was_lost_has_every_copy_counted(
    repo: str, pandora: PandoraEmulator, tmp_path: Path, lost_answers: int
) -> None:
    """A push stored but answered 503 is sent again; a try killed before that batch settles must leave each copy
    counted: the one its slot always counts, and every re-send (found by the stateful suite: 2 stored, 1 counted)."""
    path = tmp_path / "a.jsonl"
    write_lines(path, jsonl({"user": f"u{i}", "hits": i} for i in range(N)))
    sources = local_sources(str(path))
    options = TransferOptions(repo=REPO, max_batch_bytes=4096, attempts=lost_answers + 2, max_in_flight=1)
    store = Settled(2)  # the process dies before its checkpoint moves past the third batch
    acks = 0

    def die(result: dict[str, Any]) -> None:
        nonlocal acks
        acks += 1
        if acks == 2:  # the next batch is stored and answered 503, lost_answers times over
            pandora.add_fault("commit_then_error", method="POST", path=DATA, status=503, count=lost_answers)
        if acks == 3:  # its save was refused: the try was killed before the checkpoint moved past it
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Transfer(PandoraHook(), options, checkpoints=store, sources_spec="test", on_ack=die).run(sources)
    assert store.state is not None
    resumed = MemoryCheckpoints()
    resumed.state = store.state
    result = Transfer(PandoraHook(), options, checkpoints=resumed, sources_spec="test").run(sources)
    stored = Counter(users(pandora))
    assert set(stored) == {f"u{i}" for i in range(N)}
    duplicates = sum(stored.values()) - N
    per_batch = max(stored.values()) - 1
    assert per_batch == lost_answers + 1  # that batch really is stored once per attempt of the killed try, and again
    assert duplicates <= result["possible_duplicates"], (duplicates, result)
    assert result["possible_duplicates"] == duplicates  # one batch in flight: nothing more was in doubt
