"""Input read right or refused loudly (issue 17 item 4): CSV records over several lines, unterminated quotes, a
UTF-8 byte order mark, an unusable ``dead_letter_path``; through ``LocalFilesystemToPandoraOperator`` (and the Kodo
one for the BOM) against the emulator."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.exceptions import BadLineError, PandoraValidationError, PointError, TransferError
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.transfers._checkpoints import MemoryCheckpoints
from airflow_provider_pandora.transfers._engine import Transfer, TransferOptions
from airflow_provider_pandora.transfers.kodo_to_pandora import KodoToPandoraOperator
from airflow_provider_pandora.transfers.local_to_pandora import LocalFilesystemToPandoraOperator, local_sources
from tests.moto_s3 import KodoBucket
from tests.transfers.conftest import REPO, users

pytestmark = pytest.mark.timeout(60)

BOM = b"\xef\xbb\xbf"
CHECKPOINT = "pandora_transfer_checkpoint"


def run(context: dict[str, Any], source: Path | str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("repo", REPO)
    op = LocalFilesystemToPandoraOperator(task_id="load", source_path=str(source), **kwargs)
    return op.execute(context)  # type: ignore[arg-type]


def dead_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ---- CSV records over several lines ---------------------------------------------------------------------
MULTI = (
    b"user,hits\n"  # 1
    b'"multi\n'  # 2: a quoted cell over lines 2-3
    b'line",1\n'  # 3
    b"ann,2\r\n"  # 4
    b'"carol\r\n'  # 5: CRLF inside the quotes is kept
    b'""quoted""\n'  # 6
    b'",3\n'  # 7
    b"dave,lots\n"  # 8: bad (hits), after two multi-line records
    b'"erin\n'  # 9: bad too, and over two lines
    b'x",many\n'  # 10
    b"frank,6\n"  # 11
)


@pytest.mark.parametrize("processes", [0, 1], ids=["in-process", "encode-processes-ignored"])
def test_csv_cells_quoted_over_lines_are_one_record_with_true_line_numbers(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path, processes: int
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(MULTI)
    dead = tmp_path / "dead.jsonl"
    result = run(
        context, source, format="csv", on_bad_line="dead_letter", dead_letter_path=str(dead), encode_processes=processes
    )
    assert (result["points"], result["bad_lines"]) == (4, 2)
    assert [(p["user"], p["hits"]) for p in pandora.points(REPO)] == [
        ("multi\nline", 1),
        ("ann", 2),
        ('carol\r\n"quoted"\n', 3),
        ("frank", 6),
    ]
    rows = dead_rows(dead)
    assert [(r["line"], r["field"]) for r in rows] == [(8, "hits"), (9, "hits")]  # where each record starts
    assert rows[1]["text"] == '"erin\nx",many'


def test_a_bad_csv_record_over_lines_fails_at_its_first_line_and_the_retry_resumes_there(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(MULTI)
    with pytest.raises(BadLineError, match=r"line 8, field 'hits'"):
        run(context, source, format="csv")
    assert users(pandora) == ["multi\nline", "ann", 'carol\r\n"quoted"\n']
    checkpoint = context["task_state_store"].values[CHECKPOINT]
    assert checkpoint["offset"] == MULTI.index(b"dave")  # a record boundary: the bad record's start
    assert checkpoint["line"] == 7
    # the retry skips the bad records and starts at the checkpoint, inside no quoted cell
    result = run(context, source, format="csv", on_bad_line="skip")
    assert (result["points"], result["bad_lines"]) == (4, 2)
    assert users(pandora) == ["multi\nline", "ann", 'carol\r\n"quoted"\n', "frank"]


def test_resume_between_batches_never_lands_inside_a_quoted_record(
    repo: str, pandora: PandoraEmulator, tmp_path: Path
) -> None:
    """Small batches end between multi-line records; every checkpoint is at a record start, so a try stopped at
    any of them resumes into the same points with the same line numbers."""
    rows = [f'"u{i}\nsecond line\n""third""",{i}' if i % 3 == 0 else f"u{i},{i}" for i in range(300)]
    path = tmp_path / "in.csv"
    path.write_bytes(("user,hits\n" + "\n".join(rows) + "\n").encode())
    data = path.read_bytes()
    starts = {0} | {data.index(f"\n{row}\n".encode()) + 1 for row in rows}

    class Stop(Exception):
        pass

    store = MemoryCheckpoints()
    seen: list[tuple[int, int]] = []

    def stop_after_five(_: dict[str, Any]) -> None:
        state = store.load()
        assert state is not None
        seen.append((state["offset"], state["line"]))
        if len(seen) == 5:
            raise Stop

    def transfer(**kwargs: Any) -> Transfer:
        options = TransferOptions(repo=REPO, format="csv", max_batch_bytes=256, max_in_flight=1)
        return Transfer(PandoraHook(), options, checkpoints=store, sources_spec="test", **kwargs)

    with pytest.raises(Stop):
        transfer(on_ack=stop_after_five).run(local_sources(str(path)))
    for offset, line in seen:
        assert offset in starts or offset == len(data)
        assert line == data.count(b"\n", 0, offset)  # the line number of the record before the offset
    transfer().run(local_sources(str(path)))
    stored = users(pandora)
    assert set(stored) == {f'u{i}\nsecond line\n"third"' if i % 3 == 0 else f"u{i}" for i in range(300)}


