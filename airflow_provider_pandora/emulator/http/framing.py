"""Request and response framing shared by the endpoints: the parsed :class:`Request`, the :class:`Response`
and the two answers every endpoint gives, :func:`ok` and :func:`error_response`.

Errors are ``{"error": "Exxxxx: message"}`` with ``Content-Type: application/json``, as the service answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_pandora.emulator.core.errors import ApiError
from airflow_provider_pandora.emulator.values import json_default

JSON_TYPE = "application/json"


@dataclass
class Request:
    """One parsed request: path parameters from the route, the query, the body and the headers."""

    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def header(self, name: str, default: str = "") -> str:
        """The header's value, or ``default`` when absent (an empty header stays ``""``)."""
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
