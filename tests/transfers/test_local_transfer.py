"""LocalFilesystemToPandoraOperator against the emulator over HTTP: formats, sources, gzip, bad lines, faults."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.exceptions import BadLineError, TransferError
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.transfers.local_to_pandora import LocalFilesystemToPandoraOperator
from tests.transfers.conftest import REPO, jsonl, users, write_lines

pytestmark = pytest.mark.timeout(60)


def run(context: dict[str, Any], source: Path | str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("repo", REPO)
    op = LocalFilesystemToPandoraOperator(task_id="load", source_path=str(source), **kwargs)
    return op.execute(context)  # type: ignore[arg-type]


def simple(n: int, start: int = 0) -> list[str]:
    return jsonl({"user": f"u{i}", "hits": i} for i in range(start, start + n))


# ---- formats -----------------------------------------------------------------------------------------
def test_jsonl_converts_every_type_and_maps_fields(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    source = write_lines(
        tmp_path / "in.jsonl",
        jsonl(
            [
                {
                    "name": "ann",
                    "hits": "42",
                    "ratio": 1,
                    "ok": "yes",
                    "at": "2024-05-01T08:00:00+08:00",
                    "tags": ["a", "b\tc"],
                    "meta": {"zone": "nb"},
                    "junk": "dropped",
                },
                {"name": "bob\nby", "hits": 7.0, "ratio": 2.5, "ok": False, "at": "2024-05-01T00:00:00Z"},
            ]
        ),
    )
    result = run(context, source, field_map={"name": "user", "junk": None})
    assert result == {
        "points": 2,
        "bytes": result["bytes"],
        "batches": 1,
        "bad_lines": 0,
        "retries": 0,
        "seconds": result["seconds"],
        "sources": 1,
        "possible_duplicates": 0,
    }
    first, second = pandora.points(REPO)
    assert first == {
        "user": "ann",
        "hits": 42,
        "ratio": 1.0,
        "ok": True,
        "at": datetime(2024, 5, 1, 8, tzinfo=timezone(timedelta(hours=8))),
        "tags": ["a", "b\tc"],
        "meta": {"zone": "nb"},
    }
    assert second == {"user": "bob\nby", "hits": 7, "ratio": 2.5, "ok": False, "at": datetime(2024, 5, 1, tzinfo=UTC)}
    # the checkpoint stays, marked finished, until Airflow drops the task's state (a retry counts what was sent)
    assert context["task_state_store"].values["pandora_transfer_checkpoint"]["finished"] is True


def test_csv_with_header_delimiter_and_typed_cells(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    source = write_lines(
        tmp_path / "in.csv",
        [
            "user;hits;ratio;ok;at;tags",
            'ann;3;0.5;true;2024-05-01T00:00:00Z;["x","y"]',
            '"semi;colon";;1e3;false;;',
        ],
        newline=b"\r\n",
    )
    result = run(context, source, format="csv", csv_delimiter=";")
    assert result["points"] == 2
    assert pandora.points(REPO) == [
        {
            "user": "ann",
            "hits": 3,
            "ratio": 0.5,
            "ok": True,
            "at": datetime(2024, 5, 1, tzinfo=UTC),
            "tags": ["x", "y"],
        },
        {"user": "semi;colon", "ratio": 1000.0, "ok": False},
    ]


def test_pandora_lines_pass_through_unchanged(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    plain = write_lines(tmp_path / "a.txt", [f"user=u{i}\thits={i}" for i in range(500)])
    result = run(context, plain, format="pandora")
    assert result["points"] == 500
    assert result["bytes"] == plain.stat().st_size  # the file is the request body
    # CRLF, blank lines and a missing final newline take the line-by-line path; same points
    messy = tmp_path / "b.txt"
    messy.write_bytes(b"user=x1\thits=1\r\n\r\n\nuser=x2\tratio=0.25\r\nuser=x3")
    assert run(context, messy, format="pandora")["points"] == 3
    assert sorted(users(pandora)[-3:]) == ["x1", "x2", "x3"]  # batches in flight together may land in any order
    assert {"user": "x2", "ratio": 0.25} in pandora.points(REPO)


def test_gzip_sources_glob_directory_and_gzip_bodies(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "day"
    (folder / "sub").mkdir(parents=True)
    write_lines(folder / "1.jsonl.gz", simple(100, 0))
    write_lines(folder / "sub" / "2.jsonl", simple(100, 100))
    write_lines(folder / ".hidden.jsonl", simple(5, 900))
    encodings: list[tuple[str | None, bytes]] = []
    original = PandoraHook.request_with_reqid

    def spy(self: PandoraHook, method: str, path: str, **kwargs: Any) -> Any:
        if path.endswith("/data"):
            encodings.append(((kwargs.get("headers") or {}).get("Content-Encoding"), kwargs["data"][:2]))
        return original(self, method, path, **kwargs)

    monkeypatch.setattr(PandoraHook, "request_with_reqid", spy)
    result = run(context, folder, gzip=True)
    assert result["sources"] == 2
    assert sorted(users(pandora)) == sorted(f"u{i}" for i in range(200))
    assert encodings
    assert set(encodings) == {("gzip", b"\x1f\x8b")}
    # a glob with ** picks the same files; plain bodies without gzip
    encodings.clear()
    result = run(context, str(folder / "**" / "*.jsonl*"))
    assert result["sources"] == 2
    assert {encoding for encoding, _ in encodings} == {None}
    with pytest.raises(TransferError, match=r"matches no files|is not a file"):
        run(context, str(tmp_path / "nothing" / "*.jsonl"))


# ---- bad lines ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("processes", [0, 1], ids=["in-process", "encode-process"])
def test_fail_names_source_line_field_and_reason_after_delivering_what_came_before(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path, processes: int, decoder: str
) -> None:
    source = write_lines(tmp_path / "in.jsonl", [*simple(2), '{"user": "bad", "hits": "many"}', *simple(2, 10)])
    with pytest.raises(BadLineError) as info:
        run(context, source, encode_processes=processes)
    message = str(info.value)
    assert str(source) in message
    assert "line 3" in message
    assert "'hits'" in message
    assert "'many' is not a whole number" in message
    assert users(pandora) == ["u0", "u1"]
    checkpoint = context["task_state_store"].values["pandora_transfer_checkpoint"]
    assert (checkpoint["line"], checkpoint["totals"]["points"]) == (2, 2)
    # a retry that skips bad lines resumes at the bad line: nothing is sent twice
    result = run(context, source, on_bad_line="skip", encode_processes=processes)
    assert (result["points"], result["bad_lines"]) == (4, 1)
    assert users(pandora) == ["u0", "u1", "u10", "u11"]


def test_skip_counts_every_kind_of_bad_line(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path, decoder: str
) -> None:
    source = write_lines(
        tmp_path / "in.jsonl",
        [
            '{"user": "ok1"}',
            "{not json",
            "[1, 2]",
            '{"user": "u", "nope": 1}',  # not in the schema
            '{"hits": 1}',  # required user missing
            json.dumps({"user": "x" * 120_000}),  # field over 100 KB
            "z" * 5000,  # over max_line_bytes
            '{"user": "ok2"}',
        ],
    )
    result = run(context, source, on_bad_line="skip", max_line_bytes=4096, encode_processes=2)
    assert (result["points"], result["bad_lines"]) == (2, 6)
    assert users(pandora) == ["ok1", "ok2"]


def test_dead_letter_file_has_source_line_field_and_reason(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path, decoder: str
) -> None:
    source = write_lines(tmp_path / "in.jsonl", ['{"user": "a"}', '{"user": "b", "ok": "perhaps"}', "{broken"])
    dead = tmp_path / "dead.jsonl"
    result = run(context, source, on_bad_line="dead_letter", dead_letter_path=str(dead))
    assert (result["points"], result["bad_lines"]) == (1, 2)
    rows = [json.loads(line) for line in dead.read_text().splitlines()]
    assert [(r["source"], r["line"], r["field"]) for r in rows] == [(str(source), 2, "ok"), (str(source), 3, None)]
    assert "not a boolean" in rows[0]["reason"]
    assert "not JSON" in rows[1]["reason"]
    assert rows[1]["text"] == "{broken"


def test_point_over_2_mib_is_a_bad_line(pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path) -> None:
    wide = [{"key": f"f{i}", "valtype": "string"} for i in range(25)]
    PandoraHook().create_repo("wide", schema=wide)
    big = {f"f{i}": "w" * 90_000 for i in range(25)}
    source = write_lines(tmp_path / "in.jsonl", jsonl([{"f0": "small"}, big, {"f1": "small"}]))
    dead = tmp_path / "dead.jsonl"
    result = run(context, source, repo="wide", on_bad_line="dead_letter", dead_letter_path=str(dead))
    assert (result["points"], result["bad_lines"]) == (2, 1)
    row = json.loads(dead.read_text())
    assert row["line"] == 2
    assert "below 2097152 bytes" in row["reason"]


def test_server_rejection_is_bisected_and_good_points_land(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    # the given schema is looser than the repo's, so only the server can refuse the extra field
    loose = [
        {"key": "user", "valtype": "string"},
        {"key": "hits", "valtype": "long"},
        {"key": "extra", "valtype": "long"},
    ]
    lines = simple(300)
    lines[17] = '{"user": "bad17", "extra": 1}'
    lines[250] = '{"user": "bad250", "extra": 2}'
    source = write_lines(tmp_path / "in.jsonl", lines)
    dead = tmp_path / "dead.jsonl"
    result = run(context, source, schema=loose, on_bad_line="dead_letter", dead_letter_path=str(dead))
    assert (result["points"], result["bad_lines"]) == (298, 2)
    assert Counter(users(pandora)) == Counter(f"u{i}" for i in range(300) if i not in (17, 250))
    rows = [json.loads(line) for line in dead.read_text().splitlines()]
    assert [(r["line"], r["field"]) for r in rows] == [(18, "extra"), (251, "extra")]
    assert all("refused by the server" in r["reason"] and "E18111" not in r["text"] for r in rows)


def test_pandora_lines_refused_by_the_server_are_found_by_bisection(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    lines = [f"user=u{i}\thits={i}" for i in range(1000)]
    lines[500] = "user=u500\thits=lots"
    source = write_lines(tmp_path / "in.txt", lines)
    result = run(context, source, format="pandora", on_bad_line="skip")
    assert (result["points"], result["bad_lines"]) == (999, 1)
    assert len(set(users(pandora))) == 999
    with pytest.raises(BadLineError, match=r"line 501, field 'hits'"):
        run({"task_state_store": context["task_state_store"]}, source, format="pandora", repo=repo)


# ---- faults ------------------------------------------------------------------------------------------
def test_5xx_429_and_dropped_connections_are_retried(
    repo: str,
    pandora: PandoraEmulator,
    context: dict[str, Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = write_lines(tmp_path / "in.jsonl", simple(3000))
    data = f"/v2/repos/{REPO}/data"
    pandora.add_fault("error", method="POST", path=data, status=503, count=2)
    pandora.add_fault("error", method="POST", path=data, status=429, count=1)
    pandora.add_fault("drop", method="POST", path=data, count=1)
    result = run(context, source, max_in_flight=2)
    assert result["retries"] == 4
    assert result["points"] == 3000
    assert Counter(users(pandora)) == Counter(f"u{i}" for i in range(3000))  # nothing lost, nothing twice
    logged = caplog.text + "".join(capsys.readouterr())
    assert "retrying" in logged
    assert pandora.secret_key not in logged


def test_timeouts_are_retried_and_possible_duplicates_counted(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PANDORA_DEFAULT", pandora.connection_json(retry_delay=0.01, timeout=0.5))
    source = write_lines(tmp_path / "in.jsonl", simple(50))
    pandora.add_fault("delay", method="POST", path=f"/v2/repos/{REPO}/data", delay_s=1.0, count=1)
    result = run(context, source)
    assert result["retries"] == 1
    assert result["possible_duplicates"] == 50
    stored = Counter(users(pandora))
    assert set(stored) == {f"u{i}" for i in range(50)}
    assert sum(stored.values()) - 50 <= result["possible_duplicates"]


def test_the_local_transfer_never_needs_boto3() -> None:
    import subprocess
    import sys

    code = "import sys; sys.modules['boto3'] = None; import airflow_provider_pandora.transfers.local_to_pandora"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_a_truncated_gzip_source_is_named_in_the_error(
    repo: str, pandora: PandoraEmulator, context: dict[str, Any], tmp_path: Path
) -> None:
    whole = write_lines(tmp_path / "cut.jsonl.gz", simple(5000))
    whole.write_bytes(whole.read_bytes()[:-40])
    with pytest.raises(TransferError, match=r"cut\.jsonl\.gz cannot be read"):
        run(context, whole)
