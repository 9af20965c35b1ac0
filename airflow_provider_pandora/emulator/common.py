"""Request, response and error types shared by the emulator's resource handlers.

Handlers are plain functions ``(engine, request) -> Response``; they raise :class:`ApiError` to answer
with the service's ``{"error": "Exxxxx: message"}`` body. Statuses come from
:data:`airflow_provider_pandora.exceptions.ERROR_CODES`, the table the client maps responses through,
so the emulator and the hook cannot disagree about what a code means.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_pandora.exceptions import ERROR_CODES, PandoraValidationError
from airflow_provider_pandora.wire import format_datetime

if TYPE_CHECKING:
    from airflow_provider_pandora.emulator.engine import Engine

JSON_TYPE = "application/json"


class ApiError(Exception):
    """An error answer: ``status`` and ``{"error": "<code>: <message>"}``."""

    def __init__(self, code: str | None, message: str, *, status: int | None = None) -> None:
        self.code = code
        self.message = message
        if status is None:
            status = ERROR_CODES[code][0] if code in ERROR_CODES else 500
        self.status = status
        super().__init__(self.text)

    @property
    def text(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message

    @classmethod
    def from_validation(cls, err: PandoraValidationError, default_code: str = "E18007") -> ApiError:
        """Map a shared validation failure (which carries the service's code) onto an answer."""
        return cls(err.code or default_code, str(err))


def api_error(code: str, message: str | None = None) -> ApiError:
    """``ApiError`` with the table's status and, unless given, the table's message."""
    return ApiError(code, message if message is not None else ERROR_CODES[code][1])


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
    status: int = 200
    body: bytes = b"{}"
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def ok(payload: Any = None, *, headers: dict[str, str] | None = None) -> Response:
    """A 200 with a JSON body (``{}`` for mutating calls, as the service answers them)."""
    body = json.dumps({} if payload is None else payload, default=json_default, ensure_ascii=False)
    return Response(200, body.encode("utf-8"), headers=headers or {})


def error_response(err: ApiError) -> Response:
    return Response(err.status, json.dumps({"error": err.text}, ensure_ascii=False).encode("utf-8"))


def rfc3339(timestamp: float) -> str:
    """Unix seconds as RFC 3339 UTC text with milliseconds, e.g. ``2024-05-01T08:00:00.123Z``."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_rfc3339(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def nonempty(body: Mapping[str, Any], key: str) -> Any:
    """``body[key]`` with JSON nulls treated as absent (the official SDKs send nulls for unset fields)."""
    value = body.get(key)
    return None if value == "" else value


Handler = Callable[["Engine", Request], Response]
