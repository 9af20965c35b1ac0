"""A signer written straight from the algorithm in docs/sdk-facts.md §1.1-§1.2, independent of ours.

Kept apart from ``airflow_provider_pandora.auth`` on purpose: when both implementations agree with the worked
examples in sdk-facts.md (``test_signer.py``) and the emulator accepts what this one signs, a shared mistake
would have to be made twice, from the text, by different code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime

QINIU_PREFIX = "X-Qiniu-"


def go_canonical(name: str) -> str:
    """Go's ``textproto.CanonicalMIMEHeaderKey``: ``content-MD5`` -> ``Content-Md5``, the spelling Go sends."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def http_date(when: datetime | None = None) -> str:
    """RFC 1123 in GMT (Go ``http.TimeFormat``, Java ``EEE, dd MMM yyyy HH:mm:ss z``): the SDKs' ``Date``."""
    return format_datetime((when or datetime.now(UTC)).astimezone(UTC), usegmt=True)


def b64url(raw: bytes) -> str:
    """URL-safe base64 with ``=`` padding (Go ``base64.URLEncoding``, Java ``URL_SAFE|NO_WRAP``)."""
    return base64.urlsafe_b64encode(raw).decode("ascii")


def hmac_sha1(secret_key: str, text: str) -> str:
    """The encoded signature of ``text``: HMAC-SHA1 keyed with the SK, URL-safe base64."""
    return b64url(hmac.new(secret_key.encode(), text.encode(), hashlib.sha1).digest())


def qiniu_headers(headers: Mapping[str, str]) -> str:
    """CanonicalizedQiniuHeaders: ``\\n<lower name>:<value>`` per ``X-Qiniu-*`` header, sorted by Go-canonical name."""
    found = {go_canonical(name): value for name, value in headers.items()}
    names = sorted(n for n in found if n.startswith(QINIU_PREFIX) and len(n) > len(QINIU_PREFIX))
    return "".join(f"\n{name.lower()}:{found[name]}" for name in names)


def _get(headers: Mapping[str, str], name: str) -> str:
    return next((value for key, value in headers.items() if key.lower() == name.lower()), "")


def string_to_sign(method: str, path: str, headers: Mapping[str, str]) -> str:
    """``METHOD\\nContent-MD5\\nContent-Type\\nDate\\n`` + Qiniu headers + the path (never the query)."""
    resource = path.split("?", 1)[0]
    head = "\n".join(
        (method.upper(), _get(headers, "Content-MD5"), _get(headers, "Content-Type"), _get(headers, "Date"))
    )
    return f"{head}\n{qiniu_headers(headers)}{resource}"


def authorization(access_key: str, secret_key: str, method: str, path: str, headers: Mapping[str, str]) -> str:
    """``Pandora <AK>:<sign>`` for a request with these headers."""
    return f"Pandora {access_key}:{hmac_sha1(secret_key, string_to_sign(method, path, headers))}"


def token(
    access_key: str,
    secret_key: str,
    *,
    method: str,
    resource: str,
    expires: int,
    content_type: str = "",
    content_md5: str = "",
    headers: str = "",
) -> str:
    """``Pandora <AK>:<sign>:<desc>`` (§1.2): the description is compact JSON in the Go key order, the
    signature covers its base64 text."""
    desc = {
        "resource": resource,
        "expires": expires,
        "contentMD5": content_md5,
        "contentType": content_type,
        "headers": headers,
        "method": method.upper(),
    }
    encoded = b64url(json.dumps(desc, separators=(",", ":")).encode())
    return f"Pandora {access_key}:{hmac_sha1(secret_key, encoded)}:{encoded}"


def content_md5(body: bytes) -> str:
    """Standard base64 of the raw MD5 digest (``qiniu`` -> ``gLL29S04bTCxYd2kCqsEIQ==``), not hex."""
    return base64.b64encode(hashlib.md5(body).digest()).decode("ascii")
