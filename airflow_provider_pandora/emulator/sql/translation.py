"""Translation of the Spark SQL spellings SQLite lacks (casts, ``current_timestamp``, map access...)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from airflow_provider_pandora.emulator.sql.tokens import Token, significant, tokenize

_CAST_TYPES = {"STRING": "TEXT", "LONG": "INTEGER", "BIGINT": "INTEGER", "BOOLEAN": "INTEGER", "DOUBLE": "REAL"}
_NOW_FUNCTIONS = {"CURRENT_TIMESTAMP": "now", "CURRENT_DATE": "_pandora_current_date"}


def translate(code: str, *, map_fields: Iterable[str] = (), tables: Iterable[str] = ()) -> tuple[str, dict[str, str]]:
    """Rewrite Spark-isms outside literals: ``rlike``, ``cast(x as string)``, ``current_timestamp()``,
    ``col['key']`` and ``mapcol.key`` (for map fields) into SQLite.

    Also returns the names Spark gives unaliased map lookups (``profile.position`` -> ``position``), keyed
    by the rewritten expression, which is what SQLite names such a column.
    """
    tokens = tokenize(code)
    maps = {name.lower() for name in map_fields}
    table_names = {name.lower() for name in tables}
    sig = significant(tokens)
    nxt = {sig[p]: (sig[p + 1] if p + 1 < len(sig) else None) for p in range(len(sig))}
    out: list[str] = []
    renames: dict[str, str] = {}
    cast_depths: list[int] = []  # paren depth of each open CAST(
    depth = 0
    skip_until = -1
    for index, tok in enumerate(tokens):
        if index <= skip_until:
            continue
        word = tok.word
        following = nxt.get(index)
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            if cast_depths and cast_depths[-1] == depth:
                cast_depths.pop()
            depth -= 1
        if tok.kind == "ident":
            if word == "RLIKE":
                out.append("REGEXP")
                continue
            if word == "CAST" and following is not None and tokens[following].text == "(":
                cast_depths.append(depth + 1)
            elif word in _CAST_TYPES and cast_depths and cast_depths[-1] == depth and _prev_word(out) == "AS":
                out.append(_CAST_TYPES[word])
                continue
            if word in _NOW_FUNCTIONS and following is not None and tokens[following].text == "(":
                close = nxt.get(following)
                if close is not None and tokens[close].text == ")":
                    out.append(_NOW_FUNCTIONS[word] + "()")
                    skip_until = close
                    continue
        if tok.kind in ("ident", "quoted") and (index == 0 or tokens[index - 1].text != "."):
            rewritten = _map_access(tokens, index, nxt, maps, table_names)
            if rewritten is not None:
                text, last, leaf = rewritten
                renames[text] = leaf
                out.append(text)
                skip_until = last
                continue
        out.append(tok.text)
    return "".join(out), renames


def _prev_word(out: Sequence[str]) -> str:
    for text in reversed(out):
        if text.strip():
            return text.upper()
    return ""


def _map_access(
    tokens: Sequence[Token], index: int, nxt: Mapping[int, int | None], maps: set[str], tables: set[str]
) -> tuple[str, int, str] | None:
    """``a.b.c`` (``a`` or ``t.a`` a map field) and ``a['k'][0]`` -> ``json_extract(a, '$."b"."c"')``."""
    parts = [index]
    cur = index
    while True:
        dot = nxt.get(cur)
        name = nxt.get(dot) if dot is not None else None
        if dot is None or name is None or tokens[dot].text != "." or tokens[name].kind not in ("ident", "quoted"):
            break
        parts.append(name)
        cur = name
    names = [tokens[i].name.lower() for i in parts]
    # which part is the map column: the first, or the second after a table name or alias
    if len(names) >= 2 and names[1] in maps and (names[0] in tables or names[0] not in maps):
        split = 2
    elif names[0] in maps:
        split = 1
    else:
        split = len(names)
    column = ".".join(tokens[i].text for i in parts[:split])
    path = [f'."{tokens[i].name}"' for i in parts[split:]]
    leaf = tokens[parts[-1]].name
    last = parts[split - 1] if not path else parts[-1]
    # subscripts: col['key'] and col[0]
    while True:
        open_ = nxt.get(last)
        key = nxt.get(open_) if open_ is not None else None
        close = nxt.get(key) if key is not None else None
        if open_ is None or key is None or close is None or tokens[open_].text != "[" or tokens[close].text != "]":
            break
        if tokens[key].kind == "string":
            leaf = tokens[key].text[1:-1].replace("''", "'")
            path.append('."' + leaf.replace('"', '\\"') + '"')
        elif tokens[key].kind == "number" and tokens[key].text.isdigit():
            path.append(f"[{tokens[key].text}]")
            leaf = f"{leaf}_{tokens[key].text}"
        else:
            break
        last = close
    if not path:
        return None
    json_path = "$" + "".join(path)
    return f"json_extract({column}, '{json_path.replace(chr(39), chr(39) * 2)}')", last, leaf
