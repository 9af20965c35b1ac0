"""What docs/seed-api.md (normative) documents, read from the file itself: its endpoints and its error table.

Every ``### heading`` whose request syntax names ``METHOD /v2/...`` is one documented call; the conformance
cases say which ones they replay (:func:`replays`), and ``test_coverage.py`` fails when a call has none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

SEED = Path(__file__).resolve().parents[2] / "docs" / "seed-api.md"

_REQUEST = re.compile(r"(?<![\w-])(GET|POST|PUT|DELETE) +(/v2[^\s`]*)")
_GLUED = re.compile(r"(Content-Type|Authorization).*$")  # the seed glues the next header onto some paths
_ERROR_ROW = re.compile(r"^\|\s*(\d{3})\s*\|\s*(E\d+):")
_HEADING = re.compile(r"(?:^|```)### (.+)$")  # some headings follow a code block's closing fence on its line


@dataclass(frozen=True)
class SeedCall:
    """One documented call: the section heading, the method and the path with ``{}`` for each placeholder."""

    heading: str
    method: str
    path: str
    line: int

    @property
    def key(self) -> tuple[str, str, str]:
        """What a case names to claim this call."""
        return (self.heading, self.method, self.path)


def normalise(path: str) -> str:
    """``/v2/repos/<RepoName>jobs/<JobName>?page=1`` -> ``/v2/repos/{}/jobs/{}``: placeholders, the seed's
    missing ``/`` before ``jobs`` and the query do not tell calls apart."""
    path = _GLUED.sub("", path.split("?", 1)[0]).rstrip("/")
    path = re.sub(r">(?=[a-z])", ">/", path)
    return re.sub(r"<[^>]*>", "{}", path)


def seed_calls(text: str | None = None) -> list[SeedCall]:
    """Every (heading, method, path) the seed's request syntax blocks name, ``start|stop`` split in two.

    Only the syntax blocks count, not the ``curl`` examples (one of them says POST for the PUT it documents).
    """
    lines = (SEED.read_text(encoding="utf-8") if text is None else text).splitlines()
    calls: list[SeedCall] = []
    heading = ""
    for number, line in enumerate(lines, start=1):
        if found := _HEADING.search(line):
            heading = found.group(1).strip()
            continue
        if "curl " in line:
            continue
        for method, raw in _REQUEST.findall(line):
            path = normalise(raw)
            for variant in _alternatives(path):
                call = SeedCall(heading, method, variant, number)
                if call.key not in {c.key for c in calls}:
                    calls.append(call)
    return calls


def _alternatives(path: str) -> list[str]:
    head, _, last = path.rpartition("/")
    return [f"{head}/{option}" for option in last.split("|")] if "|" in last else [path]


def seed_error_statuses(text: str | None = None) -> dict[str, int]:
    """The seed's error table (错误代码及相关说明): code -> HTTP status."""
    source = SEED.read_text(encoding="utf-8") if text is None else text
    return {
        m.group(2): int(m.group(1)) for line in source.splitlines() if (m := _ERROR_ROW.match(line.replace("\t", " ")))
    }


# ---- the replay registry -------------------------------------------------------------------------------
#: The SDK sources read for the citations: repository, file, commit of the stored version read.
SOURCES: dict[str, tuple[str, str]] = {
    "go:pipeline/api.go": ("qiniu/pandora-go-sdk", "0392c2f"),
    "go:pipeline/service.go": ("qiniu/pandora-go-sdk", "0392c2f"),
    "go:pipeline/models.go": ("qiniu/pandora-go-sdk", "0392c2f"),
    "go:base/const.go": ("qiniu/pandora-go-sdk", "0392c2f"),
    "go:base/request/request.go": ("qiniu/pandora-go-sdk", "4ac7396"),
    "go:base/sign.go": ("qiniu/pandora-go-sdk", "a5b9ab0"),
    "java:pipeline/PipelineClient.java": ("qiniu/pandora-java-sdk", "201d452"),
    "java:pipeline/repo/CreateRepoInput.java": ("qiniu/pandora-java-sdk", "0f9465c"),
    "java:pipeline/repo/CreateExportInput.java": ("qiniu/pandora-java-sdk", "0f9465c"),
    "java:pipeline/repo/RepoSchemaEntry.java": ("qiniu/pandora-java-sdk", "22278c5"),
    "java:pipeline/sender/DataSender.java": ("qiniu/pandora-java-sdk", "0f533ff"),
    "java:pipeline/points/Point.java": ("qiniu/pandora-java-sdk", "0f533ff"),
    "java:common/PandoraClientImpl.java": ("qiniu/pandora-java-sdk", "0f533ff"),
    "java:http/Client.java": ("qiniu/pandora-java-sdk", "0f533ff"),
    "java:http/HttpCommon.java": ("qiniu/pandora-java-sdk", "0f533ff"),
    "java:http/Response.java": ("qiniu/pandora-java-sdk", "0f533ff"),
    "java:util/Auth.java": ("qiniu/pandora-java-sdk", "0f533ff"),
    "seed:docs/seed-api.md": ("this repository", "docs/seed-api.md"),
}

_CITATION = re.compile(r"^(go|java|seed):([\w./-]+):(\d+)$")


@dataclass(frozen=True)
class Replay:
    """A case: the seed call it replays and where the request it sends comes from (``go:<file>:<line>``...)."""

    call: tuple[str, str, str]
    cites: tuple[str, ...]
    test: str


#: Every conformance case, by the test function that replays it.
REPLAYS: dict[str, Replay] = {}

F = TypeVar("F", bound=Callable[..., Any])


def replays(heading: str, request: str, *cites: str) -> Callable[[F], F]:
    """Mark a test as the replay of the seed call ``request`` (``"POST /v2/groups/<GroupName>"``) under
    ``heading``, citing the SDK (or seed) lines its request is built from."""
    method, _, path = request.partition(" ")

    def mark(test: F) -> F:
        REPLAYS[f"{test.__module__}.{test.__name__}"] = Replay((heading, method, normalise(path)), cites, test.__name__)
        return test

    return mark


def citation_problems(cite: str) -> list[str]:
    """Why ``cite`` is not ``<go|java|seed>:<file in SOURCES>:<line>``; empty when it is."""
    match = _CITATION.match(cite)
    if match is None:
        return [f"{cite!r} is not <go|java|seed>:<file>:<line>"]
    if f"{match.group(1)}:{match.group(2)}" not in SOURCES:
        return [f"{cite!r} cites a file that is not in SOURCES"]
    return []
