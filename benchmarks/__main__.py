"""``python -m benchmarks [NAME ...]`` (``make bench``): run the speed and memory benchmarks.

Every ``benchmarks/bench_<name>.py`` module has a ``run() -> list[dict]`` returning rows
``{"name", "value", "unit", "baseline", "ratio"}`` (ratio = ours / baseline, higher is better).
This runner calls each module (or only the named ones), prints one table, and writes the rows to
``benchmarks/results.json``. A module that raises is reported and the others still run; the exit
status is then 1, and the file holds the rows that were measured. When only some modules run, the
rows of the others already in the file are kept, so one slow benchmark can be re-measured alone.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import math
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
PREFIX = "bench_"
KEYS = ("name", "value", "unit", "baseline", "ratio")


def discover(directory: Path = HERE) -> dict[str, Path]:
    """``{"emulator": .../bench_emulator.py, ...}``, sorted by name."""
    return {path.stem[len(PREFIX) :]: path for path in sorted(directory.glob(f"{PREFIX}*.py"))}


def _load(path: Path) -> ModuleType:
    if path.parent == HERE:  # the real package: keep normal imports (and relative ones) working
        return importlib.import_module(f"{HERE.name}.{path.stem}")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check(rows: Any, module: str) -> list[dict[str, Any]]:
    """Rows must be a list of dicts with at least a name, a value and a unit; missing baseline/ratio -> None."""
    if not isinstance(rows, list):
        raise TypeError(f"{module}.run() returned {type(rows).__name__}, not a list of rows")
    checked = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise TypeError(f"{module}.run() row {i} is a {type(row).__name__}, not a dict")
        missing = [key for key in ("name", "value", "unit") if key not in row]
        if missing:
            raise ValueError(f"{module}.run() row {i} ({row.get('name', '?')!r}) lacks {', '.join(missing)}")
        checked.append({key: row.get(key) for key in KEYS} | {k: v for k, v in row.items() if k not in KEYS})
    return checked


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (int, float)):
        return f"{value:,.2f}" if isinstance(value, float) and abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def render(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table: name, value with unit, baseline, ratio."""
    header = ("benchmark", "value", "unit", "baseline", "ratio")
    lines = [
        (str(r["name"]), _number(r["value"]), str(r["unit"]), _number(r["baseline"]), _number(r["ratio"])) for r in rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i in (0, 2) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *(fmt(cells) for cells in lines)])


def _merge(previous: Path, fresh: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fresh rows, then earlier rows of benchmarks that did not run this time (by row name)."""
    try:
        old = json.loads(previous.read_text())
    except (OSError, ValueError):
        return fresh
    names = {row["name"] for row in fresh}
    kept = (
        [row for row in old if isinstance(row, dict) and row.get("name") not in names] if isinstance(old, list) else []
    )
    return fresh + kept


def main(argv: Sequence[str] | None = None, *, directory: Path = HERE, results: Path | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (e.g. emulator for bench_emulator.py); default all")
    args = parser.parse_args(argv)
    results = results if results is not None else directory / "results.json"

    found = discover(directory)
    wanted = [name.removeprefix(PREFIX).removesuffix(".py") for name in args.names] or list(found)
    unknown = [name for name in wanted if name not in found]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(found) or 'none'}", file=sys.stderr)
        return 2

    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    for name in wanted:
        print(f"== {name} ({found[name].name})", flush=True)
        started = time.perf_counter()
        try:
            module_rows = _check(_load(found[name]).run(), found[name].stem)
        except Exception:
            failed.append(name)
            traceback.print_exc()
            print(f"== {name}: FAILED after {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
            continue
        rows.extend(module_rows)
        print(render(module_rows) if module_rows else "(no rows)")
        print(f"== {name}: {len(module_rows)} row(s) in {time.perf_counter() - started:.1f} s", flush=True)

    written = _merge(results, rows) if args.names else rows
    results.write_text(json.dumps(written, indent=2, ensure_ascii=False) + "\n")
    print()
    print(render(rows) if rows else "(no results)")
    print(
        f"\n{len(rows)} row(s) written to {results}"
        + (f" ({len(written) - len(rows)} kept from earlier runs)" if len(written) > len(rows) else "")
    )
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
