"""The README's complete DAG runs as printed: its text is cut out of README.md and run with dag.test() against the
emulator, as the README tells a reader to do (the ``pandora_default`` connection pointing at it)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.common import assert_succeeded, dag_test

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def readme_dag_source() -> str:
    """The first ``python`` code block under the README's "A complete DAG" heading."""
    text = README.read_text()
    section = text[text.index("\n## A complete DAG\n") :]
    match = re.search(r"^```python\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    assert match, "README.md: no python block under '## A complete DAG'"
    return match.group(1)


def test_the_readme_dag_is_the_first_python_block() -> None:
    """docs/quickstart.rst shows the README's first python block (literalinclude): it must be this DAG."""
    text = README.read_text()
    first = text[text.index("```python\n") + len("```python\n") :]
    assert first.startswith(readme_dag_source())


@pytest.mark.usefixtures("airflow_db")
def test_the_readme_dag_runs_as_printed(pandora_conn: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As the README says: the file in the DAGs folder (Airflow 3's dag.test() parses that folder to serialize it).
    from airflow import settings

    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(tmp_path))
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(tmp_path))
    path = tmp_path / "pandora_quickstart.py"
    path.write_text(readme_dag_source())
    spec = importlib.util.spec_from_file_location("pandora_quickstart", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "pandora_quickstart", module)
    spec.loader.exec_module(module)

    dagrun = dag_test(module.dag)

    assert_succeeded(dagrun)
    assert pandora_conn.points("clicks") == [
        {"user": "ann", "hits": 3},
        {"user": "bob", "hits": 5},
        {"user": "ann", "hits": 4},
    ]
    assert sorted(pandora_conn.points("hits_per_user"), key=lambda p: p["user"]) == [
        {"user": "ann", "hits": 7},
        {"user": "bob", "hits": 5},
    ]
