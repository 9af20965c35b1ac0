"""One exception hierarchy for everything the Pandora API (or our local checks) can refuse.

The code table below is the single source for "which E-code means what, with which HTTP status":
the hook maps responses through it and the emulator answers with it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ERROR_CODES",
    "BadLine",
    "BadLineError",
    "KodoError",
    "PandoraAlreadyExistsError",
    "PandoraApiError",
    "PandoraAuthError",
    "PandoraCertificateError",
    "PandoraConflictError",
    "PandoraError",
    "PandoraInvalidRequestError",
    "PandoraJobFailedError",
    "PandoraNotFoundError",
    "PandoraServerError",
    "PandoraTooLargeError",
    "PandoraValidationError",
    "PointError",
    "TransferError",
    "error_from_response",
]


class PandoraError(Exception):
    """Root of every error this provider raises on purpose."""


class PandoraValidationError(PandoraError, ValueError):
    """Input refused locally, before any request: names the parameter and the rule it breaks."""

    def __init__(self, parameter: str, problem: str, *, code: str | None = None) -> None:
        self.parameter = parameter
        self.problem = problem
        #: The service's E-code for the same mistake, so the emulator answers as the service would.
        self.code = code
        super().__init__(f"{parameter}: {problem}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_validation, (self.parameter, self.problem, self.code))


def _rebuild_validation(parameter: str, problem: str, code: str | None) -> PandoraValidationError:
    return PandoraValidationError(parameter, problem, code=code)


class PointError(PandoraValidationError):
    """One point (or one field of it) cannot be encoded or decoded; names the point and field."""

    def __init__(
        self, parameter: str, problem: str, *, code: str = "E18110", index: int | None = None, field: str | None = None
    ) -> None:
        super().__init__(parameter, problem, code=code)
        self.index = index
        self.field = field


class TransferError(PandoraValidationError):
    """The transfer cannot start or continue (bad arguments, missing source, unreadable object)."""


@dataclass(frozen=True)
class BadLine:
    """One input line a transfer could not deliver, and why.

    ``offset`` is where the line starts in its (decompressed) source: with ``on_bad_line="fail"``
    the transfer checkpoints there, so the next try starts at this line.
    """

    source: str
    line: int
    reason: str
    field: str | None = None
    text: bytes | None = None
    offset: int = 0

    def describe(self) -> str:
        """``source, line N[, field 'f']: reason``, the form logs and the dead-letter file use."""
        where = f"{self.source}, line {self.line}"
        return f"{where}, field {self.field!r}: {self.reason}" if self.field else f"{where}: {self.reason}"

    def to_json(self) -> str:
        """The dead-letter record (the line's text cut at 1 MB)."""
        text = None if self.text is None else self.text[:1_000_000].decode("utf-8", "replace")
        record = json.dumps(
            {"source": self.source, "line": self.line, "field": self.field, "reason": self.reason, "text": text},
            ensure_ascii=False,
        )
        # a lone surrogate (a field named "\ud800", a file name that is not UTF-8) cannot be written as UTF-8: it
        # stays a JSON escape, which reads back as the same string
        return record.encode("utf-8", "backslashreplace").decode("utf-8")


class BadLineError(PandoraValidationError):
    """A bad line with ``on_bad_line="fail"``: names the source, the line, the field and the reason."""

    def __init__(self, bad: BadLine) -> None:
        self.bad = bad
        super().__init__("on_bad_line", f"bad line in {bad.describe()} (on_bad_line='fail')")

    def __reduce__(self) -> tuple[Any, ...]:
        return (BadLineError, (self.bad,))


class PandoraApiError(PandoraError):
    """The service answered with an error.

    :ivar status_code: HTTP status (0 when no response arrived).
    :ivar code: the ``Exxxxx`` code from the body, or ``None`` when the body carried none.
    :ivar message: the service's message, without the code prefix.
    :ivar reqid: the ``X-Reqid`` response header, for Qiniu support.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 0,
        code: str | None = None,
        reqid: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message
        self.reqid = reqid
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"{self.code}: {self.message}" if self.code else self.message
        tail = [f"HTTP {self.status_code}"] if self.status_code else []
        if self.reqid:
            tail.append(f"reqid {self.reqid}")
        text = f"{head} ({', '.join(tail)})" if tail else head
        return f"{text}. {self.hint}" if self.hint else text

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep keyword-only state across pickling (Celery, triggers, multiprocessing).
        return (_rebuild, (type(self), self.message, self.status_code, self.code, self.reqid, self.hint))


def _rebuild(
    cls: type[PandoraApiError], message: str, status: int, code: str | None, reqid: str | None, hint: str | None
) -> PandoraApiError:
    return cls(message, status_code=status, code=code, reqid=reqid, hint=hint)


class PandoraNotFoundError(PandoraApiError):
    """The named repo, group, transform, export, plugin or job does not exist (404)."""


class PandoraAlreadyExistsError(PandoraApiError):
    """A resource with that name already exists (409)."""


class PandoraConflictError(PandoraApiError):
    """The resource is in a state that forbids the call (in use, being deleted, dependents)."""


class PandoraAuthError(PandoraApiError):
    """401: wrong AK/SK pair, expired or tampered token, or the local clock is off."""


class PandoraInvalidRequestError(PandoraApiError):
    """The service refused the request's content (400, 411, 415)."""


class PandoraTooLargeError(PandoraInvalidRequestError):
    """413 E18005: a body over 2 MiB."""


class PandoraServerError(PandoraApiError):
    """5xx or 429: the service could not answer now; retrying may help."""


class PandoraJobFailedError(PandoraError):
    """An offline job run ended in Fail or Cancel; carries the history record's message."""

    def __init__(self, message: str, record: dict[str, Any] | None = None) -> None:
        self.record = record or {}
        super().__init__(message)


class PandoraWaitTimeoutError(PandoraError):
    """A wait (e.g. :meth:`~airflow_provider_pandora.hooks.pandora.PandoraHook.wait_for_job_run`) passed its
    deadline before what it waited for happened; the resource is left as it is."""


class PandoraCertificateError(PandoraError):
    """The endpoint's TLS certificate failed verification: no retry or later poll can fix it, so nothing retries.

    :ivar endpoint: the endpoint whose certificate was refused.
    :ivar detail: what the TLS library said.
    """

    def __init__(self, endpoint: str, detail: str) -> None:
        self.endpoint = endpoint
        self.detail = detail
        super().__init__(
            f"The TLS certificate of {endpoint} could not be verified ({detail}). Give the CA that signed it in "
            "the connection extra 'ca_bundle' (a PEM file path); 'verify': false turns checking off, for test "
            "servers only."
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (PandoraCertificateError, (self.endpoint, self.detail))


class KodoError(PandoraError):
    """A Kodo (S3 API) call failed; names the bucket and key, never the credentials.

    :ivar code: the S3 error code (``NoSuchBucket``, ``NoSuchKey``, ``AccessDenied``, ``InvalidRange``, ...),
        or ``EndpointUnreachable`` when no response arrived.
    :ivar status_code: HTTP status (0 when no response arrived).
    """

    def __init__(
        self, message: str, *, bucket: str | None = None, key: str | None = None, code: str = "", status_code: int = 0
    ) -> None:
        self.message = message
        self.bucket = bucket
        self.key = key
        self.code = code
        self.status_code = status_code
        super().__init__(message)

    @property
    def retryable(self) -> bool:
        """True for failures a later attempt can fix: no response, throttling, 5xx."""
        return self.status_code == 0 or self.status_code == 429 or self.status_code >= 500

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_kodo, (self.message, self.bucket, self.key, self.code, self.status_code))


def _rebuild_kodo(message: str, bucket: str | None, key: str | None, code: str, status: int) -> KodoError:
    return KodoError(message, bucket=bucket, key=key, code=code, status_code=status)


AUTH_HINT = (
    "Check that the connection's access key (login) and secret key (password) are a matching pair, "
    "and that this machine's clock is within 15 minutes of real time"
)

#: code -> (HTTP status, message, exception class). Statuses from the spec; the rest from ``docs/sdk-facts.md`` §4.
ERROR_CODES: dict[str, tuple[int, str, type[PandoraApiError]]] = {
    "E18003": (411, "Content-Length is missing", PandoraInvalidRequestError),
    "E18004": (400, "invalid Content-Length", PandoraInvalidRequestError),
    "E18005": (413, "request entity too large", PandoraTooLargeError),
    "E18006": (400, "request body is empty", PandoraInvalidRequestError),
    "E18007": (400, "request body is malformed", PandoraInvalidRequestError),
    "E18008": (400, "field length exceeds limit", PandoraInvalidRequestError),
    "E18101": (409, "repo already exists", PandoraAlreadyExistsError),
    "E18102": (404, "repo does not exist", PandoraNotFoundError),
    "E8111": (404, "repo does not exist", PandoraNotFoundError),
    "E18103": (400, "invalid repo name", PandoraInvalidRequestError),
    "E18104": (400, "invalid date format", PandoraInvalidRequestError),
    "E18105": (400, "repo schema is empty", PandoraInvalidRequestError),
    "E18106": (400, "invalid field name", PandoraInvalidRequestError),
    "E18107": (400, "unsupported field type", PandoraInvalidRequestError),
    "E18108": (400, "invalid timestamp type", PandoraInvalidRequestError),
    "E18109": (400, "invalid repo mode", PandoraInvalidRequestError),
    "E18110": (400, "invalid field value", PandoraInvalidRequestError),
    "E18111": (404, "field key does not exist in the repo schema", PandoraInvalidRequestError),
    "E18112": (400, "repo has dependent transforms or exports", PandoraConflictError),
    "E18113": (409, "repo is being deleted", PandoraConflictError),
    "E18117": (400, "invalid plugin name", PandoraInvalidRequestError),
    "E18120": (404, "group does not exist", PandoraNotFoundError),
    "E18122": (404, "export target repo does not exist in logdb", PandoraNotFoundError),
    "E18123": (400, "invalid data", PandoraInvalidRequestError),
    "E18124": (202, "repo is being created", PandoraConflictError),
    "E18125": (400, "cannot read the gzip request body", PandoraInvalidRequestError),
    "E18134": (400, "too many schema entries (more than 500)", PandoraInvalidRequestError),
    "E18201": (409, "transform already exists", PandoraAlreadyExistsError),
    "E18202": (404, "transform does not exist", PandoraNotFoundError),
    "E18203": (415, "unsupported transform type", PandoraInvalidRequestError),
    "E18204": (409, "transform source and destination repo are the same", PandoraInvalidRequestError),
    "E18205": (409, "destination repo is used by another transform", PandoraConflictError),
    "E18206": (400, "destination repo must be deleted through its transform", PandoraConflictError),
    "E18207": (400, "invalid transform spec", PandoraInvalidRequestError),
    "E18208": (400, "invalid transform interval", PandoraInvalidRequestError),
    "E18209": (400, "invalid SQL in transform", PandoraInvalidRequestError),
    "E18211": (400, "invalid plugin output field type", PandoraInvalidRequestError),
    "E18212": (400, "region does not match the data center", PandoraInvalidRequestError),
    "E18213": (400, "invalid container type", PandoraInvalidRequestError),
    "E18214": (400, "invalid container count", PandoraInvalidRequestError),
    "E18215": (409, "group is in use", PandoraConflictError),
    "E18216": (404, "plugin does not exist", PandoraNotFoundError),
    "E18217": (409, "plugin already exists", PandoraAlreadyExistsError),
    "E18218": (409, "group already exists", PandoraAlreadyExistsError),
    "E18219": (400, "plugin content length mismatch", PandoraInvalidRequestError),
    "E18220": (400, "plugin content MD5 mismatch", PandoraInvalidRequestError),
    "E18221": (400, "invalid group name", PandoraInvalidRequestError),
    "E18222": (400, "group region mismatch", PandoraInvalidRequestError),
    "E18223": (400, "cannot push data into a transform's destination repo", PandoraInvalidRequestError),
    "E18301": (409, "export already exists", PandoraAlreadyExistsError),
    "E18302": (404, "export does not exist", PandoraNotFoundError),
    "E18303": (400, "submitting the export failed", PandoraInvalidRequestError),
    "E18304": (400, "deleting the export failed", PandoraInvalidRequestError),
    "E18305": (400, "invalid export spec", PandoraInvalidRequestError),
    "E18604": (400, "invalid job name", PandoraInvalidRequestError),
    "E18605": (409, "job already exists", PandoraAlreadyExistsError),
    "E18606": (404, "job does not exist", PandoraNotFoundError),
    "E18608": (400, "job has dependents", PandoraConflictError),
    "E18614": (400, "invalid job spec", PandoraInvalidRequestError),
    "E18617": (400, "invalid SQL in job", PandoraInvalidRequestError),
    "E18621": (400, "starting the job failed", PandoraConflictError),
    "E18622": (400, "stopping the job failed", PandoraConflictError),
    "E18665": (403, "access denied", PandoraAuthError),
    "E9000": (500, "internal server error", PandoraServerError),
    "E9001": (501, "not implemented", PandoraServerError),
}

_CODE_RE = re.compile(r"^(E\d{3,6})\s*:\s*(.*)$", re.DOTALL)


def split_code(text: str) -> tuple[str | None, str]:
    """``"E18102: no such repo"`` -> ``("E18102", "no such repo")``; no code -> ``(None, text)``."""
    match = _CODE_RE.match(text.strip())
    return (match.group(1), match.group(2)) if match else (None, text.strip())


def _class_for(status: int, code: str | None) -> type[PandoraApiError]:
    if status == 401:
        return PandoraAuthError
    if code in ERROR_CODES:
        return ERROR_CODES[code][2]
    if status == 429 or status >= 500:
        return PandoraServerError
    if status == 404:
        return PandoraNotFoundError
    if status == 409:
        return PandoraConflictError
    if status == 413:
        return PandoraTooLargeError
    if status in (401, 403):
        return PandoraAuthError
    return PandoraInvalidRequestError if 400 <= status < 500 else PandoraApiError


def error_from_response(status: int, body: bytes | str, reqid: str | None = None) -> PandoraApiError:
    """Build the right exception from a non-200 response; tolerant of non-JSON bodies."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    raw = text
    try:
        payload = json.loads(text) if text.strip() else None
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        raw = payload["error"]
    code, message = split_code(raw)
    if not message:
        message = f"HTTP {status} with an empty body"
    if len(message) > 2000:  # an HTML error page should not flood the task log
        message = message[:2000] + "..."
    cls = _class_for(status, code)
    hint = AUTH_HINT if cls is PandoraAuthError else None
    return cls(message, status_code=status, code=code, reqid=reqid, hint=hint)
