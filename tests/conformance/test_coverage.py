"""The table: every call docs/seed-api.md documents has a conformance case, and every case cites its sources.

The list of calls is read from the seed itself (:func:`~tests.conformance.seed.seed_calls`), so a call added
to the spec fails here until a case replays it.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from tests.conformance.seed import REPLAYS, Replay, SeedCall, citation_problems, seed_calls

HERE = Path(__file__).resolve().parent


def _replays() -> dict[str, Replay]:
    """Every case of the suite, its modules imported so that this test also works when run alone."""
    for module in sorted(HERE.glob("test_*.py")):
        importlib.import_module(f"tests.conformance.{module.stem}")
    return REPLAYS


def _table(calls: list[SeedCall], replays: dict[str, Replay]) -> str:
    rows = []
    for call in calls:
        tests = sorted(r.test for r in replays.values() if r.call == call.key) or ["-- NONE --"]
        rows.append(f"  seed-api.md:{call.line:<4} {call.method:<6} {call.path:<40} {call.heading}: {', '.join(tests)}")
    return "\n".join(rows)


def test_the_seed_documents_33_calls_on_29_endpoints() -> None:
    """A guard on the reader: the seed as committed names 29 method+path pairs under 33 headings (the five
    export sections share one endpoint)."""
    calls = seed_calls()
    assert len(calls) == 33, [c.key for c in calls]
    assert len({(c.method, c.path) for c in calls}) == 29


def test_every_seed_call_has_a_conformance_case() -> None:
    calls = seed_calls()
    replays = _replays()
    claimed = {r.call for r in replays.values()}
    missing = [c for c in calls if c.key not in claimed]
    assert not missing, "seed calls without a conformance case:\n" + _table(calls, replays)


def test_every_case_replays_a_seed_call_and_cites_its_sources() -> None:
    calls = {c.key: c for c in seed_calls()}
    problems: list[str] = []
    for name, replay in _replays().items():
        call = calls.get(replay.call)
        if call is None:
            problems.append(f"{name}: {replay.call} is not a call of docs/seed-api.md")
            continue
        if not replay.cites:
            problems.append(f"{name}: no citation")
        for cite in replay.cites:
            problems += [f"{name}: {p}" for p in citation_problems(cite)]
            if cite.startswith("seed:") and int(cite.rsplit(":", 1)[1]) != call.line:
                problems.append(f"{name}: {cite} is not the line of {call.method} {call.path} ({call.line})")
    assert not problems, "\n".join(problems)


def test_nothing_of_ours_is_imported_but_the_emulator_fixture() -> None:
    """The suite's rule: no import from ``airflow_provider_pandora`` except ``emulator.testing`` (the fixture's
    type), so our signer, wire encoder and client cannot vouch for themselves here."""
    allowed = {"airflow_provider_pandora.emulator.testing"}
    found: list[str] = []
    for source in sorted(HERE.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [
                f"{source.name}: {n}"
                for n in names
                if n.split(".")[0] == "airflow_provider_pandora" and n not in allowed
            ]
    assert not found, found
