"""The import graph ARCHITECTURE.md draws, read from the source: no cycle, the pure base imports nothing above it,
and no module re-exports a name of ours that lives in another module (a release that has never shipped carries no
shims; a package's ``__init__`` is its public face and may gather its modules' names)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "airflow_provider_pandora"
ROOT = PACKAGE.name

#: The pure base: no Airflow, no HTTP client, nothing of the layers above it.
PURE_BASE = {"auth", "wire", "schema", "exceptions", "params"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(path): ast.parse(path.read_text(), str(path)) for path in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, tree: ast.Module) -> set[str]:
    """Every module of the package that ``name`` imports, anywhere in it (lazy imports inside functions too)."""
    found: set[str] = set()
    package = name if (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists() else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith(ROOT))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.startswith(ROOT):
                found.add(target)
                found.update(f"{target}.{alias.name}" for alias in node.names)
    known = set(MODULES)
    return {target for target in found if target in known and target != name}


MODULES = modules()
GRAPH = {name: imported(name, tree) for name, tree in MODULES.items()}


def test_the_import_graph_has_no_cycle() -> None:
    def cycle_from(start: str) -> list[str] | None:
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for nxt in GRAPH[node]:
                if nxt == start:
                    return [*path, start]
                if nxt not in seen and not start.startswith(nxt + ".") and not nxt.startswith(start + "."):
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None

    cycles = {" -> ".join(found) for name in GRAPH if (found := cycle_from(name))}
    assert not cycles, "\n".join(sorted(cycles))


@pytest.mark.parametrize("base", sorted(PURE_BASE))
def test_the_pure_base_imports_nothing_above_it(base: str) -> None:
    name = f"{ROOT}.{base}"
    above = {target for target in GRAPH[name] if target.removeprefix(f"{ROOT}.").split(".")[0] not in PURE_BASE}
    assert not above, f"{name} imports {sorted(above)}"
    tree = MODULES[name]
    third = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    } | {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not third & {"airflow", "requests", "httpx", "urllib3", "tenacity", "boto3"}, f"{name} imports {third}"


def test_no_module_re_exports_a_name_that_lives_elsewhere() -> None:
    shims: list[str] = []
    for name, tree in MODULES.items():
        if (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists():
            continue  # a package's __init__ is its public face (``from ...operators import X``)
        exported: list[str] = []
        defined: set[str] = set()
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        defined.add(target.id)
                        if target.id == "__all__" and isinstance(node.value, (ast.List, ast.Tuple)):
                            exported = [str(elt.value) for elt in node.value.elts if isinstance(elt, ast.Constant)]
        if any(isinstance(node, ast.FunctionDef) and node.name == "__getattr__" for node in tree.body):
            shims.append(f"{name}: a module __getattr__ (lazy re-export)")
        ours = {  # names this module imports from another module of the package
            alias.asname or alias.name
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(ROOT))
            for alias in node.names
        }
        shims.extend(f"{name}: __all__ re-exports {item!r}, which lives elsewhere" for item in exported if item in ours)
    assert not shims, "\n".join(shims)
