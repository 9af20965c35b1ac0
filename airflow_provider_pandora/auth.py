"""Pandora request signing and push tokens (docs/sdk-facts.md §1).

Pure functions (string to sign, signature, token, and their verification), so the client, the emulator and
the tests hit one implementation with fixed vectors. The ``requests``/``httpx`` adapters that feed them the
parts of a request live in :mod:`airflow_provider_pandora.hooks._transport`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from typing import Any
from urllib.parse import unquote, urlsplit

SCHEME = "Pandora"
QINIU_HEADER_PREFIX = "X-Qiniu-"
#: The service refuses a ``Date`` further than this from its clock (docs/sdk-facts.md §1.1).
MAX_CLOCK_SKEW_SECONDS = 15 * 60


def b64url(data: bytes) -> str:
    """URL-safe base64 *with* ``=`` padding, as both official SDKs encode."""
    return base64.urlsafe_b64encode(data).decode("ascii")


def content_md5(data: bytes) -> str:
    """Standard base64 of the raw MD5 digest (``qiniu`` -> ``gLL29S04bTCxYd2kCqsEIQ==``)."""
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")  # noqa: S324 - protocol-defined


def http_date(timestamp: float | None = None) -> str:
    """RFC 1123 date in GMT, e.g. ``Thu, 01 Jun 2017 08:00:00 GMT``."""
    return formatdate(timestamp if timestamp is not None else time.time(), usegmt=True)


def parse_http_date(value: str) -> float:
    """Parse an RFC 1123 date to a Unix timestamp; raises ``ValueError`` when unreadable."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as err:
        raise ValueError(f"unreadable Date header {value!r}") from err
    if parsed.tzinfo is None:
        raise ValueError(f"Date header {value!r} has no time zone")
    return parsed.timestamp()


def _canonical_header_name(name: str) -> str:
    # Go's textproto.CanonicalMIMEHeaderKey: "x-qiniu-alpha" -> "X-Qiniu-Alpha".
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def canonical_qiniu_headers(headers: Mapping[str, str] | None) -> str:
    """``"\\n" + lower(name) + ":" + value`` for each ``X-Qiniu-*`` header, sorted by canonical name."""
    if not headers:
        return ""
    picked: dict[str, str] = {}
    for name, value in headers.items():
        canonical = _canonical_header_name(name)
        if canonical.startswith(QINIU_HEADER_PREFIX) and len(canonical) > len(QINIU_HEADER_PREFIX):
            picked.setdefault(canonical, value)
    return "".join(f"\n{name.lower()}:{picked[name]}" for name in sorted(picked))


def string_to_sign(
    method: str,
    path: str,
    *,
    date: str,
    content_type: str = "",
    content_md5: str = "",
    headers: Mapping[str, str] | None = None,
) -> str:
    """The exact text the service signs; ``path`` must be the path only, without a query."""
    return f"{method.upper()}\n{content_md5}\n{content_type}\n{date}\n{canonical_qiniu_headers(headers)}{path}"