# ---- unterminated quotes ---------------------------------------------------------------------------------
UNTERMINATED = b'user,hits\nann,1\nbob,"2\ncarol,3\ndave,4\n'


def test_an_unterminated_quote_fails_naming_the_line_it_opened_on(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(UNTERMINATED)
    with pytest.raises(BadLineError) as info:
        run(context, source, format="csv")
    message = str(info.value)
    assert "line 3" in message
    assert "unterminated quote opened on line 3" in message
    assert users(pandora) == ["ann"]  # nothing of the open record is stored, truncated or not


def test_an_unterminated_quote_is_one_bad_record_to_the_end_of_the_source(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b'user,hits\nann,1\n"bob\nsays ""hi""",2\ncarol,"3\ndave,4\n')
    dead = tmp_path / "dead.jsonl"
    result = run(context, source, format="csv", on_bad_line="dead_letter", dead_letter_path=str(dead))
    assert (result["points"], result["bad_lines"]) == (2, 1)
    assert users(pandora) == ["ann", 'bob\nsays "hi"']
    (row,) = dead_rows(dead)
    assert row["line"] == 5
    assert "unterminated quote opened on line 5" in row["reason"]
    assert row["text"] == 'carol,"3\ndave,4\n'  # the newline is inside the open quote


def test_an_unterminated_quote_longer_than_max_line_bytes_is_discarded_to_the_end(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    tail = b"".join(b"x%d,%d\n" % (i, i) for i in range(2000))  # about 20 KB swallowed by the open quote
    source.write_bytes(b'user,hits\nann,1\nbob,2\n"carol,3\n' + tail)
    dead = tmp_path / "dead.jsonl"
    result = run(
        context, source, format="csv", on_bad_line="dead_letter", dead_letter_path=str(dead), max_line_bytes=4096
    )
    assert (result["points"], result["bad_lines"]) == (2, 1)
    (row,) = dead_rows(dead)
    assert row["line"] == 4
    assert "longer than max_line_bytes=4096" in row["reason"]
    assert "unterminated quote opened on line 4" in row["reason"]


# ---- a UTF-8 byte order mark ---------------------------------------------------------------------------------
@pytest.mark.parametrize("processes", [0, 1], ids=["in-process", "encode-process"])
def test_a_jsonl_file_starting_with_a_bom_is_read_whole(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path, processes: int, decoder: str
) -> None:
    plain = tmp_path / "a.jsonl"
    plain.write_bytes(BOM + b'{"user": "a", "hits": 1}\n{"user": "b"}\n')
    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(gzip.compress(BOM + b'{"user": "c"}\n'))
    result = run(context, tmp_path / "*.jsonl*", encode_processes=processes)
    assert (result["points"], result["bad_lines"]) == (3, 0)
    assert sorted(users(pandora)) == ["a", "b", "c"]  # batches of two sources may land in either order


def test_a_bom_is_skipped_in_csv_headers_and_pandora_lines(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    csv_file = tmp_path / "in.csv"
    csv_file.write_bytes(BOM + b'"user",hits\nann,1\n')
    assert run(context, csv_file, format="csv")["points"] == 1
    lines = tmp_path / "in.txt"
    lines.write_bytes(BOM + b"user=bob\thits=2\n")
    assert run(context, lines, format="pandora")["points"] == 1
    assert [(p["user"], p["hits"]) for p in pandora.points(REPO)] == [("ann", 1), ("bob", 2)]


def test_a_bom_is_skipped_again_when_a_try_resumes_from_the_start(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(BOM + b'{"user": "a"}\n{"user": "b"}\n')
    pandora.add_fault("error", method="POST", path=f"/v2/repos/{REPO}/data", status=429)
    with pytest.raises(Exception, match=r"429|Too Many"):
        run(context, source)
    assert context["task_state_store"].values[CHECKPOINT]["offset"] == 0  # nothing acknowledged
    pandora.clear_faults()
    assert run(context, source)["bad_lines"] == 0
    assert users(pandora) == ["a", "b"]


def test_a_kodo_object_starting_with_a_bom_is_read_whole(
    repo: str, pandora: PandoraEmulator, kodo_conn: KodoBucket, context: dict[str, Any]
) -> None:
    kodo_conn.put("bom/a.jsonl", BOM + b'{"user": "k1"}\n{"user": "k2"}\n')
    op = KodoToPandoraOperator(task_id="load", bucket=kodo_conn.bucket, key="bom/a.jsonl", repo=REPO)
    result = op.execute(context)  # type: ignore[arg-type]
    assert (result["points"], result["bad_lines"]) == (2, 0)
    assert users(pandora) == ["k1", "k2"]


# ---- dead_letter_path ------------------------------------------------------------------------------------------
def test_a_dead_letter_folder_that_does_not_exist_is_created(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"user": "a"}\n{broken\n{"user": "b"}\n')
    dead = tmp_path / "not" / "yet" / "dead.jsonl"
    result = run(context, source, on_bad_line="dead_letter", dead_letter_path=str(dead))
    assert (result["points"], result["bad_lines"]) == (2, 1)
    assert [row["line"] for row in dead_rows(dead)] == [2]


def test_an_unusable_dead_letter_path_is_refused_before_anything_is_sent(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"user": "a"}\n{broken\n{"user": "b"}\n')
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for dead in (blocker / "dead.jsonl", tmp_path):  # a folder that is a file; a path that is a folder
        with pytest.raises(TransferError, match="dead_letter_path") as info:
            run(context, source, on_bad_line="dead_letter", dead_letter_path=str(dead))
        assert str(dead) in str(info.value)
    assert pandora.points(REPO) == []  # refused before the first batch, on every try


def test_a_dangling_dead_letter_symlink_is_refused_before_anything_is_sent(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"user": "a"}\n{broken\n{"user": "b"}\n')
    dead = tmp_path / "dl.jsonl"
    dead.symlink_to(tmp_path / "nonexistent" / "dir" / "x")
    with pytest.raises(TransferError, match="dead_letter_path") as info:
        run(context, source, on_bad_line="dead_letter", dead_letter_path=str(dead))
    assert str(dead) in str(info.value)
    assert pandora.points(REPO) == []
    assert dead.is_symlink()  # left as it was
    assert not dead.exists()


def test_the_dead_letter_pre_check_leaves_no_empty_file_behind(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"user": "a"}\n')
    dead, target = tmp_path / "dead.jsonl", tmp_path / "target.jsonl"
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)  # dangling, but its folder exists: bad lines would create the target
    for path in (dead, link):
        assert run(context, source, on_bad_line="dead_letter", dead_letter_path=str(path))["bad_lines"] == 0
    assert not dead.exists()
    assert not target.exists()
    assert link.is_symlink()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_a_dead_letter_write_that_fails_is_a_transfer_error_naming_the_path(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"user": "a"}\n{broken\n{"user": "b"}\n')
    with pytest.raises(TransferError, match="dead_letter_path") as info:
        run(context, source, on_bad_line="dead_letter", dead_letter_path="/dev/full")
    assert "/dev/full" in str(info.value)
    assert "No space left on device" in str(info.value)


# ---- a lone surrogate, deep nesting ----------------------------------------------------------------------------
SURROGATE = b'{"user": "bad", "hits": 1, "tags": ["x"]}'.replace(b'"bad"', b'"a\\ud800b"')
DEEP = b"[" * 3000 + b"]" * 3000
DEEP_IN_FIELD = b'{"user": "deep", "tags": ' + DEEP + b"}"
EDGE_CASES = {
    # (the line, what its reason says, the field it names)
    "lone-surrogate": (SURROGATE, r"lone surrogate \ud800", "user"),
    "lone-surrogate-in-array": (b'{"user": "c", "tags": ["a\\udfffb"]}', r"lone surrogate \udfff", "tags"),
    "lone-surrogate-plain-shape": (b'{"user": "a\\ud800b"}', r"lone surrogate \ud800", "user"),
    "deep-line": (DEEP, "is nested too deeply", None),
    "deep-field": (DEEP_IN_FIELD, "is nested too deeply", None),
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
@pytest.mark.parametrize("processes", [0, 1], ids=["in-process", "encode-process"])
@pytest.mark.parametrize("policy", ["skip", "dead_letter"])
def test_a_lone_surrogate_or_deep_nesting_is_a_bad_line(
    repo: str,
    pandora: PandoraEmulator,
    context: dict[str, Any],
    tmp_path: Path,
    decoder: str,
    processes: int,
    policy: str,
    case: str,
) -> None:
    line, reason, field = EDGE_CASES[case]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"user": "a"}\n' + line + b'\n{"user": "b"}\n')
    dead = tmp_path / "dead.jsonl"
    extra: dict[str, Any] = {"dead_letter_path": str(dead)} if policy == "dead_letter" else {}
    result = run(context, source, on_bad_line=policy, encode_processes=processes, **extra)
    assert (result["points"], result["bad_lines"]) == (2, 1)
    assert users(pandora) == ["a", "b"]
    if policy == "dead_letter":
        (row,) = dead_rows(dead)
        assert (row["source"], row["line"], row["field"]) == (str(source), 2, field)
        assert reason in row["reason"]


@pytest.mark.parametrize("case", list(EDGE_CASES))
@pytest.mark.parametrize("processes", [0, 1], ids=["in-process", "encode-process"])
def test_a_lone_surrogate_or_deep_nesting_fails_naming_file_and_line(
    repo: str,
    pandora: PandoraEmulator,
    context: dict[str, Any],
    tmp_path: Path,
    decoder: str,
    processes: int,
    case: str,
) -> None:
    line, reason, _ = EDGE_CASES[case]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"user": "a"}\n' + line + b'\n{"user": "b"}\n')
    with pytest.raises(BadLineError) as info:
        run(context, source, encode_processes=processes)
    assert f"{source}, line 2" in str(info.value)
    assert reason in str(info.value)
    assert users(pandora) == ["a"]


@pytest.mark.parametrize("policy", ["fail", "skip", "dead_letter"])
def test_csv_cells_with_a_lone_surrogate_or_deep_nesting_are_bad_lines(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path, policy: str
) -> None:
    source = tmp_path / "in.csv"
    deep = DEEP.decode()
    source.write_text(f'user,tags\na,\nb,"{deep}"\nc,"[""x\\udc00""]"\nd,\n', encoding="utf-8")
    dead = tmp_path / "dead.jsonl"
    extra: dict[str, Any] = {"dead_letter_path": str(dead)} if policy == "dead_letter" else {}
    if policy == "fail":
        with pytest.raises(BadLineError, match=rf"{source}, line 3, field 'tags': is nested too deeply"):
            run(context, source, format="csv", on_bad_line=policy)
        return
    result = run(context, source, format="csv", on_bad_line=policy, **extra)
    assert (result["points"], result["bad_lines"]) == (2, 2)
    assert users(pandora) == ["a", "d"]
    if policy == "dead_letter":
        rows = dead_rows(dead)
        assert [(r["line"], r["field"]) for r in rows] == [(3, "tags"), (4, "tags")]
        assert "nested too deeply" in rows[0]["reason"]
        assert r"lone surrogate \udc00" in rows[1]["reason"]


def test_push_data_refuses_a_lone_surrogate_naming_the_field(repo: str, pandora: PandoraEmulator) -> None:
    hook = PandoraHook()
    with pytest.raises(PointError, match=r"points\[1\]\.user: a lone surrogate \\ud800 is not a character") as info:
        hook.push_data(REPO, [{"user": "a"}, {"user": "b\ud800"}])
    assert (info.value.field, info.value.index) == ("user", 1)
    with pytest.raises(PandoraValidationError, match=r"data: a lone surrogate \\udc80"):
        hook.push_data(REPO, "user=c\udc80")
    assert pandora.points(REPO) == []


@pytest.mark.parametrize("key", ["\\ud800", "user\\udc00"])
def test_a_field_named_with_a_lone_surrogate_is_dead_lettered_not_a_crash(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path, decoder: str, key: str
) -> None:
    """Found by an adversarial tester: the dead-letter record named the field as written, and a lone surrogate
    cannot be written as UTF-8; the task died with UnicodeEncodeError instead of dead-lettering the line."""
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"user": "a"}\n{"user": "b", "' + key.encode() + b'": 1}\n{"user": "c"}\n')
    dead = tmp_path / "dead.jsonl"
    result = run(context, source, on_bad_line="dead_letter", dead_letter_path=str(dead))
    assert (result["points"], result["bad_lines"]) == (2, 1)
    assert sorted(users(pandora)) == ["a", "c"]
    (row,) = dead_rows(dead)
    assert (row["line"], row["field"]) == (2, json.loads(f'"{key}"'))
