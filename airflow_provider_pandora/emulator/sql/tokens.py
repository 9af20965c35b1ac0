"""Tokenizing: every rewrite of the SQL happens outside string literals and comments."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
  | (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")*"|`(?:[^`]|``)*`)
  | (?P<placeholder>\$\{[^}\n]*\}|\$\([^)\n]*\))
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>->>|->|\|\||<=|>=|<>|!=|==)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass
class Token:
    """A lexical token of SQL: its kind (``ident``, ``string``, ``number``, ``comment``...) and its text as written."""

    kind: str
    text: str

    @property
    def word(self) -> str:
        """Keyword comparison form: upper-case identifiers, anything else verbatim."""
        return self.text.upper() if self.kind == "ident" else self.text

    @property
    def name(self) -> str:
        """An identifier's name with quotes removed."""
        if self.kind == "quoted":
            quote = self.text[0]
            return self.text[1:-1].replace(quote * 2, quote)
        return self.text


def tokenize(code: str) -> list[Token]:
    """Split SQL into tokens, comments and whitespace included; an unterminated quote ends as one ``other`` token."""
    out: list[Token] = []
    pos = 0
    while pos < len(code):
        match = _TOKEN_RE.match(code, pos)
        if match is None:  # an unterminated quote: leave the rest to SQLite, which names the problem
            out.append(Token("other", code[pos:]))
            break
        kind = match.lastgroup or "other"
        out.append(Token(kind, match.group()))
        pos = match.end()
    return out


def significant(tokens: Sequence[Token]) -> list[int]:
    """Indexes of the tokens that are not whitespace or comments."""
    return [i for i, tok in enumerate(tokens) if tok.kind not in ("ws", "comment")]
