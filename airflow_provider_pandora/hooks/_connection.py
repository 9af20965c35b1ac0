"""Reading an Airflow connection: endpoint, keys, TLS and retry settings, parsed once.

Shared by the ``pandora`` and ``kodo`` connections, and by the sync and async paths of the hook. The
extras parser here is deliberately *lenient* (a connection written by hand in a UI or an environment
variable says ``"verify": "no"``); operator parameters are parsed strictly by
:mod:`airflow_provider_pandora.params` instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import json
import logging
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_pandora.exceptions import PandoraValidationError

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_REGION",
    "DEFAULT_RETRY_DELAY",
    "DEFAULT_RETRY_LIMIT",
    "DEFAULT_TIMEOUT",
    "PandoraConnectionConfig",
    "aconnection_extra",
    "connection_endpoint",
    "connection_extra",
    "connection_verify",
    "extra_bool",
    "mask_secret",
    "ssl_verify",
]

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://pipeline.qiniu.com"
DEFAULT_REGION = "nb"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRY_LIMIT = 3
DEFAULT_RETRY_DELAY = 1.0


def extra_bool(value: Any, default: bool) -> bool:
    """A connection extra as a flag: empty means ``default``; only false/0/no/off switch it off."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("false", "0", "no", "off")


def connection_endpoint(conn: Any, extra: Mapping[str, Any], default: str | None) -> str:
    """``scheme://host[:port]`` from a connection's host (a URL or a bare host), ``schema``/port and extras.

    ``default`` is used when the host is empty (``None``: the host is required).
    """
    host = (conn.host or "").strip().rstrip("/")
    if not host:
        if default is None:
            raise PandoraValidationError("connection.host", f"{conn.conn_id!r} needs the endpoint URL as host")
        endpoint = default
    elif "://" in host:
        endpoint = host
    else:
        endpoint = f"{extra.get('scheme') or conn.schema or 'https'}://{host}"
    if conn.port and endpoint.count(":") < 2:
        endpoint = f"{endpoint}:{conn.port}"
    if not endpoint.startswith(("http://", "https://")):
        raise PandoraValidationError("connection.host", f"{endpoint!r} must start with http:// or https://")
    return endpoint


def connection_verify(extra: Mapping[str, Any]) -> bool | str:
    """TLS verification from the extras: a ``ca_bundle`` path wins, else ``verify`` (default on)."""
    ca_bundle = extra.get("ca_bundle")
    return str(ca_bundle) if ca_bundle else extra_bool(extra.get("verify"), True)


def ssl_verify(verify: bool | str) -> bool | ssl.SSLContext:
    """httpx's form of ``verify``: a CA bundle path becomes an SSL context (httpx deprecates paths)."""
    if isinstance(verify, bool):
        return verify
    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    return ssl.create_default_context(cafile=verify)


@dataclass(frozen=True)
class PandoraConnectionConfig:
    """What a ``pandora`` connection says, parsed once and shared by the sync and async paths."""

    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    region: str = DEFAULT_REGION
    timeout: float = DEFAULT_TIMEOUT
    retry_limit: int = DEFAULT_RETRY_LIMIT
    retry_delay: float = DEFAULT_RETRY_DELAY
    verify: bool | str = True
    console_url: str | None = None
    #: Extra ``account``: names the account in asset URIs and lineage (``assets.py`` says why not the key).
    account: str | None = None

    @classmethod
    def from_connection(cls, conn: Any, extra: Mapping[str, Any] | None = None) -> PandoraConnectionConfig:
        """Parse a connection (``extra`` given when it was read asynchronously); names what is missing."""
        extra = dict(extra if extra is not None else connection_extra(conn))
        if not conn.login or not conn.password:
            raise PandoraValidationError(
                "connection", f"{conn.conn_id!r} needs the access key as login and the secret key as password"
            )
        return cls(
            endpoint=connection_endpoint(conn, extra, DEFAULT_ENDPOINT),
            access_key=conn.login,
            secret_key=conn.password,
            region=str(extra.get("region") or DEFAULT_REGION),
            timeout=float(extra.get("timeout") or DEFAULT_TIMEOUT),
            retry_limit=max(1, int(extra.get("retry_limit") or DEFAULT_RETRY_LIMIT)),
            retry_delay=float(extra["retry_delay"])
            if extra.get("retry_delay") not in (None, "")
            else DEFAULT_RETRY_DELAY,
            verify=connection_verify(extra),
            console_url=extra.get("console_url") or None,
            account=str(extra.get("account") or "").strip() or None,
        )

    def with_overrides(
        self, *, timeout: float | None = None, retry_limit: int | None = None, retry_delay: float | None = None
    ) -> PandoraConnectionConfig:
        """The same settings with the hook's own arguments (``None``: keep the connection's) applied."""
        return dataclasses.replace(
            self,
            timeout=self.timeout if timeout is None else timeout,
            retry_limit=self.retry_limit if retry_limit is None else max(1, retry_limit),
            retry_delay=self.retry_delay if retry_delay is None else retry_delay,
        )


