"""Check that every internal link of the built HTML docs resolves, offline (`make docs` runs it).

Sphinx's ``linkcheck`` builder fetches every URL over the network; this reads only the built files. For every
``href`` and ``src`` in every page that is not an absolute URL (``http:``, ``https:``, ``mailto:``, ``data:``,
``//host``), the file it names must exist in the build, and a ``#fragment`` must be the ``id`` (or ``name``) of an
element in that file. Sphinx's ``-n`` already checks the cross-references it resolves; this also catches a
Markdown or raw link that points at a file or heading the build does not have.

With ``--published URL --markdown FILE ...`` it also checks the absolute links those Markdown files (the README,
which the package index renders, so its links are absolute) make into the published docs at ``URL``: each must name
a page, and an anchor, of this build.

    python tools/docs_links.py build/docs/html [--published URL --markdown README.md]
"""

from __future__ import annotations

import argparse
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

EXTERNAL = ("http:", "https:", "mailto:", "data:", "javascript:", "tel:", "//")


class _Page(HTMLParser):
    """The ids an HTML page defines and the links it makes (attribute, value, line)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, str, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (name == "name" and tag == "a"):
                self.ids.add(value)
            elif name in ("href", "src"):
                self.links.append((name, value, self.getpos()[0]))


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def broken_links(root: Path) -> list[str]:
    """Every internal link under ``root`` that names a missing file or anchor, as ``page:line: href (why)``."""
    pages: dict[Path, _Page] = {path.resolve(): _parse(path) for path in sorted(root.rglob("*.html"))}
    problems: list[str] = []
    for path, page in pages.items():
        for _attr, href, line in page.links:
            if not href or href.startswith(EXTERNAL):
                continue
            parts = urlsplit(href)
            if parts.scheme:
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            where = f"{path.relative_to(root.resolve())}:{line}: {href}"
            if target.is_dir():
                target = target / "index.html"
            if not target.is_relative_to(root.resolve()):
                problems.append(f"{where} (points outside the build)")
                continue
            if not target.exists():
                problems.append(f"{where} (no file {target.relative_to(root.resolve())})")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if fragment not in ids:
                    problems.append(f"{where} (no id {fragment!r} in {target.relative_to(root.resolve())})")
    return problems


_MARKDOWN_LINK = re.compile(r"\]\((?P<url>[^)\s]+)\)|<(?P<bare>https?://[^>\s]+)>")


def broken_published_links(root: Path, published: str, markdown: Path) -> list[str]:
    """Every link of ``markdown`` into ``published`` that names a page or anchor this build does not have."""
    base = published if published.endswith("/") else published + "/"
    problems: list[str] = []
    for number, line in enumerate(markdown.read_text().splitlines(), start=1):
        for match in _MARKDOWN_LINK.finditer(line):
            url = match.group("url") or match.group("bare")
            if not url.startswith(base):
                continue
            parts = urlsplit(url[len(base) :])
            target = (root / unquote(parts.path)) if parts.path else root / "index.html"
            if target.is_dir():
                target = target / "index.html"
            where = f"{markdown.name}:{number}: {url}"
            if not target.is_file():
                problems.append(f"{where} (the build has no {target.relative_to(root)})")
            elif parts.fragment and unquote(parts.fragment) not in _parse(target).ids:
                problems.append(f"{where} (no id {parts.fragment!r} in {target.relative_to(root)})")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Print every broken internal link; fail if there is one."""
    parser = argparse.ArgumentParser(prog="tools/docs_links.py", description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the built HTML (build/docs/html)")
    parser.add_argument("--published", help="the URL the docs are published at")
    parser.add_argument("--markdown", type=Path, action="append", default=[], help="a file linking to --published")
    args = parser.parse_args(argv)
    if not (args.root / "index.html").exists():
        print(f"{args.root}: no index.html; build the docs first (make docs)", file=sys.stderr)
        return 1
    problems = broken_links(args.root)
    if args.published:
        for markdown in args.markdown:
            problems += broken_published_links(args.root, args.published, markdown)
    for problem in problems:
        print(problem, file=sys.stderr)
    count = sum(len(_parse(p).links) for p in args.root.rglob("*.html"))
    pages = len(list(args.root.rglob("*.html")))
    if problems:
        print(f"{len(problems)} broken internal link(s) in {args.root}", file=sys.stderr)
        return 1
    also = f"; so does every link of {', '.join(m.name for m in args.markdown)} into them" if args.markdown else ""
    print(f"tools/docs_links.py: {pages} pages, {count} links and sources, every internal one resolves{also}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