def hmac_sha1_b64(secret_key: str, data: str) -> str:
    """HMAC-SHA1 of ``data`` under the secret key, as padded URL-safe base64: the signature both SDKs send."""
    return b64url(hmac.new(secret_key.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest())


def authorization(
    access_key: str,
    secret_key: str,
    method: str,
    path: str,
    *,
    date: str,
    content_type: str = "",
    content_md5: str = "",
    headers: Mapping[str, str] | None = None,
) -> str:
    """``Pandora <AK>:<sign>`` for one request."""
    signed = string_to_sign(
        method, path, date=date, content_type=content_type, content_md5=content_md5, headers=headers
    )
    return f"{SCHEME} {access_key}:{hmac_sha1_b64(secret_key, signed)}"


# --------------------------------------------------------------------------------------------
# Verification of signed requests (the server side, used by the emulator)
# --------------------------------------------------------------------------------------------
def verify_signature(
    signature: str,
    secret_key: str,
    *,
    method: str,
    path: str,
    date: str | None,
    now: float,
    content_type: str = "",
    content_md5: str = "",
    headers: Mapping[str, str] | None = None,
) -> None:
    """Check an ``AK:sign`` signature against its secret key and the request; raises ``ValueError`` saying why.

    ``Date`` must be within :data:`MAX_CLOCK_SKEW_SECONDS` of ``now``. The path is tried as sent and
    percent-decoded, because clients differ in which of the two they sign.
    """
    if not date:
        raise ValueError("the Date header is missing")
    signed_at = parse_http_date(date)
    if abs(now - signed_at) > MAX_CLOCK_SKEW_SECONDS:
        raise ValueError(f"Date {date!r} is more than 15 minutes from the server's clock; check this machine's")
    for candidate in dict.fromkeys((path, unquote(path))):
        text = string_to_sign(
            method, candidate, date=date, content_type=content_type, content_md5=content_md5, headers=headers
        )
        if hmac.compare_digest(hmac_sha1_b64(secret_key, text), signature):
            return
    raise ValueError("the signature does not match; check the access key / secret key pair")


# --------------------------------------------------------------------------------------------
# Tokens (docs/sdk-facts.md §1.2)
# --------------------------------------------------------------------------------------------
TOKEN_METHODS = frozenset({"GET", "POST", "PUT", "DELETE"})


@dataclass(frozen=True)
class TokenDescription:
    """What a token allows: one method on one resource until ``expires`` (Unix seconds)."""

    resource: str
    expires: int
    method: str
    content_type: str = ""
    content_md5: str = ""
    headers: str = ""

    def to_json(self) -> str:
        """The description as JSON, the text a token base64-encodes and signs."""
        # Key order and compact separators follow the Go SDK, so tokens are byte-identical.
        return json.dumps(
            {
                "resource": self.resource,
                "expires": self.expires,
                "contentMD5": self.content_md5,
                "contentType": self.content_type,
                "headers": self.headers,
                "method": self.method,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> TokenDescription:
        """Parse a decoded token description; raises ``ValueError`` when it is not a JSON object or a field is
        unusable (``expires`` must be a finite number of Unix seconds: not ``1e400``, ``[1]`` or text)."""
        try:
            data = json.loads(text)
        except RecursionError:  # nesting deeper than the parser goes
            raise ValueError("token description is nested too deeply") from None
        if not isinstance(data, dict):
            raise ValueError("token description is not a JSON object")
        return cls(
            resource=str(data.get("resource") or ""),
            expires=_expiry(data.get("expires")),
            method=str(data.get("method") or "").upper(),
            content_type=str(data.get("contentType") or ""),
            content_md5=str(data.get("contentMD5") or ""),
            headers=str(data.get("headers") or ""),
        )


def _expiry(value: Any) -> int:
    """A token's ``expires`` as whole Unix seconds; absent is 0 (expired long ago), anything not a number refused."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"token expires must be a number of Unix seconds, not {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("token expires is not a finite number")
    return int(value)


def make_token(
    access_key: str,
    secret_key: str,
    *,
    resource: str,
    method: str = "POST",
    expires: int,
    content_type: str = "",
    content_md5: str = "",
    headers: str = "",
) -> str:
    """Mint ``Pandora <AK>:<sign>:<desc>``, an ``Authorization`` value a third party can use.

    ``resource`` is the path without query; ``expires`` is absolute Unix seconds.
    """
    method = method.upper()
    if not resource or not resource.startswith("/"):
        raise ValueError(f"token resource must be a path starting with '/', got {resource!r}")
    if method not in TOKEN_METHODS:
        raise ValueError(f"token method must be one of {sorted(TOKEN_METHODS)}, got {method!r}")
    if expires < time.time():
        raise ValueError(f"token expiry {expires} is in the past")
    desc = TokenDescription(resource, int(expires), method, content_type, content_md5, headers)
    encoded = b64url(desc.to_json().encode("utf-8"))
    return f"{SCHEME} {access_key}:{hmac_sha1_b64(secret_key, encoded)}:{encoded}"


@dataclass(frozen=True)
class ParsedAuthorization:
    """The parts of a ``Pandora AK:...`` header: a request signature, or (with ``encoded_token``) a token."""

    access_key: str
    signature: str
    encoded_token: str | None = None

    @property
    def is_token(self) -> bool:
        """Whether the header carries a token (``AK:sign:token``) rather than a signature of this request."""
        return self.encoded_token is not None


def parse_authorization(header: str | None) -> ParsedAuthorization:
    """Split an ``Authorization`` header; raises ``ValueError`` saying what is wrong with it."""
    if not header:
        raise ValueError("missing Authorization header")
    scheme, _, credentials = header.strip().partition(" ")
    if scheme != SCHEME or not credentials:
        raise ValueError(f"Authorization must use the '{SCHEME} <AK>:<sign>' scheme")
    parts = credentials.strip().split(":")
    if len(parts) == 2 and all(parts):
        return ParsedAuthorization(parts[0], parts[1])
    if len(parts) == 3 and all(parts):
        return ParsedAuthorization(parts[0], parts[1], parts[2])
    raise ValueError("Authorization credentials must be '<AK>:<sign>' or '<AK>:<sign>:<token>'")


def verify_token(parsed: ParsedAuthorization, secret_key: str, *, method: str, path: str, now: float) -> None:
    """Check a token against its secret key and the request; raises ``ValueError`` on mismatch."""
    if parsed.encoded_token is None:
        raise ValueError("not a token")
    expected = hmac_sha1_b64(secret_key, parsed.encoded_token)
    if not hmac.compare_digest(expected, parsed.signature):
        raise ValueError("token signature does not match")
    try:
        desc = TokenDescription.from_json(base64.urlsafe_b64decode(parsed.encoded_token).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"token description is unreadable: {err}") from err
    if desc.expires < now:
        raise ValueError("token expired")
    if desc.resource != path or desc.method != method.upper():
        raise ValueError("token does not grant this method and resource")


# --------------------------------------------------------------------------------------------
# Client adapters: one signing routine for requests (sync) and httpx (async)
# --------------------------------------------------------------------------------------------
def sign_headers(
    access_key: str,
    secret_key: str,
    method: str,
    url: str,
    headers: Mapping[str, str],
    *,
    now: float | None = None,
) -> dict[str, str]:
    """Headers (``Date``, ``Authorization``) to add to a request about to be sent."""
    lowered = {k.lower(): v for k, v in headers.items()}
    date = lowered.get("date") or http_date(now)
    value = authorization(
        access_key,
        secret_key,
        method,
        urlsplit(url).path or "/",
        date=date,
        content_type=lowered.get("content-type", ""),
        content_md5=lowered.get("content-md5", ""),
        headers=headers,
    )
    return {"Date": date, "Authorization": value}