def mask_secret(value: Any) -> None:
    """Register a secret (a token, the sensitive extras) with Airflow's masker; a no-op outside Airflow's logging."""
    try:
        from airflow.providers.common.compat.sdk import mask_secret as airflow_mask_secret

        airflow_mask_secret(value)
    except Exception:  # pragma: no cover - masking must never break the call
        log.debug("could not register a derived secret for masking", exc_info=True)


#: Where Airflow's ``should_hide_value_for_key`` lives: 3.1+, 3.0, 2.x.
_MASKER_MODULES = (
    "airflow.sdk._shared.secrets_masker",
    "airflow.sdk.execution_time.secrets_masker",
    "airflow.utils.log.secrets_masker",
)


def _sensitive_key(key: Any) -> bool:
    """Whether Airflow hides the value of an extra named ``key`` (``[core] sensitive_var_conn_names`` included)."""
    for name in _MASKER_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return bool(module.should_hide_value_for_key(key))
    return False


def _secrets(value: Any) -> Any:
    """What of a parsed extra sits under a sensitive key, at any depth (``None``: nothing)."""
    if isinstance(value, dict):
        found = {k: v if _sensitive_key(k) else _secrets(v) for k, v in value.items()}
        return {k: v for k, v in found.items() if v not in (None, "", {}, [])} or None
    if isinstance(value, list):
        return [item for item in map(_secrets, value) if item is not None] or None
    return None


def _parse_extra(conn: Any) -> dict[str, Any] | None:
    raw = getattr(conn, "extra", None)
    if not raw:
        return {}
    try:
        extra = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    return extra if isinstance(extra, dict) else None


def connection_extra(conn: Any) -> dict[str, Any]:
    """A connection's extras, with those under a sensitive key (``password``, ``token``...) masked in logs.

    Not ``conn.extra_dejson``: on Airflow 3 that hands *every* extra to the masker, which logs
    ``Skipping masking for a secret as it's too short (<5 chars)`` for ``"region": "nb"`` before it asks whether
    ``region`` is sensitive at all. An extra that is not a JSON object is left to ``extra_dejson``.
    """
    extra = _parse_extra(conn)
    if extra is None:
        parsed = conn.extra_dejson  # Airflow logs a broken extra, and hands back {} or what JSON held
        return dict(parsed) if isinstance(parsed, Mapping) else {}
    secrets = _secrets(extra)
    if secrets:
        mask_secret(secrets)
    return extra


async def aconnection_extra(conn: Any) -> dict[str, Any]:
    """:func:`connection_extra` for an event loop: the masker is told without blocking it (Airflow 3's
    ``amask_secret`` where there is one, else in a worker thread)."""
    extra = _parse_extra(conn)
    if extra is None:
        from airflow.providers.common.compat.connection import get_async_extra_dejson

        parsed = await get_async_extra_dejson(conn)
        return dict(parsed) if isinstance(parsed, Mapping) else {}
    secrets = _secrets(extra)
    if secrets:
        try:
            from airflow.sdk.log import amask_secret
        except ImportError:
            await asyncio.to_thread(mask_secret, secrets)
        else:
            await amask_secret(secrets)
    return extra
