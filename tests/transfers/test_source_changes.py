"""Sources that change between tries: a retry resumes only what is unchanged, reads the rest whole, and counts
what may be stored twice. Each test is a reproduction from issue 17 (silent loss and silent corruption on
resume), through the public operators against the emulator."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.exceptions import BadLineError, PandoraServerError, TransferError
from airflow_provider_pandora.hooks.kodo import KodoHook
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.transfers._checkpoints import CHECKPOINT_STATE_KEY, MemoryCheckpoints, plan_resume
from airflow_provider_pandora.transfers._engine import Transfer, TransferOptions
from airflow_provider_pandora.transfers.kodo_to_pandora import KodoToPandoraOperator, ResumingObjectReader, kodo_sources
from airflow_provider_pandora.transfers.local_to_pandora import LocalFilesystemToPandoraOperator, local_sources
from tests.moto_s3 import KodoBucket
from tests.transfers.conftest import REPO, jsonl, users, write_lines
from tests.transfers.test_resume import Dies

pytestmark = pytest.mark.timeout(60)

BAD = '{"user": "bad", "hits": "many"}'


def points(start: int, stop: int) -> list[str]:
    return jsonl({"user": f"u{i}", "hits": i} for i in range(start, stop))


def run_local(context: dict[str, Any], source: Path | str, **kwargs: Any) -> dict[str, Any]:
    op = LocalFilesystemToPandoraOperator(task_id="load", repo=REPO, source_path=str(source), **kwargs)
    return op.execute(context)  # type: ignore[arg-type]


def check_stored(pandora: PandoraEmulator, expected: set[str], result: dict[str, Any]) -> int:
    """Every expected point stored, nothing else, and every copy counted; returns the copies stored twice."""
    stored = Counter(users(pandora))
    assert set(stored) == expected, (sorted(expected - set(stored))[:5], sorted(set(stored) - expected)[:5])
    twice = sum(stored.values()) - len(stored)
    assert twice <= result["possible_duplicates"], (twice, result)
    return twice


def test_a_file_added_before_the_resume_point_is_read_whole(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    """Reproduction 1: the resume position was an index into the sorted names, so b.jsonl counted as done."""
    write_lines(tmp_path / "a.jsonl", points(0, 500))
    c = write_lines(tmp_path / "c.jsonl", [*points(2000, 2300), BAD, *points(2300, 2500)])
    with pytest.raises(BadLineError):
        run_local(context, tmp_path / "*.jsonl")
    write_lines(tmp_path / "b.jsonl", points(1000, 2000))  # lands between the tries
    write_lines(c, [*points(2000, 2300), '{"user": "fixed", "hits": 1}', *points(2300, 2500)])
    result = run_local(context, tmp_path / "*.jsonl")
    expected = {f"u{i}" for i in [*range(500), *range(1000, 2500)]} | {"fixed"}
    twice = check_stored(pandora, expected, result)
    assert result["sources"] == 3
    # c.jsonl changed (its bad line was fixed): read again from its start, its first 300 points counted
    assert twice == result["possible_duplicates"] == 300


def test_a_csv_regenerated_between_tries_is_never_resumed_mid_line(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    """Reproduction 2: the old byte offset fell mid-line in the new file and stored a corrupt row."""
    path = tmp_path / "rows.csv"
    rows = [f"u{i},{i}" for i in range(500)]
    write_lines(path, ["user,hits", *rows[:449], "u449,many", *rows[450:]])
    with pytest.raises(BadLineError):
        run_local(context, path, format="csv")
    write_lines(path, ["user,hits", *(f"u{i},{i:06d}" for i in range(500))])  # same rows, zero-padded
    result = run_local(context, path, format="csv")
    for point in pandora.points(REPO):
        assert point["user"] == f"u{point['hits']}", point  # no row stitched from two versions
    assert check_stored(pandora, {f"u{i}" for i in range(500)}, result) == 449 == result["possible_duplicates"]


def test_an_unchanged_source_is_still_resumed_at_its_byte(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    """The identity check must not turn every retry into a re-read: untouched files resume exactly."""
    write_lines(tmp_path / "a.jsonl", points(0, 300))
    write_lines(tmp_path / "b.jsonl", [*points(300, 400), BAD, *points(400, 500)])
    with pytest.raises(BadLineError):
        run_local(context, tmp_path / "*.jsonl")
    result = run_local(context, tmp_path / "*.jsonl", on_bad_line="skip")
    assert Counter(users(pandora)) == Counter(f"u{i}" for i in range(500))
    assert (result["points"], result["possible_duplicates"], result["bad_lines"]) == (500, 0, 1)


def test_on_source_change_fail_stops_and_names_the_source(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    path = write_lines(tmp_path / "a.jsonl", [*points(0, 100), BAD])
    with pytest.raises(BadLineError):
        run_local(context, path)
    write_lines(path, points(0, 150))
    with pytest.raises(TransferError, match=r"on_source_change.*a\.jsonl.*reread") as info:
        run_local(context, path, on_source_change="fail")
    assert "give them back as they were" in str(info.value)
    assert len(users(pandora)) == 100  # nothing more was sent
    result = run_local(context, path)  # the default reads it again, counting the 100 points
    assert check_stored(pandora, {f"u{i}" for i in range(150)}, result) == 100 == result["possible_duplicates"]


def test_a_deleted_source_is_reported_and_the_rest_delivered(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    a = write_lines(tmp_path / "a.jsonl", points(0, 100))
    write_lines(tmp_path / "b.jsonl", [*points(100, 150), BAD, *points(150, 200)])
    with pytest.raises(BadLineError):
        run_local(context, tmp_path / "*.jsonl")
    a.unlink()
    state = context["task_state_store"].get(CHECKPOINT_STATE_KEY)
    plan = plan_resume(state, local_sources(str(tmp_path / "*.jsonl")), fingerprint=state["fingerprint"])
    assert f"source {a}, 100 points of which were delivered by an earlier try, is no longer listed" in plan.warnings
    result = run_local(context, tmp_path / "*.jsonl", on_bad_line="skip")  # logs that warning
    assert check_stored(pandora, {f"u{i}" for i in range(200)}, result) == 0


def test_a_file_changed_after_listing_is_refused_not_read_at_an_offset(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "a.jsonl", points(0, 10))
    (source,) = local_sources(str(path))
    write_lines(path, points(0, 20))
    with pytest.raises(TransferError, match=r"changed after it was listed.*next try reads it again"):
        source.open(57)
    os.utime(path, ns=(0, 0))
    with pytest.raises(TransferError, match="changed after it was listed"):
        source.open(0)


def test_a_killed_try_then_a_new_file_before_it_counts_only_what_was_in_flight(
    repo: str, pandora: PandoraEmulator, tmp_path: Path
) -> None:
    """The batches a killed try may have posted belong to its own source, not to a file that appeared since."""
    write_lines(tmp_path / "b.jsonl", points(0, 2000))
    store = MemoryCheckpoints()
    options = TransferOptions(repo=REPO, max_batch_bytes=4096, attempts=2, max_in_flight=3)

    def die(result: dict[str, Any]) -> None:
        if result["batches"] == 4:  # the process is gone: later batches may land, nothing more is saved
            store.save = lambda state: None  # type: ignore[method-assign]
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Transfer(PandoraHook(), options, checkpoints=store, on_ack=die).run(local_sources(str(tmp_path / "*")))
    write_lines(tmp_path / "a.jsonl", points(5000, 6000))  # sorts before the killed source
    resumed = MemoryCheckpoints()
    resumed.state = store.state
    result = Transfer(PandoraHook(), options, checkpoints=resumed).run(local_sources(str(tmp_path / "*")))
    check_stored(pandora, {f"u{i}" for i in [*range(2000), *range(5000, 6000)]}, result)


def test_a_kodo_object_replaced_between_tries_is_read_again(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], kodo_conn: KodoBucket
) -> None:
    """Reproduction 1 for a Kodo prefix: an object added before the resume point, the current one replaced."""
    bucket = kodo_conn.bucket

    def put(key: str, lines: list[str]) -> None:
        kodo_conn.put(key, "".join(line + "\n" for line in lines).encode())

    put("in/a.jsonl", points(0, 100))
    put("in/c.jsonl", [*points(200, 250), BAD])

    def run() -> dict[str, Any]:
        op = KodoToPandoraOperator(task_id="load", repo=REPO, bucket=bucket, prefix="in/")
        return op.execute(context)  # type: ignore[arg-type]

    with pytest.raises(BadLineError):
        run()
    put("in/b.jsonl", points(100, 200))
    put("in/c.jsonl", points(200, 300))
    result = run()
    assert check_stored(pandora, {f"u{i}" for i in range(300)}, result) == 50 == result["possible_duplicates"]


def test_a_kodo_object_replaced_midway_is_never_stitched_onto_the_old_bytes(kodo_conn: KodoBucket) -> None:
    """A read that breaks and reopens asks for the version it began with (If-Match), not whatever is there now."""
    kodo_conn.put("in/a.jsonl", "".join(f"{line}\n" for line in points(0, 100)).encode())
    (source,) = kodo_sources(KodoHook(), kodo_conn.bucket, "in/a.jsonl", None)
    assert source.identity is not None
    reader = ResumingObjectReader(KodoHook(), kodo_conn.bucket, "in/a.jsonl", 0, etag=source.identity["etag"])
    assert reader.read(10) == b'{"user": "'
    kodo_conn.put("in/a.jsonl", b"another version\n")
    reader._close_body()  # the connection broke: the next read reopens at byte 10
    with pytest.raises(TransferError, match=r"kodo://.*/in/a\.jsonl was replaced while it was being read"):
        reader.read(10)
    with pytest.raises(TransferError, match="was replaced while it was being read"):
        source.open(0).read()


def test_a_file_rewritten_in_place_while_it_is_read_fails_the_try_before_a_stitched_line_is_sent(
    repo: str, pandora: PandoraEmulator, tmp_path: Path
) -> None:
    """Found by an adversarial tester: same inode, same size, lines shifted; the read went on in the new version and
    stored a point stitched from both. Now every read checks the file still matches what was listed."""
    path = tmp_path / "a.jsonl"

    def version(pad: int) -> list[str]:
        return jsonl({"user": f"u{i}" if i else "u0-" + "x" * pad, "hits": i} for i in range(60_000))

    write_lines(path, version(20))
    store = MemoryCheckpoints()
    options = TransferOptions(repo=REPO, max_batch_bytes=4096, attempts=2, max_in_flight=1)

    def rewrite(result: dict[str, Any]) -> None:
        if result["batches"] == 1:  # the first megabyte is read; the rest is not yet
            with open(path, "r+b") as handle:  # in place: same inode, same size, every line shifted
                handle.write(b"".join(line.encode() + b"\n" for line in version(70))[: path.stat().st_size])

    with pytest.raises(TransferError, match="changed while it was being read"):
        Transfer(PandoraHook(), options, checkpoints=store, on_ack=rewrite).run(local_sources(str(path)))
    either = {"u0-" + "x" * 20, "u0-" + "x" * 70} | {f"u{i}" for i in range(1, 60_000)}
    for point in pandora.points(REPO):
        assert point["user"] in either, point  # nothing stitched from two versions was sent
        assert point["hits"] == int(point["user"][1:].split("-")[0]), point
    write_lines(path, version(70))
    result = Transfer(PandoraHook(), options, checkpoints=store).run(local_sources(str(path)))
    stored = Counter(users(pandora))
    assert {"u0-" + "x" * 70} | {f"u{i}" for i in range(1, 60_000)} <= set(stored)
    assert set(stored) <= either
    assert sum(stored.values()) - len(stored) <= result["possible_duplicates"]


# ---- found by an adversarial tester after the checkpoint kept its sources (issue 17) ------------------------------
class DiesAfter:
    """A task state store whose process is SIGKILLed at its ``keep``+1-th write: it saves and posts nothing more."""

    def __init__(self, store: Any, keep: int) -> None:
        self.store, self.keep = store, keep

    def get(self, key: str, default: Any = None) -> Any:
        return self.store.get(key, default)

    def set(self, key: str, value: Any, **kwargs: Any) -> None:
        if self.keep <= 0:
            raise KeyboardInterrupt
        self.keep -= 1
        self.store.set(key, value, **kwargs)

    def delete(self, key: str) -> None:
        self.store.delete(key)


def test_a_try_killed_in_a_source_sorting_before_done_ones_leaves_them_done(
    repo: str, pandora: PandoraEmulator, tmp_path: Path
) -> None:
    """Try 0 delivered m.jsonl and failed sending n.jsonl; a new file sorting first was being read when try 1 was
    killed: the done, unchanged m.jsonl was read again by try 2 (try 0's position was the end of m, and try 1's
    the middle of 0.jsonl), 300 copies uncounted."""
    write_lines(tmp_path / "m.jsonl", points(0, 300))
    write_lines(tmp_path / "n.jsonl", points(300, 400))
    options = TransferOptions(repo=REPO, max_batch_bytes=4096, attempts=1, max_in_flight=1)
    store = MemoryCheckpoints()

    def refuse_after_m(result: dict[str, Any]) -> None:
        if result["points"] == 300:  # the service stops taking pushes (429: nothing stored): try 0 fails in n
            pandora.add_fault("error", method="POST", path=f"/v2/repos/{REPO}/data", status=429)

    with pytest.raises(PandoraServerError):
        Transfer(PandoraHook(), options, checkpoints=store, on_ack=refuse_after_m).run(
            local_sources(str(tmp_path / "*"))
        )
    pandora.clear_faults()
    write_lines(tmp_path / "0.jsonl", points(1000, 4000))
    dying = Dies(store.state, keep=4)  # posts and settles a few batches of 0.jsonl, then SIGKILLed
    with pytest.raises(KeyboardInterrupt):
        Transfer(PandoraHook(), options, checkpoints=dying).run(local_sources(str(tmp_path / "*")))
    last = MemoryCheckpoints()
    last.state = dying.state
    result = Transfer(PandoraHook(), options, checkpoints=last).run(local_sources(str(tmp_path / "*")))
    check_stored(pandora, {f"u{i}" for i in [*range(400), *range(1000, 4000)]}, result)
    assert max(Counter(u for u in users(pandora) if int(u[1:]) < 300).values()) == 1  # m was not sent again


def test_a_changed_source_s_count_survives_a_try_that_failed_before_sending_from_it(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    """b.jsonl changed, the try that found it failed on its first line, then b was restored: its 500 delivered
    points were no longer counted by anyone."""
    b = write_lines(tmp_path / "b.jsonl", points(0, 500))
    c = write_lines(tmp_path / "c.jsonl", [BAD])
    with pytest.raises(BadLineError):
        run_local(context, tmp_path / "*.jsonl")
    write_lines(b, [BAD, *points(0, 500)])
    with pytest.raises(BadLineError):
        run_local(context, tmp_path / "*.jsonl")
    write_lines(b, points(0, 500))
    write_lines(c, points(500, 510))
    result = run_local(context, tmp_path / "*.jsonl")
    assert check_stored(pandora, {f"u{i}" for i in range(510)}, result) == 500


def test_a_renamed_file_is_known_by_its_identity(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    """Log rotation between tries (a.jsonl -> a.jsonl.1: same device, inode, size and mtime): it was read whole
    as a new file, 500 copies uncounted. It is the source the checkpoint knows, delivered: skipped."""
    a = write_lines(tmp_path / "a.jsonl", points(0, 500))
    b = write_lines(tmp_path / "b.jsonl", [BAD])
    with pytest.raises(BadLineError):
        run_local(context, tmp_path / "*")
    a.rename(tmp_path / "a.jsonl.1")
    write_lines(b, points(500, 510))
    result = run_local(context, tmp_path / "*")
    assert check_stored(pandora, {f"u{i}" for i in range(510)}, result) == 0
    assert result["sources"] == 2


def test_a_worker_lost_after_the_transfer_finished_has_its_retry_count_everything(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    """Killed after execute() returned but before Airflow recorded the success: the checkpoint was gone, and the
    retry sent everything again uncounted. Airflow 3.3's task state store keeps a finished checkpoint."""
    write_lines(tmp_path / "a.jsonl", points(0, 600))
    first = run_local(context, tmp_path / "a.jsonl")
    assert first["possible_duplicates"] == 0
    assert context["task_state_store"].get(CHECKPOINT_STATE_KEY)["finished"] is True
    again = run_local(context, tmp_path / "a.jsonl")  # the retry of that lost worker
    assert again["points"] == 600
    assert check_stored(pandora, {f"u{i}" for i in range(600)}, again) == 600 == again["possible_duplicates"]
