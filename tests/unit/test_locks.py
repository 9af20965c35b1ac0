"""The locks that `make` installs from: fresh, refused when stale, and the same lines the README claims."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pandora_locks_tool", ROOT / "tools" / "locks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


locks = _load_tool()


def _makefile_lines() -> list[str]:
    text = (ROOT / "Makefile").read_text()

    def var(name: str) -> str:
        match = re.search(rf"^{name}\s*\?=\s*(.+)$", text, re.MULTILINE)
        assert match, f"Makefile has no {name}"
        return match.group(1).strip()

    return [var("AIRFLOW3"), var("AIRFLOW2"), *var("AIRFLOW_LINES").split()]


def test_every_committed_lock_matches_its_inputs():
    assert locks.check(sorted((ROOT / "locks").glob("*.txt"))) == 0


def test_every_line_make_tests_has_a_lock_pinning_that_airflow():
    for version in _makefile_lines():
        lock = ROOT / "locks" / f"airflow-{version}.txt"
        assert lock.exists(), f"make tests Airflow {version} but {lock.name} is missing"
        assert locks.pins(lock.read_text())["apache-airflow"] == version


def test_the_readme_claims_exactly_the_lines_make_tests():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| Airflow | what `make test` runs") :].split("\n\n", 1)[0]
    claimed = re.findall(r"^\| (\d+\.\d+\.\d+) \|", table, re.MULTILINE)
    assert sorted(claimed) == sorted(_makefile_lines())


def test_a_changed_input_makes_the_lock_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "locks").mkdir()
    for suffix in (".in", ".txt"):
        shutil.copy(ROOT / "locks" / f"build{suffix}", tmp_path / "locks" / f"build{suffix}")
    monkeypatch.setattr(locks, "ROOT", tmp_path)
    lock = tmp_path / "locks" / "build.txt"
    assert locks.check([lock]) == 0

    (tmp_path / "locks" / "build.in").write_text("hatchling<1.30\n")
    assert locks.check([lock]) == 1
    assert "locks/build.txt is stale" in capsys.readouterr().err

    (tmp_path / "locks" / "build.in").write_text((ROOT / "locks" / "build.in").read_text())
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"requests>=2.31"', '"requests>=2.32"'))
    assert locks.check([lock]) == 1, "a dependency range changed in pyproject.toml"


def test_a_missing_lock_names_the_file_to_add(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setattr(locks, "ROOT", tmp_path)
    (tmp_path / "locks").mkdir()
    assert locks.check([tmp_path / "locks" / "airflow-9.9.9.txt"]) == 1
    assert "Add locks/airflow-9.9.9.in" in capsys.readouterr().err


def test_pins_reads_locks_and_freeze_output_alike():
    text = "# comment\n-e .\nFoo_Bar==1.2.3 ; python_version >= '3.12'\n    # via x\nbaz[extra]==4.0\n"
    assert locks.pins(text) == {"foo-bar": "1.2.3", "baz": "4.0"}
