"""Which JSON decoder the ``jsonl`` transfer uses: ``msgspec`` when importable, else the standard library.

Parsing is most of a ``jsonl`` transfer's cost, and ``msgspec`` decodes a line several times faster
than ``json.loads``. Airflow 3's Task SDK already depends on it; on Airflow 2.11 it comes with the
``fast`` extra (``pip install "airflow-provider-pandora[fast]"``).

The fast decoder is only ever *tried*: for anything it does not accept the caller takes its
standard-library path, which decides and explains. So every error
message (line number, field, reason) is the standard library's on both paths, and a line both accept
decodes to the same value (``tests/transfers`` property-tests both paths). Lines ``msgspec`` refuses
but ``json`` accepts (``NaN``, ``1e400``, lone surrogates, non-JSON whitespace) therefore still work.

``AIRFLOW_PROVIDER_PANDORA_JSON=stdlib`` in the environment (read at import, inherited by encoding
processes) or :func:`use` / :func:`using` force the standard library, for tests and benchmarks.

Which decoder really ran is counted by the reader, not inferred from the setting: a converter built by
``_encoding.jsonl_converter`` carries its :class:`Decoding` (the decoder, fixed when it is built, and the
lines it handed to the standard library), and ``_encoding.encode_lines`` turns that into lines per decoder
once per block (``Encoded.decoded``), which encoding processes return with their batches and the
transfer adds up (``Transfer.decoded``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

ENV = "AIRFLOW_PROVIDER_PANDORA_JSON"

_decode: Callable[[bytes], Any] | None
try:
    import msgspec

    _decode = msgspec.json.Decoder().decode
except ImportError:  # pragma: no cover - depends on the environment (Airflow 2.11 without the extra)
    _decode = None

AVAILABLE = _decode is not None
"""Whether ``msgspec`` is importable here."""
ACTIVE = "msgspec" if AVAILABLE and os.environ.get(ENV, "").lower() != "stdlib" else "stdlib"
"""The decoder converters built from now on use: ``"msgspec"`` or ``"stdlib"``."""


def use(name: str) -> str:
    """Switch the decoder for converters built after this call (``"msgspec"`` or ``"stdlib"``); returns the old one.

    Raises ``ValueError`` for ``"msgspec"`` when it is not installed.
    """
    global ACTIVE
    if name not in ("msgspec", "stdlib"):
        raise ValueError(f"unknown JSON decoder {name!r}; expected 'msgspec' or 'stdlib'")
    if name == "msgspec" and not AVAILABLE:
        raise ValueError("msgspec is not installed (pip install 'airflow-provider-pandora[fast]')")
    previous, ACTIVE = ACTIVE, name
    os.environ[ENV] = name  # encoding processes (spawned) import this module afresh and read it
    return previous


@contextmanager
def using(name: str) -> Iterator[None]:
    """``with using("stdlib"):`` the standard library for converters built inside; restores the previous one."""
    previous = use(name)
    try:
        yield
    finally:
        use(previous)


def fast_decoder() -> Callable[[bytes], Any] | None:
    """The active fast decoder, ``bytes -> value`` (raises on anything it refuses; the caller then asks
    the standard library); ``None`` when the standard library is active."""
    return _decode if ACTIVE == "msgspec" else None


def loads(raw: bytes) -> Any:
    """One JSON document from ``raw`` with the active decoder: what ``json.loads`` returns, or its error."""
    if _decode is not None and ACTIVE == "msgspec":
        try:
            return _decode(raw)
        except Exception:  # msgspec.DecodeError, RecursionError, ...: the standard library decides
            return json.loads(raw)
    return json.loads(raw)


@dataclass
class Decoding:
    """The JSON decoder of one ``jsonl`` converter, fixed when it is built, and the lines it handed on.

    ``refused`` counts the lines the ``msgspec`` path handed to the standard library (it refused them, or
    they were not an object): the standard library decided those. It only grows on that slow path, so the
    hot path counts nothing per line; the reader derives lines per decoder once per block from it.
    """

    name: str
    """``"msgspec"`` or ``"stdlib"``: the decoder each line is given first."""
    decode: Callable[[bytes], Any] | None
    """The fast decoder (``None``: the standard library only)."""
    refused: int = 0


def decoding() -> Decoding:
    """The active decoder, for a converter being built now."""
    decode = fast_decoder()
    return Decoding("msgspec" if decode is not None else "stdlib", decode)
