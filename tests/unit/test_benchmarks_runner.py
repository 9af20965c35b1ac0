"""``python -m benchmarks``: discovery, the table, results.json, and failures that do not stop the others."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest

from benchmarks.__main__ import discover, main, render

GOOD = """
def run():
    return [{"name": "fast_thing", "value": 250.0, "unit": "MB/s", "baseline": 100.0, "ratio": 2.5},
            {"name": "rss_growth", "value": 3, "unit": "MiB", "baseline": None, "ratio": None}]
"""
BOOM = """
def run():
    raise RuntimeError("sink did not start")
"""
OTHER = """
def run():
    return [{"name": "other_row", "value": 1.5, "unit": "x", "baseline": 1.0, "ratio": 1.5}]
"""


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    for name, text in {"bench_good.py": GOOD, "bench_boom.py": BOOM, "bench_other.py": OTHER}.items():
        (tmp_path / name).write_text(dedent(text))
    (tmp_path / "helpers.py").write_text("raise AssertionError('not a benchmark, never imported')\n")
    return tmp_path


def _rows(path: Path) -> list[dict[str, object]]:
    return list(json.loads(path.read_text()))


def test_discovers_only_bench_modules(bench_dir: Path):
    assert list(discover(bench_dir)) == ["boom", "good", "other"]


def test_a_failing_module_is_reported_and_the_others_still_run(bench_dir: Path, capsys: pytest.CaptureFixture[str]):
    results = bench_dir / "results.json"
    assert main([], directory=bench_dir, results=results) == 1
    out, err = capsys.readouterr()
    assert [row["name"] for row in _rows(results)] == ["fast_thing", "rss_growth", "other_row"]
    assert _rows(results)[0] == {"name": "fast_thing", "value": 250.0, "unit": "MB/s", "baseline": 100.0, "ratio": 2.5}
    assert "RuntimeError: sink did not start" in err
    assert "failed: boom" in err
    assert "fast_thing" in out
    assert "3 row(s) written" in out


def test_named_modules_run_alone_and_other_rows_are_kept(bench_dir: Path, capsys: pytest.CaptureFixture[str]):
    results = bench_dir / "results.json"
    results.write_text(json.dumps([{"name": "other_row", "value": 9, "unit": "x", "baseline": 1, "ratio": 9}]))
    assert main(["good"], directory=bench_dir, results=results) == 0
    assert [row["name"] for row in _rows(results)] == ["fast_thing", "rss_growth", "other_row"]
    assert main(["bench_other"], directory=bench_dir, results=results) == 0
    assert [row["value"] for row in _rows(results)] == [1.5, 250.0, 3]
    assert "boom" not in capsys.readouterr().err


def test_unknown_names_are_refused_with_the_list(bench_dir: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["nope"], directory=bench_dir, results=bench_dir / "results.json") == 2
    assert "available: boom, good, other" in capsys.readouterr().err
    assert not (bench_dir / "results.json").exists()


def test_rows_without_a_value_fail_their_module(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    (tmp_path / "bench_bad.py").write_text("def run():\n    return [{'name': 'x', 'unit': 's'}]\n")
    assert main([], directory=tmp_path, results=tmp_path / "results.json") == 1
    assert "lacks value" in capsys.readouterr().err
    assert _rows(tmp_path / "results.json") == []


def test_table_lines_up_and_shows_missing_figures_as_dashes():
    table = render(
        [
            {"name": "passthrough_vs_curl", "value": 812.3, "unit": "MB/s", "baseline": 901.0, "ratio": 0.9},
            {"name": "rss", "value": 12, "unit": "MiB", "baseline": None, "ratio": None},
        ]
    ).splitlines()
    assert table[0].split() == ["benchmark", "value", "unit", "baseline", "ratio"]
    assert table[2].split() == ["passthrough_vs_curl", "812", "MB/s", "901", "0.90"]
    assert table[3].split() == ["rss", "12", "MiB", "-", "-"]


def test_extra_keys_of_a_row_are_written_after_the_five(tmp_path: Path):
    """Rows may carry context (the decoder, the sink, the configuration); it reaches results.json unchanged."""
    (tmp_path / "bench_ctx.py").write_text(
        "def run():\n    return [{'ratio': 1.2, 'name': 'jsonl_vs_json_loads', 'value': 3.0, 'unit': 'lines/s',"
        " 'baseline': 2.5, 'decoder': 'msgspec', 'target': 1.0}]\n"
    )
    assert main([], directory=tmp_path, results=tmp_path / "results.json") == 0
    (row,) = _rows(tmp_path / "results.json")
    assert list(row) == ["name", "value", "unit", "baseline", "ratio", "decoder", "target"]


def test_the_issue_12_rows_are_all_produced_by_some_benchmark():
    """Every row name the README's table and tools rely on is emitted by one of benchmarks/bench_*.py."""
    import benchmarks

    text = "\n".join(p.read_text() for p in Path(benchmarks.__file__).parent.glob("bench_*.py"))
    for name in [
        "passthrough_vs_curl",
        "sink_ceiling_vs_curl",
        "passthrough_cpu_vs_curl",
        "rss_1gib_minus_10mib_mib",
        "seconds_per_gib_1gib_vs_100mib",
        "encode_processes_2_speedup",
    ]:
        assert f'"{name}"' in text, name
    for name in ["jsonl_vs_json_loads", "jsonl_vs_naive", "jsonl_stdlib_vs_json_loads", "jsonl_stdlib_vs_naive"]:
        assert name in text or name.replace("_stdlib", "") in text, name
    # triggers_<n>_<interval>s_fire_latency_{p50,p95,max}_s: the prefix here, the rest from benchmarks/_fire_latency.py
    assert 'prefix = f"triggers_{n}_{INTERVAL:g}s"' in text
    assert 'prefix = f"triggers_{TRIGGERS}_{INTERVAL:g}s"' in text
