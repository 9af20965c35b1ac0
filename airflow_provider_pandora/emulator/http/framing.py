"""Request and response framing shared by the endpoints: the parsed :class:`Request`, the :class:`Response`
and the two answers every endpoint gives, :func:`ok` and :func:`error_response`.

Errors are ``{"error": "Exxxxx: message"}`` with ``Content-Type: application/json``, as the service answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_pandora.emulator.core.errors import ApiError
from airflow_provider_pandora.emulator.values import json_default

JSON_TYPE = "application/json"


class Headers(Mapping[str, str]):
    """Request header fields, looked up case-insensitively (RFC 9110 §5.1: field names are case-insensitive).

    Go's ``net/http`` sends ``Content-Md5``, HTTP/2 front ends send ``content-encoding``: every spelling must
    reach the same value. A name sent twice keeps its first value here (the server refuses duplicates of the
    framing and credential fields before a request gets this far); :meth:`get_all` lists every value.
    """

    def __init__(self, fields: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = fields.items() if isinstance(fields, Mapping) else fields
        self._values: dict[str, list[str]] = {}
        self._names: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            self._values.setdefault(key, []).append(value)
            self._names.setdefault(key, name)

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()][0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._names.values())

    def __len__(self) -> int:
        return len(self._values)

    def get_all(self, name: str) -> list[str]:
        """Every value sent under ``name`` (any spelling), in the order received."""
        return list(self._values.get(name.lower(), ()))

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass
class Request:
    """One parsed request: path parameters from the route, the query, the body and the headers."""

    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            self.headers = Headers(self.headers)

    def header(self, name: str, default: str = "") -> str:
        """The header's value in any spelling of its name, or ``default`` when absent (an empty one stays ``""``)."""
        value = self.headers.get(name)
        return default if value is None else value

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; an empty body is ``{}`` (unknown keys and nulls are the caller's to skip)."""
        if not self.body.strip():
            return {}
        try:
            value = json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as err:
            raise ApiError("E18007", f"request body is not valid JSON: {err}") from None
        if not isinstance(value, dict):
            raise ApiError("E18007", f"request body must be a JSON object, not {type(value).__name__}")
        return value


@dataclass
class Response:
    """An answer to send: status, body, content type and extra headers (``X-Reqid`` is added when sent)."""

    status: int = 200
    body: bytes = b"{}"
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def ok(payload: Any = None, *, headers: dict[str, str] | None = None) -> Response:
    """A 200 with a JSON body (``{}`` for mutating calls, as the service answers them)."""
    body = json.dumps({} if payload is None else payload, default=json_default, ensure_ascii=False)
    return Response(200, body.encode("utf-8"), headers=headers or {})


def error_response(err: ApiError) -> Response:
    """The service's error form for ``err``: its HTTP status with ``{"error": "Exxxxx: ..."}``."""
    return Response(err.status, json.dumps({"error": err.text}, ensure_ascii=False).encode("utf-8"))
