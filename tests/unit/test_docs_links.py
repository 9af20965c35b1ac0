"""tools/docs_links.py, which `make docs` runs on the built HTML: it finds a missing page or anchor, offline."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pandora_docs_links_tool", ROOT / "tools" / "docs_links.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


docs_links = _load_tool()


def _site(tmp_path: Path, index_body: str) -> Path:
    (tmp_path / "howto").mkdir()
    (tmp_path / "index.html").write_text(f'<html><body><section id="top">{index_body}</section></body></html>')
    (tmp_path / "howto" / "groups.html").write_text(
        '<html><body><section id="parameters"><a href="../index.html#top">up</a></section>'
        '<img src="../_static/logo.png"></body></html>'
    )
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "logo.png").write_bytes(b"")
    return tmp_path


def test_resolving_links_pass(tmp_path: Path, capsys) -> None:
    site = _site(
        tmp_path,
        '<a href="howto/groups.html#parameters">p</a> <a href="#top">t</a> <a href="https://example.com/x#y">e</a>'
        ' <a href="mailto:ops@example.com">m</a> <a href="howto/">dir</a>',
    )
    (site / "howto" / "index.html").write_text("<html></html>")
    assert docs_links.broken_links(site) == []
    assert docs_links.main([str(site)]) == 0
    assert "every internal one resolves" in capsys.readouterr().out


def test_a_missing_page_or_anchor_is_named(tmp_path: Path, capsys) -> None:
    site = _site(
        tmp_path, '<a href="howto/jobs.html">j</a> <a href="howto/groups.html#nope">n</a> <a href="#gone">g</a>'
    )
    problems = docs_links.broken_links(site)
    assert len(problems) == 3
    assert any("no file howto/jobs.html" in p for p in problems)
    assert any("no id 'nope' in howto/groups.html" in p for p in problems)
    assert any("no id 'gone' in index.html" in p for p in problems)
    assert docs_links.main([str(site)]) == 1
    assert "3 broken internal link(s)" in capsys.readouterr().err


def test_the_readmes_absolute_links_must_name_built_pages(tmp_path: Path) -> None:
    (tmp_path / "html").mkdir()
    site = _site(tmp_path / "html", "")
    readme = tmp_path / "README.md"
    base = "https://docs.example/en/latest/"
    readme.write_text(
        f"[a]({base}howto/groups.html#parameters) <{base}> [b]({base}howto/jobs.html) [c]({base}index.html#nope)\n"
        "[elsewhere](https://example.com/howto/jobs.html)\n"
    )
    problems = docs_links.broken_published_links(site, base, readme)
    assert problems == [
        f"README.md:1: {base}howto/jobs.html (the build has no howto/jobs.html)",
        f"README.md:1: {base}index.html#nope (no id 'nope' in index.html)",
    ]
    assert docs_links.main([str(site), "--published", base, "--markdown", str(readme)]) == 1
