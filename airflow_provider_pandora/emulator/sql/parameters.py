"""The ``-- emulator:`` directives and ``${param}`` / ``$(param)`` substitution, with the magic time variables."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from airflow_provider_pandora.emulator.sql.errors import SqlError
from airflow_provider_pandora.emulator.sql.tokens import tokenize
from airflow_provider_pandora.emulator.values import time_variables

SYSTEM_VARIABLES = ("year", "mon", "day", "hour", "min", "sec", "date", "now")
"""Magic variables every job's code may use without declaring a param (the service's batch API documents them)."""
DIRECTIVE_KEYS = ("sleep", "fail")


_DIRECTIVE_RE = re.compile(r"\bemulator\s*:(?P<body>.*)", re.IGNORECASE | re.DOTALL)
#: "emulator" then a directive key without the colon between them: a directive the user meant but misspelt.
_MISSPELT_RE = re.compile(r"\bemulator\b(?!\s*:)\W*(?:\w+\W+)??(?:sleep|fail)\s*=", re.IGNORECASE)
DIRECTIVE_FORM = '-- emulator: sleep=3 fail="message"'
"""How a directive is written (in a ``--`` or ``/* */`` comment, on its own line or after SQL)."""
_DIRECTIVE_PAIR_RE = re.compile(r'\s*(?P<key>[A-Za-z_]\w*)\s*=\s*(?P<value>"(?:[^"\\]|\\.)*"|[^\s"]+)\s*')
PLACEHOLDER_RE = re.compile(r"\$\{\s*(?P<brace>[^}\n]*?)\s*\}|\$\(\s*(?P<paren>[^)\n]*?)\s*\)")


def directives(code: str) -> dict[str, str]:
    """Emulator directives from ``-- emulator: sleep=3 fail="message"`` in any SQL comment.

    They let tests and demos make a run last ``sleep`` seconds or fail with ``fail``'s message; the real
    service sees an ordinary comment. A directive may stand on its own line, trail a line of SQL or sit in a
    ``/* */`` comment; everything after ``emulator:`` to the end of the comment must be ``key=value`` pairs.
    ``emulator sleep=3`` (no colon) is refused with the right form rather than ignored. Later ones override
    earlier ones; text in string literals is never a directive.
    """
    found: dict[str, str] = {}
    for token in tokenize(code):
        if token.kind != "comment":
            continue
        text = token.text[2:] if token.text.startswith("--") else token.text[2:].removesuffix("*/")
        line = _DIRECTIVE_RE.search(text)
        if line is None:
            if _MISSPELT_RE.search(text):
                raise SqlError(f"emulator directive {token.text.strip()!r} lacks its colon; write: {DIRECTIVE_FORM}")
            continue
        body = line.group("body")
        pos = 0
        while pos < len(body):
            if not body[pos:].strip():
                break
            pair = _DIRECTIVE_PAIR_RE.match(body, pos)
            if pair is None:
                raise SqlError(
                    f"emulator directive {line.group().strip()!r} is malformed at {body[pos:].strip()[:30]!r}; "
                    f"write key=value pairs such as: {DIRECTIVE_FORM}"
                )
            key, value = pair.group("key").lower(), pair.group("value")
            if key not in DIRECTIVE_KEYS:
                raise SqlError(f"unknown emulator directive {key!r}; known: {', '.join(DIRECTIVE_KEYS)}")
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            found[key] = value
            pos = pair.end()
    if "sleep" in found:
        try:
            seconds = float(found["sleep"])
        except ValueError:
            seconds = -1.0
        if not (math.isfinite(seconds) and seconds >= 0):
            raise SqlError(f"emulator directive sleep={found['sleep']!r} must be a number of seconds >= 0")
    return found


def substitute_params(code: str, params: Mapping[str, str], *, now: datetime | None = None) -> str:
    """Replace a job's magic variables, written ``$(name)`` (the docs' form) or ``${name}``, with their text.

    ``params`` are the job's params (defaults merged with the values given at start); the system variables
    ``year mon day hour min sec date now`` come from ``now`` (default: the current time) in Beijing time,
    the service's clock, unless a param of the same name overrides them. Values are inserted as written,
    so quote them in the SQL where a string is meant (``where day = '$(date)'``). Unknown names raise
    :class:`SqlError` naming all of them.
    """
    system: dict[str, str] | None = None
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        nonlocal system
        name = match.group("brace") if match.group("brace") is not None else match.group("paren")
        if name in params:
            return str(params[name])
        if name in SYSTEM_VARIABLES:
            if system is None:
                system = time_variables(now or datetime.now(UTC))
            return system[name]
        if name not in missing:
            missing.append(name)
        return match.group()

    result = PLACEHOLDER_RE.sub(replace, code)
    if missing:
        known = sorted(set(params) | set(SYSTEM_VARIABLES))
        raise SqlError(
            f"the SQL uses undefined param(s) {', '.join(repr(m) for m in missing)}; "
            f"declare them in the job's params or pass them at start (known: {', '.join(known)})"
        )
    return result
