"""The lock files that every environment `make` builds installs from: compile them, check them, report drift.

Why: an unpinned install is a fact about one day's package index. On 2026-12-06 cryptography 51 broke Airflow
2.11.2 and turned CI red with no change here. Each ``locks/<name>.in`` names what one environment needs (the
provider with its extras, the Airflow version, pins for known upstream breaks, each with its reason);
``locks/<name>.txt`` is the whole resolved tree, written by ``make lock`` alone.

Each lock carries a digest of its inputs (the ``.in`` file and pyproject.toml's dependency lists), so that a
build refuses, offline and at once, a lock that no longer matches what it was compiled from.

    python tools/locks.py compile [--upgrade | --upgrade-package NAME ...] [IN ...]
    python tools/locks.py check LOCK ...
    python tools/locks.py drift LOCK PYTHON
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "locks"
DIGEST_PREFIX = "# inputs-sha256: "
# The oldest Python the provider supports; a universal lock holds markers for newer ones.
PYTHON_VERSION = "3.11"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)")


def _uv() -> str:
    return os.environ.get("UV", "uv")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def inputs_digest(in_file: Path) -> str:
    """What a lock was compiled from: its ``.in`` text and the dependency lists of pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    inputs = {
        "in": in_file.read_text(),
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def pins(text: str) -> dict[str, str]:
    """``{normalised name: version}`` of a lock or ``pip freeze`` text (markers and comments ignored)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = _PIN.match(line.strip())
        if match:
            found[_normal(match.group(1))] = match.group(2)
    return found


def compile_locks(ins: list[Path], upgrade: bool, upgrade_packages: list[str]) -> None:
    """Resolve each ``.in`` into its ``.txt``; an existing lock's versions are kept unless they must move."""
    for in_file in ins:
        out = in_file.with_suffix(".txt")
        command = [_uv(), "pip", "compile", "--quiet", "--universal", "--python-version", PYTHON_VERSION]
        command += ["--no-header"]
        command += ["--upgrade"] if upgrade else [f"--upgrade-package={name}" for name in upgrade_packages]
        command += [str(in_file.relative_to(ROOT)), "-o", str(out.relative_to(ROOT))]
        subprocess.run(command, cwd=ROOT, check=True)
        body = out.read_text()
        header = (
            f"# The locked environment of {in_file.name}: written by `make lock` (tools/locks.py); do not edit.\n"
            f"{DIGEST_PREFIX}{inputs_digest(in_file)}\n"
        )
        out.write_text(header + body)
        print(f"{out.relative_to(ROOT)}: {len(pins(out.read_text()))} packages")


def check(locks: list[Path]) -> int:
    """Refuse a lock whose inputs changed since it was compiled, naming the command that mends it."""
    stale = []
    for lock in locks:
        in_file = lock.with_suffix(".in")
        if not lock.exists() or not in_file.exists():
            print(
                f"{lock.relative_to(ROOT)}: no lock for this environment. Add {in_file.relative_to(ROOT)} "
                "(copy a neighbour) and run `make lock`.",
                file=sys.stderr,
            )
            return 1
        lines = lock.read_text().splitlines()
        recorded = next((ln.removeprefix(DIGEST_PREFIX) for ln in lines if ln.startswith(DIGEST_PREFIX)), None)
        if recorded != inputs_digest(in_file):
            stale.append(lock)
    for lock in stale:
        print(
            f"{lock.relative_to(ROOT)} is stale: {lock.with_suffix('.in').relative_to(ROOT)} or pyproject.toml's "
            "dependencies changed since it was compiled. Run `make lock` and review the diff (CONTRIBUTING.md).",
            file=sys.stderr,
        )
    return 1 if stale else 0


def drift(lock: Path, python: str) -> int:
    """Print how an environment differs from its lock; the exit status says nothing about drift.

    uv compares them (``pip sync --dry-run``), so the lock's markers are evaluated for this environment: a
    universal lock's Windows-only or newer-Python-only entries are not reported as missing.
    """
    plan = subprocess.run(
        [_uv(), "pip", "sync", "--dry-run", "--python", python, str(lock)],
        check=True,
        capture_output=True,
        text=True,
    )
    locked: dict[str, str] = {}
    fresh: dict[str, str] = {}
    for line in (plan.stdout + plan.stderr).splitlines():
        sign, _, spec = line.strip().partition(" ")
        if sign in "+-" and "==" in spec:
            name, _, version = spec.partition("==")
            (locked if sign == "+" else fresh)[_normal(name)] = version.split()[0]
    rows = [(name, locked.get(name, "-"), fresh.get(name, "-")) for name in sorted(locked.keys() | fresh.keys())]
    print(f"\n{lock.relative_to(ROOT)} vs. the environment of {python}: {len(rows)} package(s) differ")
    if rows:
        width = max(len(name) for name, _, _ in rows)
        print(f"  {'package':<{width}}  {'locked':<14}  installed")
        for name, was, now in rows:
            print(f"  {name:<{width}}  {was:<14}  {now}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line: ``compile``, ``check`` or ``drift``."""
    parser = argparse.ArgumentParser(prog="tools/locks.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    comp = sub.add_parser("compile", help="resolve locks/*.in into locks/*.txt (what `make lock` runs)")
    comp.add_argument("ins", nargs="*", type=Path, help="the .in files (default: every one in locks/)")
    comp.add_argument("--upgrade", action="store_true", help="move every package to its newest allowed version")
    comp.add_argument("--upgrade-package", action="append", default=[], help="move this package only")
    chk = sub.add_parser("check", help="fail when a lock no longer matches its inputs")
    chk.add_argument("locks", nargs="+", type=Path)
    dri = sub.add_parser("drift", help="print how an environment differs from a lock")
    dri.add_argument("lock", type=Path)
    dri.add_argument("python", help="the environment's python")
    args = parser.parse_args(argv)
    if args.command == "compile":
        ins = [p.resolve() for p in args.ins] or sorted(LOCKS.glob("*.in"))
        compile_locks(ins, args.upgrade, args.upgrade_package)
        return 0
    if args.command == "check":
        return check([p.resolve() for p in args.locks])
    return drift(args.lock.resolve(), args.python)


if __name__ == "__main__":
    sys.exit(main())
