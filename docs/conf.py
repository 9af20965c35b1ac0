"""Sphinx configuration of the provider's documentation (``make docs``; Read the Docs runs the same build)."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# autodoc imports the provider, which imports Airflow: give Airflow a throwaway home (no airflow.cfg is written
# into the user's ~/airflow), and no example DAGs.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="pandora-docs-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from airflow_provider_pandora import __version__  # noqa: E402

project = "airflow-provider-pandora"
author = "airflow-provider-pandora developers"
copyright = "the airflow-provider-pandora developers, Apache-2.0"
version = release = __version__

#: Where the docs are published (.readthedocs.yaml) and the code lives; the README links to both.
DOCS_URL = "https://airflow-provider-pandora.readthedocs.io/en/latest/"
REPO_URL = "https://github.com/airflow-provider-pandora/airflow-provider-pandora"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.extlinks",
    "sphinx.ext.viewcode",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
# The two fact files the code cites (docs/sdk-facts.md §N, docs/seed-api.md) stay where they are and are built
# through reference/*.rst, which include them.
exclude_patterns = ["_build", "sdk-facts.md", "seed-api.md"]
templates_path: list[str] = []

# ---- HTML --------------------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"airflow-provider-pandora {release}"
html_baseurl = DOCS_URL
html_static_path: list[str] = []
html_show_sourcelink = False
html_theme_options = {"source_repository": REPO_URL, "source_branch": "main", "source_directory": "docs/"}
pygments_style = "sphinx"
pygments_dark_style = "monokai"

# ---- cross references ---------------------------------------------------------------------------------------
# `make docs` runs with -n: every reference must resolve. References to our own objects are checked; those to
# other projects' objects (Airflow, the standard library, requests, ...) are not, because resolving them would
# need intersphinx inventories fetched over the network.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(?!airflow_provider_pandora\b).*"),
    # private modules (a leading underscore) and the emulator's server internals are not documented pages
    (r"py:.*", r"airflow_provider_pandora(\.\w+)*\._\w+(\..*)?"),
    (r"py:.*", r"airflow_provider_pandora\.emulator\.(?!testing\b).*"),
    # wire re-exports the exception, which the Exceptions page documents as airflow_provider_pandora.exceptions
    ("py:class", "airflow_provider_pandora.wire.PointError"),
]
# `repo:path` links a file of the repository on GitHub (the README, example DAGs, the emulator's reference).
extlinks = {"repo": (f"{REPO_URL}/blob/main/%s", "%s")}
myst_heading_anchors = 3
# seed-api.md, the spec as the user gave it, labels some code fences with words that are no lexer (POST, curl).
# and its headings start at H3.
suppress_warnings = ["misc.highlighting_failure", "myst.header"]

# ---- autodoc ------------------------------------------------------------------------------------------------
autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autodoc_class_signature = "mixed"
autosummary_generate = False


def _skip_private(app: object, what: str, name: str, obj: object, skip: bool, options: object) -> bool | None:
    """Leave out private helpers (a leading underscore) that a module's ``__all__`` does not name."""
    if re.match(r"_(?!_)", name):
        return True
    return None


def setup(app: object) -> None:
    """Register the skip rule."""
    app.connect("autodoc-skip-member", _skip_private)  # type: ignore[attr-defined]
