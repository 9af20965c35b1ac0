"""``PandoraBaseHook``: the connection, the clients, and signed requests under the shared retry policy.

The transport half of the hook, as the Databricks provider splits ``BaseDatabricksHook`` from
``DatabricksHook``: :class:`~airflow_provider_pandora.hooks.pandora.PandoraHook` adds one method per API
call on top. The typed call helpers and the per-resource path helpers (which check each name with the
E-code the service answers for it, from ``schema.RESOURCE_NAME_CODES``) live here so that every call is
one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import quote

import requests
import tenacity
from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_pandora import schema as rules
from airflow_provider_pandora.exceptions import PandoraApiError, PandoraNotFoundError
from airflow_provider_pandora.hooks._connection import PandoraConnectionConfig, aconnection_extra
from airflow_provider_pandora.hooks._transport import (
    JSON,
    SHARED_ASYNC_CLIENTS,
    aretrying,
    asend_within,
    certificate_error,
    decode_response,
    is_transient,
    new_session,
    retrying,
    send_within,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["PandoraBaseHook"]


def _segment(value: str) -> str:
    return quote(value, safe="")


def _object(method: str, path: str, body: Any) -> dict[str, Any]:
    """A JSON object answer, typed; anything else is a service answer this client does not understand."""
    if isinstance(body, dict):
        return body
    raise PandoraApiError(f"Pandora answered {method} {path} with a JSON {type(body).__name__}, not an object")


class PandoraBaseHook(BaseHook):
    """Connection, clients and signed, retried requests for the Pandora API (no API calls of its own).

    :param pandora_conn_id: the ``pandora`` connection.
    :param timeout: seconds one attempt of a request may take in all, from connecting to the last byte of the
        answer (overrides the connection's ``timeout``); a server trickling its answer cannot stretch it, and
        each retry gets its own.
    :param retry_limit: attempts for idempotent calls (overrides the connection).
    :param retry_delay: first back-off delay in seconds (overrides the connection).
    """

    conn_name_attr = "pandora_conn_id"
    default_conn_name = "pandora_default"

    #: Methods the service treats as idempotent; a POST is retried only when it is a start/stop action.
    IDEMPOTENT_METHODS: ClassVar[frozenset[str]] = frozenset({"GET", "HEAD", "PUT", "DELETE"})

    #: The one rule for what a retry can fix (:func:`~airflow_provider_pandora.hooks._transport.is_transient`).
    is_retryable = staticmethod(is_transient)

    def __init__(
        self,
        pandora_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        retry_limit: int | None = None,
        retry_delay: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pandora_conn_id = pandora_conn_id
        self._timeout = timeout
        self._retry_limit = retry_limit
        self._retry_delay = retry_delay
        self._async_client: httpx.AsyncClient | None = None
        self._async_gate: asyncio.Semaphore | None = None
        self._async_config: PandoraConnectionConfig | None = None
        self.last_reqid: str | None = None
        """The ``X-Reqid`` of the last call that got an answer (operators log it for Qiniu support)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pandora_conn_id={self.pandora_conn_id!r})"

    # ---- configuration ------------------------------------------------------------------
    def _with_overrides(self, config: PandoraConnectionConfig) -> PandoraConnectionConfig:
        return config.with_overrides(
            timeout=self._timeout, retry_limit=self._retry_limit, retry_delay=self._retry_delay
        )

    @cached_property
    def config(self) -> PandoraConnectionConfig:
        """The connection's settings with this hook's overrides, read once."""
        return self._with_overrides(PandoraConnectionConfig.from_connection(self.get_connection(self.pandora_conn_id)))

    @property
    def region(self) -> str:
        """The connection's default region (extra ``region``, else ``nb``)."""
        return self.config.region

    def get_conn(self) -> requests.Session:
        """The pooled, signed ``requests.Session`` (one per hook, keep-alive)."""
        return self._session

    @cached_property
    def _session(self) -> requests.Session:
        return new_session(self.config)

    def close(self) -> None:
        """Close the sync session's connections (a new one is opened on the next call)."""
        if "_session" in self.__dict__:
            self._session.close()
            del self.__dict__["_session"]

    # ---- transport ------------------------------------------------------------------------
    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        self.log.warning("Pandora request failed (%s); retrying, attempt %d", exc, state.attempt_number + 1)

    @classmethod
    def _idempotent(cls, method: str, path: str) -> bool:
        return method in cls.IDEMPOTENT_METHODS or (method == "POST" and "/actions/" in path)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one signed request and return the decoded JSON body (``{}`` when empty).

        Keyword arguments are those of :meth:`request_with_reqid`.
        """
        return self.request_with_reqid(method, path, **kwargs)[0]

    def request_with_reqid(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
    ) -> tuple[Any, str | None]:
        """Send one signed request; return the decoded JSON body (``{}`` when empty) and the ``X-Reqid``.

        :param method: HTTP method.
        :param path: path below the endpoint, starting with ``/v2/``.
        :param json_body: a body to send as JSON.
        :param data: a raw body (pushes, plugin jars).
        :param params: query parameters.
        :param headers: extra headers (they are signed with the request).
        :param retry: retry transient failures; defaults to ``True`` for idempotent calls only,
            so a creating POST is never sent twice by the hook itself.
        :raises PandoraApiError: the service refused the call (the subclass of its E-code).
        :raises PandoraCertificateError: the endpoint's certificate failed verification (never retried).
        """
        config = self.config
        method = method.upper()
        retry = self._idempotent(method, path) if retry is None else retry
        send_headers = dict(headers or {})
        body = data
        if json_body is not None:
            body = json.dumps(json_body, separators=(",", ":")).encode("utf-8")
            send_headers.setdefault("Content-Type", JSON)
        url = f"{config.endpoint}{path}"

        def send() -> tuple[Any, str | None]:
            try:
                response = send_within(
                    self._session,
                    config.timeout,
                    method,
                    url,
                    data=body,
                    params=params,
                    headers=send_headers,
                    # Per request: requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override ``session.verify``,
                    # which would silently ignore the connection's ca_bundle or verify=false.
                    verify=config.verify,
                )
            except requests.RequestException as exc:
                refused = certificate_error(exc, config.endpoint)
                if refused is not None:
                    raise refused from exc
                raise
            return decode_response(method, path, response.status_code, response.content, response.headers, self.log)

        answer = (
            send()
            if not retry
            else retrying(config.retry_limit, config.retry_delay, before_sleep=self._log_retry)(send)
        )
        self.last_reqid = answer[1]
        return answer

    async def _aconfig(self) -> PandoraConnectionConfig:
        if self._async_config is None:
            from airflow.providers.common.compat.connection import get_async_connection

            conn = await get_async_connection(self.pandora_conn_id, hook=self)
            extra = await aconnection_extra(conn)  # only secret-named extras go to the masker
            self._async_config = self._with_overrides(PandoraConnectionConfig.from_connection(conn, extra))
        return self._async_config

    async def _aclient(self) -> httpx.AsyncClient:
        if self._async_client is None:
            config = await self._aconfig()
            self._async_client, self._async_gate = SHARED_ASYNC_CLIENTS.acquire(config)
        return self._async_client

    async def arequest(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        retry: bool | None = None,
    ) -> Any:
        """Async twin of :meth:`request`, on the event loop's shared ``httpx.AsyncClient`` for these settings.

        :param method: HTTP method.
        :param path: path below the endpoint, starting with ``/v2/``.
        :param params: query parameters.
        :param json_body: a body to send as JSON.
        :param retry: as in :meth:`request_with_reqid`.
        """
        config = await self._aconfig()
        client = await self._aclient()
        method = method.upper()
        retry = self._idempotent(method, path) if retry is None else retry
        gate = self._async_gate or contextlib.nullcontext()

        async def send() -> Any:
            try:
                async with gate:
                    response = await asend_within(client, config.timeout, method, path, params=params, json=json_body)
            except Exception as exc:
                refused = certificate_error(exc, config.endpoint)
                if refused is not None:
                    raise refused from exc
                raise
            return decode_response(method, path, response.status_code, response.content, response.headers, self.log)[0]

        if not retry:
            return await send()
        return await aretrying(config.retry_limit, config.retry_delay, before_sleep=self._log_retry)(send)

    async def aclose(self) -> None:
        """Let go of the shared async client (closed once the last hook of this loop using it lets go)."""
        if self._async_client is not None:
            client, self._async_client, self._async_gate = self._async_client, None, None
            await SHARED_ASYNC_CLIENTS.release(client)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- typed calls and paths -------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return _object(method, path, self.request(method, path, **kwargs))

    async def _acall(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return _object(method, path, await self.arequest(method, path, **kwargs))

    def _exists(self, path: str) -> bool:
        try:
            self.request("GET", path)
        except PandoraNotFoundError:
            return False
        return True

    def _region(self, region: str | None) -> str:
        return rules.check_region(region or self.region)

    @staticmethod
    def _group_path(group: str, suffix: str = "") -> str:
        return f"/v2/groups/{_segment(rules.check_resource_name('group', group))}{suffix}"

    @staticmethod
    def _repo_path(repo: str, suffix: str = "") -> str:
        return f"/v2/repos/{_segment(rules.check_resource_name('repo', repo))}{suffix}"

    @classmethod
    def _transform_path(cls, repo: str, transform: str, suffix: str = "") -> str:
        name = _segment(rules.check_resource_name("transform", transform))
        return cls._repo_path(repo, f"/transforms/{name}{suffix}")

    @classmethod
    def _export_path(cls, repo: str, export: str) -> str:
        return cls._repo_path(repo, f"/exports/{_segment(rules.check_resource_name('export', export))}")

    @classmethod
    def _job_path(cls, repo: str, job: str, suffix: str = "") -> str:
        # The spec's job paths, with their missing "/" restored (docs/sdk-facts.md lists the typo).
        return cls._repo_path(repo, f"/jobs/{_segment(rules.check_resource_name('job', job))}{suffix}")

    @staticmethod
    def _plugin_path(plugin: str) -> str:
        return f"/v2/plugins/{_segment(rules.check_resource_name('plugin', plugin))}"

    @staticmethod
    def _dest(dest_repo: str) -> str:
        return f"/to/{_segment(rules.check_resource_name('dest_repo', dest_repo))}"
