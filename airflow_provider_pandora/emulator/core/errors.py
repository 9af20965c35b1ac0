"""The emulator's error answers: :class:`ApiError` (``status`` and ``{"error": "Exxxxx: message"}``).

Statuses come from :data:`airflow_provider_pandora.exceptions.ERROR_CODES`, the table the client maps
responses through, so the emulator and the hook cannot disagree about what a code means.
"""

from __future__ import annotations

from airflow_provider_pandora.exceptions import ERROR_CODES, PandoraValidationError


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
        """The message clients see: ``"Exxxxx: message"``, or just the message without a code."""
        return f"{self.code}: {self.message}" if self.code else self.message

    @classmethod
    def from_validation(cls, err: PandoraValidationError) -> ApiError:
        """A shared validation failure (which carries the service's code) as an answer."""
        return cls(err.code or "E18007", str(err))


def api_error(code: str, message: str | None = None) -> ApiError:
    """``ApiError`` with the table's status and, unless given, the table's message."""
    return ApiError(code, message if message is not None else ERROR_CODES[code][1])


class DeliveryError(Exception):
    """An export target answered something else than 200."""
