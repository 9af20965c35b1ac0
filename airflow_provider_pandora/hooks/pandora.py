"""``PandoraHook``: every call of the Pandora pipeline v2 API as one method, sync and async.

The hook owns HTTP, signing and retries; operators, sensors, triggers and transfers only call
its methods. Requests go through one pooled ``requests.Session`` (sync) or one
``httpx.AsyncClient`` (async), both signed by :mod:`airflow_provider_pandora.auth` and retried
by one predicate, :meth:`PandoraHook.is_retryable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import gzip as gzip_module
import hashlib
import json
import logging
import os
import ssl
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

import requests
import tenacity
from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_pandora import __version__, auth, wire
from airflow_provider_pandora import schema as rules
from airflow_provider_pandora.connection_form import form_widgets, ui_field_behaviour
from airflow_provider_pandora.exceptions import (
    PandoraApiError,
    PandoraAuthError,
    PandoraNotFoundError,
    PandoraServerError,
    PandoraValidationError,
    error_from_response,
)
from airflow_provider_pandora.get_provider_info import _pandora_connection

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://pipeline.qiniu.com"
DEFAULT_REGION = "nb"
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRY_LIMIT = 3
DEFAULT_RETRY_DELAY = 1.0
MAX_RETRY_WAIT = 30.0
MAX_PLUGIN_BYTES = 20 * 1024 * 1024
JSON = "application/json"
#: The spec's content type for data pushes; the service also takes the SDKs' ``text/plain``.
PUSH_CONTENT_TYPE = "application/text"
USER_AGENT = f"airflow-provider-pandora/{__version__} python-requests/{requests.__version__}"


# --------------------------------------------------------------------------------------------
# Job runs
# --------------------------------------------------------------------------------------------
class JobStatus(enum.StrEnum):
    """One vocabulary for both the spec's statuses and the SDK's later ones."""

    READY = "Ready"
    RUNNING = "Running"
    SUCCESS = "Success"
    FAIL = "Fail"
    CANCEL = "Cancel"
    RESTARTING = "Restarting"
    CANCELLING = "Cancelling"

    @classmethod
    def parse(cls, value: Any) -> JobStatus:
        key = str(value or "").strip().lower()
        try:
            return _STATUS_ALIASES[key]
        except KeyError:
            raise ValueError(f"unknown job status {value!r}") from None

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.SUCCESS, JobStatus.FAIL, JobStatus.CANCEL)

    @property
    def is_success(self) -> bool:
        return self is JobStatus.SUCCESS


_STATUS_ALIASES = {
    "ready": JobStatus.READY,
    "running": JobStatus.RUNNING,
    "success": JobStatus.SUCCESS,
    "successful": JobStatus.SUCCESS,
    "succeeded": JobStatus.SUCCESS,
    "fail": JobStatus.FAIL,
    "failed": JobStatus.FAIL,
    "cancel": JobStatus.CANCEL,
    "canceled": JobStatus.CANCEL,
    "cancelled": JobStatus.CANCEL,
    "restarting": JobStatus.RESTARTING,
    "cancelling": JobStatus.CANCELLING,
    "canceling": JobStatus.CANCELLING,
}


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return wire.to_datetime(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class JobRun:
    """One record of a job's history, normalised (``raw`` keeps what the service sent)."""

    status: JobStatus
    start_time: datetime | None
    end_time: datetime | None
    message: str
    run_id: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> JobRun:
        return cls(
            status=JobStatus.parse(record.get("status")),
            start_time=_parse_time(record.get("startTime")),
            end_time=_parse_time(record.get("endTime")),
            message=str(record.get("message") or ""),
            run_id=run_id_of(record),
            raw=dict(record),
        )

    def to_dict(self) -> dict[str, Any]:
        """A small JSON-serialisable form, for XCom and trigger events."""
        return {
            "run_id": self.run_id,
            "status": self.status.value,
            "start_time": self.start_time.isoformat() if self.start_time else None,
            "end_time": self.end_time.isoformat() if self.end_time else None,
            "message": self.message,
        }


def parse_job_history(payload: Any) -> list[JobRun]:
    """Accept the spec's bare list and the SDK's ``{"total", "history": [...]}``; newest first."""
    if isinstance(payload, Mapping):
        payload = payload.get("history") or []
    if not isinstance(payload, list):
        raise PandoraApiError(f"unexpected job history payload of type {type(payload).__name__}")
    runs = [JobRun.from_record(item) for item in payload if isinstance(item, Mapping)]
    # Servers differ in order; callers want the latest first.
    return sorted(runs, key=lambda r: (r.start_time is not None, r.start_time or datetime.min), reverse=True)


@dataclass(frozen=True)
class PushResult:
    points: int
    bytes: int
    batches: int
    reqids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"points": self.points, "bytes": self.bytes, "batches": self.batches}


# --------------------------------------------------------------------------------------------
# Connection settings
# --------------------------------------------------------------------------------------------
def _as_bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("false", "0", "no", "off")


def connection_endpoint(conn: Any, extra: Mapping[str, Any], default: str | None) -> str:
    """``scheme://host[:port]`` from a connection's host (a URL or a bare host), ``schema``/port and extras.

    Shared by the ``pandora`` and ``kodo`` connections; ``default`` is used when the host is empty
    (``None``: the host is required).
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
    return str(ca_bundle) if ca_bundle else _as_bool(extra.get("verify"), True)


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

    @classmethod
    def from_connection(cls, conn: Any, extra: Mapping[str, Any] | None = None) -> PandoraConnectionConfig:
        extra = dict(extra if extra is not None else (conn.extra_dejson or {}))
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
        )


def _segment(value: str) -> str:
    return quote(value, safe="")


def _compact(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


class _SharedAsyncClients:
    """One ``httpx.AsyncClient`` per event loop and connection settings, shared by the hooks in that loop.

    Why: building a client loads the CA bundle (about 25 ms of CPU, on the event loop) and opens a pool of
    its own, so a triggerer waiting on a thousand Pandora jobs (a hook per trigger) would stall its loop
    for half a minute and hold a thousand connections. Clients are reference-counted: the last hook to
    close closes the client, so none outlives its users; a loop that is gone takes its clients with it.

    Each client comes with a gate of :data:`MAX_ASYNC_IN_FLIGHT` requests: httpcore matches its queued
    requests against its connections on every change (quadratic), so a thousand requests queued in the
    pool itself would cost seconds of CPU; waiting at the gate costs nothing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], list[Any]]] = (
            weakref.WeakKeyDictionary()
        )

    @staticmethod
    def _key(config: PandoraConnectionConfig) -> tuple[Any, ...]:
        # The secret key is part of the client (its auth); keyed by a digest so no copy of it is kept here.
        secret = hashlib.sha256(config.secret_key.encode("utf-8")).hexdigest()
        return (config.endpoint, config.access_key, secret, config.verify, config.timeout)

    def acquire(self, config: PandoraConnectionConfig) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        import httpx

        loop = asyncio.get_running_loop()
        key = self._key(config)
        with self._lock:
            clients = self._by_loop.setdefault(loop, {})
            entry = clients.get(key)
            if entry is None or entry[0].is_closed:
                client = httpx.AsyncClient(
                    base_url=config.endpoint,
                    auth=auth.httpx_auth(config.access_key, config.secret_key),
                    headers={"User-Agent": USER_AGENT.replace("python-requests", "python-httpx")},
                    verify=_ssl_verify(config.verify),
                    timeout=httpx.Timeout(config.timeout, connect=min(10.0, config.timeout)),
                    limits=httpx.Limits(
                        max_connections=MAX_ASYNC_IN_FLIGHT, max_keepalive_connections=MAX_ASYNC_IN_FLIGHT
                    ),
                )
                entry = clients[key] = [client, 0, asyncio.Semaphore(MAX_ASYNC_IN_FLIGHT)]
            entry[1] += 1
            return entry[0], entry[2]

    async def release(self, client: httpx.AsyncClient) -> None:
        close = True
        with self._lock:
            for clients in self._by_loop.values():
                for key, entry in list(clients.items()):
                    if entry[0] is client:
                        entry[1] -= 1
                        close = entry[1] <= 0
                        if close:
                            del clients[key]
                        break
        if close:
            await client.aclose()


MAX_ASYNC_IN_FLIGHT = 16
"""Requests one event loop sends at once per connection setting (and keep-alive connections it keeps).

Measured with 1,000 triggers against the emulator (benchmarks/bench_triggers.py): 32 connections cost more
in httpcore's per-request pool checks than they win; 16 still carry ~300 requests/s at 50 ms per request."""
_SHARED_ASYNC_CLIENTS = _SharedAsyncClients()


# --------------------------------------------------------------------------------------------
# The hook
# --------------------------------------------------------------------------------------------
class PandoraHook(BaseHook):
    """Talk to the Pandora pipeline v2 API with a ``pandora`` connection.

    :param pandora_conn_id: connection id; login = access key, password = secret key,
        host = endpoint URL, extras ``region``, ``timeout``, ``retry_limit``, ``retry_delay``,
        ``verify``, ``ca_bundle``, ``console_url``.
    :param timeout: seconds per HTTP request (overrides the connection's ``timeout``).
    :param retry_limit: attempts for idempotent calls (overrides the connection).
    :param retry_delay: first back-off delay in seconds (overrides the connection).
    """

    conn_name_attr = "pandora_conn_id"
    default_conn_name = "pandora_default"
    conn_type = "pandora"
    hook_name = "Qiniu Pandora"

    #: Methods the service treats as idempotent; a POST is retried only when it is a start/stop action.
    IDEMPOTENT_METHODS: ClassVar[frozenset[str]] = frozenset({"GET", "HEAD", "PUT", "DELETE"})

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pandora_conn_id={self.pandora_conn_id!r})"

    # ---- configuration ------------------------------------------------------------------
    def _with_overrides(self, config: PandoraConnectionConfig) -> PandoraConnectionConfig:
        return PandoraConnectionConfig(
            endpoint=config.endpoint,
            access_key=config.access_key,
            secret_key=config.secret_key,
            region=config.region,
            timeout=self._timeout if self._timeout is not None else config.timeout,
            retry_limit=max(1, self._retry_limit) if self._retry_limit is not None else config.retry_limit,
            retry_delay=self._retry_delay if self._retry_delay is not None else config.retry_delay,
            verify=config.verify,
            console_url=config.console_url,
        )

    @cached_property
    def config(self) -> PandoraConnectionConfig:
        conn = self.get_connection(self.pandora_conn_id)
        return self._with_overrides(PandoraConnectionConfig.from_connection(conn))

    @property
    def region(self) -> str:
        return self.config.region

    def get_conn(self) -> requests.Session:
        """The pooled, signed ``requests.Session`` (one per hook, keep-alive)."""
        return self._session

    @cached_property
    def _session(self) -> requests.Session:
        config = self.config
        session = requests.Session()
        session.auth = auth.PandoraAuth(config.access_key, config.secret_key)
        session.headers["User-Agent"] = USER_AGENT
        session.verify = config.verify
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def close(self) -> None:
        if "_session" in self.__dict__:
            self._session.close()
            del self.__dict__["_session"]

    # ---- retries ------------------------------------------------------------------------
    @staticmethod
    def is_retryable(exc: BaseException) -> bool:
        """The one rule for what a retry can fix: transport failures, timeouts, 5xx and 429.

        A certificate that fails verification is a transport failure no retry can fix.
        """
        if is_certificate_error(exc):
            return False
        if isinstance(exc, PandoraServerError):
            # 501 (E9001, no such endpoint or method) and 505 answer the same however often they are asked.
            return exc.status_code not in (501, 505)
        if isinstance(exc, PandoraApiError):
            return exc.status_code == 429
        if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
            return True
        try:
            import httpx
        except ImportError:  # pragma: no cover - httpx is a dependency
            return False
        return isinstance(exc, (httpx.TransportError, httpx.TimeoutException))

    def _retry_kwargs(self, config: PandoraConnectionConfig, attempts: int) -> dict[str, Any]:
        return {
            "stop": tenacity.stop_after_attempt(attempts),
            # Exponential backoff plus jitter, spelled so that tenacity 8 and 9 agree (9.2 deprecates
            # wait_exponential_jitter's ``initial``).
            "wait": tenacity.wait_exponential(multiplier=config.retry_delay, max=MAX_RETRY_WAIT)
            + tenacity.wait_random(0, config.retry_delay),
            "retry": tenacity.retry_if_exception(self.is_retryable),
            "reraise": True,
            "before_sleep": self._log_retry,
        }

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        self.log.warning("Pandora request failed (%s); retrying, attempt %d", exc, state.attempt_number + 1)

    @classmethod
    def _idempotent(cls, method: str, path: str) -> bool:
        return method in cls.IDEMPOTENT_METHODS or (method == "POST" and "/actions/" in path)

    # ---- sync transport -------------------------------------------------------------------
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

        :param retry: retry transient failures; defaults to ``True`` for idempotent calls only,
            so a creating POST is never sent twice by the hook itself.
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
            response = self._session.request(
                method,
                url,
                data=body,
                params=params,
                headers=send_headers,
                timeout=(min(10.0, config.timeout), config.timeout),
                # Per request: requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override ``session.verify``,
                # which would silently ignore the connection's ca_bundle or verify=false.
                verify=config.verify,
            )
            return self._handle(method, path, response.status_code, response.content, response.headers)

        if not retry:
            return send()
        return tenacity.Retrying(**self._retry_kwargs(config, config.retry_limit))(send)

    def _handle(
        self, method: str, path: str, status: int, content: bytes, headers: Mapping[str, str]
    ) -> tuple[Any, str | None]:
        reqid = headers.get("X-Reqid")
        if status != 200:
            err = error_from_response(status, content, reqid)
            self.log.debug("Pandora %s %s -> %s %s", method, path, status, err.code or "")
            raise err
        self.log.debug("Pandora %s %s -> 200 (reqid %s)", method, path, reqid)
        if not content.strip():
            return {}, reqid
        try:
            return json.loads(content), reqid
        except ValueError:
            return {"raw": content.decode("utf-8", "replace")}, reqid

    # ---- async transport ------------------------------------------------------------------
    async def _aconfig(self) -> PandoraConnectionConfig:
        if self._async_config is None:
            from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson

            conn = await get_async_connection(self.pandora_conn_id, hook=self)
            extra = await get_async_extra_dejson(conn)
            self._async_config = self._with_overrides(PandoraConnectionConfig.from_connection(conn, extra))
        return self._async_config

    async def _aclient(self) -> httpx.AsyncClient:
        if self._async_client is None:
            config = await self._aconfig()
            self._async_client, self._async_gate = _SHARED_ASYNC_CLIENTS.acquire(config)
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
        """Async twin of :meth:`request`, on one ``httpx.AsyncClient`` reused for the hook's life."""
        config = await self._aconfig()
        client = await self._aclient()
        method = method.upper()
        retry = self._idempotent(method, path) if retry is None else retry

        gate = self._async_gate or contextlib.nullcontext()

        async def send() -> Any:
            async with gate:
                response = await client.request(method, path, params=params, json=json_body)
            return self._handle(method, path, response.status_code, response.content, response.headers)[0]

        if not retry:
            return await send()
        return await tenacity.AsyncRetrying(**self._retry_kwargs(config, config.retry_limit))(send)

    async def aclose(self) -> None:
        """Let go of the shared async client (closed once the last hook of this loop using it lets go)."""
        if self._async_client is not None:
            client, self._async_client, self._async_gate = self._async_client, None, None
            await _SHARED_ASYNC_CLIENTS.release(client)

    async def __aenter__(self) -> PandoraHook:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- helpers ----------------------------------------------------------------------------
    def _exists(self, path: str) -> bool:
        try:
            self.request("GET", path)
        except PandoraNotFoundError:
            return False
        return True

    def _region(self, region: str | None) -> str:
        return rules.check_region(region or self.region)

    # =========================================================================================
    # Groups
    # =========================================================================================
    def create_group(
        self, group: str, *, container: Mapping[str, Any], region: str | None = None, allocate_on_start: bool = False
    ) -> dict[str, Any]:
        rules.check_name(group, "group", code="E18221")
        body = {
            "region": self._region(region),
            "container": rules.check_container(container),
            "allocateOnStart": bool(allocate_on_start),
        }
        return self.request("POST", f"/v2/groups/{_segment(group)}", json_body=body)  # type: ignore[no-any-return]

    def update_group(self, group: str, *, container: Mapping[str, Any]) -> dict[str, Any]:
        rules.check_name(group, "group", code="E18221")
        return self.request(  # type: ignore[no-any-return]
            "PUT", f"/v2/groups/{_segment(group)}", json_body={"container": rules.check_container(container)}
        )

    def start_group(self, group: str) -> dict[str, Any]:
        rules.check_name(group, "group", code="E18221")
        return self.request("POST", f"/v2/groups/{_segment(group)}/actions/start")  # type: ignore[no-any-return]

    def stop_group(self, group: str) -> dict[str, Any]:
        rules.check_name(group, "group", code="E18221")
        return self.request("POST", f"/v2/groups/{_segment(group)}/actions/stop")  # type: ignore[no-any-return]

    def list_groups(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/v2/groups").get("groups") or [])

    def get_group(self, group: str) -> dict[str, Any]:
        rules.check_name(group, "group", code="E18221")
        return self.request("GET", f"/v2/groups/{_segment(group)}")  # type: ignore[no-any-return]

    def delete_group(self, group: str) -> dict[str, Any]:
        rules.check_name(group, "group", code="E18221")
        return self.request("DELETE", f"/v2/groups/{_segment(group)}")  # type: ignore[no-any-return]

    def group_exists(self, group: str) -> bool:
        rules.check_name(group, "group", code="E18221")
        return self._exists(f"/v2/groups/{_segment(group)}")

    @staticmethod
    def group_status(info: Mapping[str, Any]) -> str:
        """``running`` or ``idle`` from a :meth:`get_group` answer."""
        container = info.get("container") or {}
        return str(container.get("status") or info.get("status") or "").lower()

    async def aget_group(self, group: str) -> dict[str, Any]:
        rules.check_name(group, "group", code="E18221")
        return await self.arequest("GET", f"/v2/groups/{_segment(group)}")  # type: ignore[no-any-return]

    # =========================================================================================
    # Repos
    # =========================================================================================
    def create_repo(
        self,
        repo: str,
        *,
        schema: Sequence[Mapping[str, Any]],
        region: str | None = None,
        group: str | None = None,
        repo_type: str | None = None,
        bucket: str | None = None,
        key_prefix: str | None = None,
        file_type: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create a realtime (``rt``) repo, or a ``kodo`` repo reading ``bucket``/``key_prefix`` files."""
        rules.check_name(repo, "repo")
        fields = rules.parse_schema(schema, "schema")
        body: dict[str, Any] = {"region": self._region(region), "schema": rules.schema_to_json(fields)}
        if repo_type is not None:
            body["type"] = rules.check_choice(repo_type, rules.REPO_TYPES, "repo_type", code="E18109")
        if repo_type == "kodo":
            if group:
                raise PandoraValidationError("group", "kodo repos do not belong to a group; leave it empty")
            if not bucket or key_prefix is None or not file_type:
                raise PandoraValidationError("bucket", "kodo repos need bucket, key_prefix and file_type")
            body.update(
                bucket=bucket,
                keyPrefix=key_prefix,
                fileType=rules.check_choice(file_type, rules.KODO_FILE_TYPES, "file_type"),
            )
        elif bucket or key_prefix or file_type:
            raise PandoraValidationError("bucket", "bucket, key_prefix and file_type are only for repo_type='kodo'")
        if group:
            body["group"] = rules.check_name(group, "group", code="E18221")
        if options:
            body["options"] = dict(options)
        return self.request("POST", f"/v2/repos/{_segment(repo)}", json_body=body)  # type: ignore[no-any-return]

    def list_repos(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/v2/repos").get("repos") or [])

    def get_repo(self, repo: str) -> dict[str, Any]:
        rules.check_name(repo, "repo")
        return self.request("GET", f"/v2/repos/{_segment(repo)}")  # type: ignore[no-any-return]

    def get_repo_schema(self, repo: str) -> tuple[rules.Field, ...]:
        """The repo's schema, parsed (what encoders validate points against)."""
        return rules.parse_schema(self.get_repo(repo).get("schema") or [], f"repo {repo!r} schema", allow_empty=True)

    def update_repo(self, repo: str, *, schema: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Replace the repo's schema; the service only lets fields be added."""
        rules.check_name(repo, "repo")
        fields = rules.parse_schema(schema, "schema")
        return self.request(  # type: ignore[no-any-return]
            "PUT", f"/v2/repos/{_segment(repo)}", json_body={"schema": rules.schema_to_json(fields)}
        )

    def delete_repo(self, repo: str) -> dict[str, Any]:
        rules.check_name(repo, "repo")
        return self.request("DELETE", f"/v2/repos/{_segment(repo)}")  # type: ignore[no-any-return]

    def repo_exists(self, repo: str) -> bool:
        rules.check_name(repo, "repo")
        return self._exists(f"/v2/repos/{_segment(repo)}")

    # =========================================================================================
    # Data push
    # =========================================================================================
    def push_batch(
        self, repo: str, body: bytes, *, gzip: bool = False, retry: bool = False, content_type: str = PUSH_CONTENT_TYPE
    ) -> str | None:
        """POST one pre-encoded batch (< 2 MiB uncompressed); returns the request id.

        Not retried by default: a lost answer may mean the batch was stored, and retrying makes
        delivery at-least-once. Transfers opt in per batch and count what they resend.
        """
        rules.check_name(repo, "repo")
        if len(body) >= wire.MAX_BATCH_BYTES:
            raise PandoraValidationError(
                "data",
                f"batch is {len(body)} bytes; a push must stay below {wire.MAX_BATCH_BYTES} bytes "
                "(pass points instead of bytes to have them split)",
            )
        if not body.strip():
            raise PandoraValidationError("data", "is empty; there is nothing to push")
        headers = {"Content-Type": content_type}
        if gzip:
            body = gzip_module.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        _, reqid = self.request_with_reqid(
            "POST", f"/v2/repos/{_segment(repo)}/data", data=body, headers=headers, retry=retry
        )
        return reqid

    def push_data(
        self,
        repo: str,
        data: bytes | str | Iterable[Mapping[str, Any]],
        *,
        schema: Sequence[Mapping[str, Any]] | Sequence[Any] | None = None,
        gzip: bool = False,
        retry: bool = False,
        content_type: str = PUSH_CONTENT_TYPE,
    ) -> PushResult:
        """Push points (dicts) or pre-encoded wire text to a repo.

        Points are validated against the repo schema (fetched unless ``schema`` is given) and
        split into batches below 2 MiB; a bad point raises :class:`~airflow_provider_pandora.wire.PointError`
        naming its index and field before anything is sent.
        """
        if isinstance(data, (bytes, str)):
            raw = data.encode("utf-8") if isinstance(data, str) else data
            if raw and not raw.endswith(b"\n"):
                raw += b"\n"
            reqid = self.push_batch(repo, raw, gzip=gzip, retry=retry, content_type=content_type)
            return PushResult(len(wire.split_lines(raw)), len(raw), 1, (reqid,) if reqid else ())
        encoder = self.encoder_for(repo, schema)
        lines = list(encoder.encode_all(data))  # validate everything before the first request
        if not lines:
            raise PandoraValidationError("points", "is empty; there is nothing to push")
        total_bytes = batches = 0
        reqids: list[str] = []
        for batch in wire.batches(lines):
            body = wire.body_of(batch)
            reqid = self.push_batch(repo, body, gzip=gzip, retry=retry, content_type=content_type)
            total_bytes += len(body)
            batches += 1
            if reqid:
                reqids.append(reqid)
        return PushResult(len(lines), total_bytes, batches, tuple(reqids))

    def encoder_for(
        self, repo: str, fields: Sequence[Any] | None = None, field_map: Mapping[str, str | None] | None = None
    ) -> wire.PointEncoder:
        """An encoder for ``repo``: ``fields`` as spec dicts or parsed fields, else the repo's own schema."""
        if fields is None:
            parsed = self.get_repo_schema(repo)
        elif all(isinstance(f, rules.Field) for f in fields):
            parsed = tuple(fields)
        else:
            parsed = rules.parse_schema(fields, "schema")
        return wire.PointEncoder(parsed, field_map=field_map)

    # =========================================================================================
    # Transforms and plugins
    # =========================================================================================
    def _transform_spec(
        self,
        *,
        code: str | None,
        mode: str | None,
        plugin: Mapping[str, Any] | None,
        interval: str | None,
        container: Mapping[str, Any] | None,
        update: bool,
    ) -> dict[str, Any]:
        if not code and not plugin:
            raise PandoraValidationError("code", "give SQL code, a plugin, or both: a transform needs one")
        body: dict[str, Any] = {}
        if plugin:
            if not isinstance(plugin, Mapping):
                raise PandoraValidationError("plugin", 'must be {"name": ..., "output": [{"name", "type"}]}')
            rules.check_plugin_name(plugin.get("name"), "plugin.name")
            outputs = plugin.get("output") or []
            if not isinstance(outputs, Sequence) or not outputs:
                raise PandoraValidationError("plugin.output", "must list the plugin's output fields")
            checked = []
            for i, out in enumerate(outputs):
                if not isinstance(out, Mapping):
                    raise PandoraValidationError(f"plugin.output[{i}]", 'must be {"name", "type"}')
                name = rules.check_name(out.get("name"), f"plugin.output[{i}].name", code="E18106")
                otype = out.get("type") or "string"
                rules.check_choice(otype, sorted(rules.PLUGIN_OUTPUT_TYPES), f"plugin.output[{i}].type", code="E18211")
                checked.append({"name": name, "type": otype})
            body["plugin"] = {"name": plugin["name"], "output": checked}
        if code:
            if not update:
                body["mode"] = rules.check_choice(mode or "sql", ("sql",), "mode", code="E18203")
            body["code"] = code
        if interval is not None:
            body["interval"] = rules.check_interval(interval, update=update)
        if container is not None:
            body["container"] = rules.check_container(container)
        return body

    def create_transform(
        self,
        repo: str,
        transform: str,
        dest_repo: str,
        *,
        code: str | None = None,
        mode: str | None = "sql",
        plugin: Mapping[str, Any] | None = None,
        interval: str | None = None,
        container: Mapping[str, Any] | None = None,
        whence: str | None = None,
    ) -> dict[str, Any]:
        """Create a transform from ``repo`` into ``dest_repo`` (created by the service if missing)."""
        rules.check_name(repo, "repo")
        rules.check_name(transform, "transform", code="E18207")
        rules.check_name(dest_repo, "dest_repo")
        if repo == dest_repo:
            raise PandoraValidationError("dest_repo", "must differ from the source repo")
        body = self._transform_spec(
            code=code, mode=mode, plugin=plugin, interval=interval, container=container, update=False
        )
        if whence is not None:
            body["whence"] = rules.check_choice(whence, rules.WHENCE_VALUES, "whence")
        path = f"/v2/repos/{_segment(repo)}/transforms/{_segment(transform)}/to/{_segment(dest_repo)}"
        return self.request("POST", path, json_body=body)  # type: ignore[no-any-return]

    def update_transform(
        self,
        repo: str,
        transform: str,
        *,
        code: str | None = None,
        plugin: Mapping[str, Any] | None = None,
        interval: str | None = None,
        container: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        rules.check_name(repo, "repo")
        rules.check_name(transform, "transform", code="E18207")
        if not (code or plugin or interval or container):
            raise PandoraValidationError("code", "give at least one of code, plugin, interval or container to update")
        if code or plugin:
            body = self._transform_spec(
                code=code, mode=None, plugin=plugin, interval=interval, container=container, update=True
            )
        else:
            body = _compact(
                {
                    "interval": rules.check_interval(interval, update=True) if interval else None,
                    "container": rules.check_container(container) if container else None,
                }
            )
        path = f"/v2/repos/{_segment(repo)}/transforms/{_segment(transform)}"
        return self.request("PUT", path, json_body=body)  # type: ignore[no-any-return]

    def list_transforms(self, repo: str) -> list[dict[str, Any]]:
        rules.check_name(repo, "repo")
        return list(self.request("GET", f"/v2/repos/{_segment(repo)}/transforms").get("transforms") or [])

    def get_transform(self, repo: str, transform: str) -> dict[str, Any]:
        rules.check_name(repo, "repo")
        rules.check_name(transform, "transform", code="E18207")
        return self.request(  # type: ignore[no-any-return]
            "GET", f"/v2/repos/{_segment(repo)}/transforms/{_segment(transform)}"
        )

    def delete_transform(self, repo: str, transform: str) -> dict[str, Any]:
        rules.check_name(repo, "repo")
        rules.check_name(transform, "transform", code="E18207")
        return self.request(  # type: ignore[no-any-return]
            "DELETE", f"/v2/repos/{_segment(repo)}/transforms/{_segment(transform)}"
        )

    def transform_exists(self, repo: str, transform: str) -> bool:
        rules.check_name(repo, "repo")
        rules.check_name(transform, "transform", code="E18207")
        return self._exists(f"/v2/repos/{_segment(repo)}/transforms/{_segment(transform)}")

    def upload_plugin(self, plugin: str, jar: bytes | str | os.PathLike[str]) -> dict[str, Any]:
        """Upload a plugin jar (bytes or a file path) with its Content-MD5; at most 20 MB."""
        rules.check_plugin_name(plugin, "plugin")
        if isinstance(jar, (str, os.PathLike)):
            path = os.fspath(jar)
            if not os.path.isfile(path):
                raise PandoraValidationError("jar_path", f"{path!r} is not a file")
            with open(path, "rb") as fh:
                content = fh.read(MAX_PLUGIN_BYTES + 1)
        else:
            content = bytes(jar)
        if not content:
            raise PandoraValidationError("jar_path", "the jar is empty")
        if len(content) > MAX_PLUGIN_BYTES:
            raise PandoraValidationError("jar_path", f"the jar is over the {MAX_PLUGIN_BYTES} byte plugin limit")
        headers = {"Content-Type": "application/java-archive", "Content-MD5": auth.content_md5(content)}
        return self.request(  # type: ignore[no-any-return]
            "POST", f"/v2/plugins/{_segment(plugin)}", data=content, headers=headers
        )

    def list_plugins(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/v2/plugins").get("plugins") or [])

    def get_plugin(self, plugin: str) -> dict[str, Any]:
        rules.check_plugin_name(plugin, "plugin")
        return self.request("GET", f"/v2/plugins/{_segment(plugin)}")  # type: ignore[no-any-return]

    def delete_plugin(self, plugin: str) -> dict[str, Any]:
        rules.check_plugin_name(plugin, "plugin")
        return self.request("DELETE", f"/v2/plugins/{_segment(plugin)}")  # type: ignore[no-any-return]

    def plugin_exists(self, plugin: str) -> bool:
        rules.check_plugin_name(plugin, "plugin")
        return self._exists(f"/v2/plugins/{_segment(plugin)}")

    # =========================================================================================
    # Exports
    # =========================================================================================
    def create_export(
        self, repo: str, export: str, *, export_type: str, spec: Mapping[str, Any], whence: str | None = None
    ) -> dict[str, Any]:
        rules.check_name(repo, "repo")
        rules.check_name(export, "export", code="E18305")
        etype = rules.normalise_export_type(export_type)
        body: dict[str, Any] = {"type": etype, "spec": rules.check_export_spec(etype, spec)}
        if whence is not None:
            body["whence"] = rules.check_choice(whence, rules.WHENCE_VALUES, "whence")
        path = f"/v2/repos/{_segment(repo)}/exports/{_segment(export)}"
        return self.request("POST", path, json_body=body)  # type: ignore[no-any-return]

    def update_export(
        self, repo: str, export: str, *, spec: Mapping[str, Any], export_type: str | None = None
    ) -> dict[str, Any]:
        """Replace an export's spec (type and whence cannot change); validated locally when the type is given."""
        rules.check_name(repo, "repo")
        rules.check_name(export, "export", code="E18305")
        if not isinstance(spec, Mapping) or not spec:
            raise PandoraValidationError("spec", "must be a non-empty object")
        if export_type is not None:
            rules.check_export_spec(rules.normalise_export_type(export_type), spec)
        path = f"/v2/repos/{_segment(repo)}/exports/{_segment(export)}"
        return self.request("PUT", path, json_body={"spec": dict(spec)})  # type: ignore[no-any-return]

    def list_exports(self, repo: str) -> list[dict[str, Any]]:
        """All exports of a repo (the SDK's ``{"exports": [...]}``; the spec's single object is wrapped)."""
        rules.check_name(repo, "repo")
        payload = self.request("GET", f"/v2/repos/{_segment(repo)}/exports")
        if isinstance(payload, list):
            return payload
        if "exports" in payload:
            return list(payload["exports"] or [])
        return [payload] if payload.get("name") else []

    def get_export(self, repo: str, export: str) -> dict[str, Any]:
        rules.check_name(repo, "repo")
        rules.check_name(export, "export", code="E18305")
        return self.request(  # type: ignore[no-any-return]
            "GET", f"/v2/repos/{_segment(repo)}/exports/{_segment(export)}"
        )

    def delete_export(self, repo: str, export: str) -> dict[str, Any]:
        rules.check_name(repo, "repo")
        rules.check_name(export, "export", code="E18305")
        return self.request(  # type: ignore[no-any-return]
            "DELETE", f"/v2/repos/{_segment(repo)}/exports/{_segment(export)}"
        )

    def export_exists(self, repo: str, export: str) -> bool:
        rules.check_name(repo, "repo")
        rules.check_name(export, "export", code="E18305")
        return self._exists(f"/v2/repos/{_segment(repo)}/exports/{_segment(export)}")

    # =========================================================================================
    # Offline jobs (the spec's paths, with the missing "/" restored)
    # =========================================================================================
    @staticmethod
    def _job_path(repo: str, job: str, suffix: str = "") -> str:
        rules.check_name(repo, "repo")
        rules.check_name(job, "job", code="E18604")
        return f"/v2/repos/{_segment(repo)}/jobs/{_segment(job)}{suffix}"

    def submit_job(
        self,
        repo: str,
        job: str,
        dest_repo: str,
        *,
        code: str,
        container: Mapping[str, Any],
        scheduler: Mapping[str, Any],
        params: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create an offline job reading ``repo`` (a realtime or ``kodo`` repo) into ``dest_repo``."""
        rules.check_name(dest_repo, "dest_repo")
        if not isinstance(code, str) or not code.strip():
            raise PandoraValidationError("code", "is required: the job's SQL")
        body: dict[str, Any] = {
            "code": code,
            "container": rules.check_container(container),
            "scheduler": rules.check_scheduler(scheduler),
        }
        checked = rules.check_params(params)
        if checked:
            body["params"] = checked
        path = self._job_path(repo, job, f"/to/{_segment(dest_repo)}")
        return self.request("POST", path, json_body=body)  # type: ignore[no-any-return]

    def start_job(
        self, repo: str, job: str, *, params: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Start a run. Not retried automatically: a lost answer may still have started a run."""
        body = {"params": rules.check_params(params)}
        return self.request(  # type: ignore[no-any-return]
            "POST", self._job_path(repo, job, "/actions/start"), json_body=body, retry=False
        )

    def stop_job(self, repo: str, job: str) -> dict[str, Any]:
        return self.request("POST", self._job_path(repo, job, "/actions/stop"))  # type: ignore[no-any-return]

    async def astop_job(self, repo: str, job: str) -> dict[str, Any]:
        return await self.arequest("POST", self._job_path(repo, job, "/actions/stop"))  # type: ignore[no-any-return]

    def get_job(self, repo: str, job: str) -> dict[str, Any]:
        """The job's definition (an extension the emulator serves, mirroring the SDK's ``GET /v2/jobs/<job>``)."""
        return self.request("GET", self._job_path(repo, job))  # type: ignore[no-any-return]

    async def aget_job(self, repo: str, job: str) -> dict[str, Any]:
        return await self.arequest("GET", self._job_path(repo, job))  # type: ignore[no-any-return]

    def delete_job(self, repo: str, job: str) -> dict[str, Any]:
        return self.request("DELETE", self._job_path(repo, job))  # type: ignore[no-any-return]

    def job_exists(self, repo: str, job: str) -> bool:
        return self._exists(self._job_path(repo, job))

    def get_job_history(self, repo: str, job: str, *, page: int = 1, size: int = 20) -> list[JobRun]:
        """Runs of a job, newest first, with statuses normalised to :class:`JobStatus`."""
        payload = self.request("GET", self._job_path(repo, job, "/history"), params={"page": page, "size": size})
        return parse_job_history(payload)

    async def aget_job_history(self, repo: str, job: str, *, page: int = 1, size: int = 20) -> list[JobRun]:
        payload = await self.arequest("GET", self._job_path(repo, job, "/history"), params={"page": page, "size": size})
        return parse_job_history(payload)

    def get_latest_job_run(
        self,
        repo: str,
        job: str,
        *,
        since: datetime | None = None,
        run_id: int | None = None,
        after_run_id: int | None = None,
    ) -> JobRun | None:
        """The run a caller waits for; see :func:`select_run` for how it is chosen."""
        size = _history_size(since, run_id, after_run_id)
        return select_run(self.get_job_history(repo, job, size=size), since, run_id=run_id, after_run_id=after_run_id)

    async def aget_latest_job_run(
        self,
        repo: str,
        job: str,
        *,
        since: datetime | None = None,
        run_id: int | None = None,
        after_run_id: int | None = None,
    ) -> JobRun | None:
        size = _history_size(since, run_id, after_run_id)
        runs = await self.aget_job_history(repo, job, size=size)
        return select_run(runs, since, run_id=run_id, after_run_id=after_run_id)

    # =========================================================================================
    # Datasource schema
    # =========================================================================================
    def get_datasource_schema(
        self, *, bucket: str, key_prefix: str, file_type: str, region: str | None = None
    ) -> list[dict[str, Any]]:
        """Infer the schema of Kodo files (``GET /v2/schemas`` with a JSON body, as the spec says)."""
        if not bucket:
            raise PandoraValidationError("bucket", "is required")
        body = {
            "region": self._region(region),
            "bucket": bucket,
            "keyPrefix": key_prefix or "",
            "fileType": rules.check_choice(file_type, rules.KODO_FILE_TYPES, "file_type"),
        }
        return list(self.request("GET", "/v2/schemas", json_body=body).get("schema") or [])

    # =========================================================================================
    # Tokens
    # =========================================================================================
    def make_token(self, resource: str, *, method: str = "POST", expires_in: int = 3600, content_type: str = "") -> str:
        """Mint a short-lived ``Authorization`` value for one method on one resource; masked in logs."""
        config = self.config
        token = auth.make_token(
            config.access_key,
            config.secret_key,
            resource=resource,
            method=method,
            expires=int(time.time()) + int(expires_in),
            content_type=content_type,
        )
        _mask(token)
        return token

    def make_push_token(self, repo: str, *, expires_in: int = 3600, content_type: str = PUSH_CONTENT_TYPE) -> str:
        """A token that lets a third party push data into ``repo`` only, until it expires."""
        rules.check_name(repo, "repo")
        return self.make_token(
            f"/v2/repos/{repo}/data", method="POST", expires_in=expires_in, content_type=content_type
        )

    # =========================================================================================
    # Airflow integration
    # =========================================================================================
    def test_connection(self) -> tuple[bool, str]:
        """Cheap signed ``GET /v2/groups``; never raises (Airflow's connection test contract)."""
        try:
            groups = self.list_groups()
        except PandoraAuthError as err:
            return False, (
                f"Authentication failed (HTTP {err.status_code}{', ' + err.code if err.code else ''}): "
                f"{err.message}. {err.hint}"
            )
        except PandoraApiError as err:
            return False, f"Pandora answered with an error: {err}"
        except requests.RequestException as err:
            if is_certificate_error(err):
                return False, (
                    f"The TLS certificate of {self.config.endpoint} could not be verified ({err}). Give the CA "
                    "that signed it in the connection extra 'ca_bundle' (a PEM file path)."
                )
            return False, f"Could not reach the Pandora endpoint: {err}"
        except Exception as err:
            return False, f"{type(err).__name__}: {err}"
        return True, f"Connected to {self.config.endpoint} ({len(groups)} groups visible)"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Airflow 2 form (Airflow 3 reads the declarative ``conn-fields`` instead)."""
        return ui_field_behaviour(_pandora_connection())

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Airflow 2 form widgets for the extras, from the same declarative fields."""
        return form_widgets(_pandora_connection())


def _history_size(since: datetime | None, run_id: int | None = None, after_run_id: int | None = None) -> int:
    return 1 if since is None and run_id is None and after_run_id is None else 50


def select_run(
    runs: Sequence[JobRun],
    since: datetime | None,
    *,
    run_id: int | None = None,
    after_run_id: int | None = None,
) -> JobRun | None:
    """Pick the run a waiter watches from a history page (newest first).

    ``run_id`` (what the start call answered) selects exactly that run. Otherwise runs with an id not
    above ``after_run_id`` (the newest run before our start call) are ignored, so a run that ended just
    before ours is never mistaken for it; then the earliest run started at or after ``since``, or the
    newest run when ``since`` is ``None``.
    """
    if run_id is not None:
        return next((r for r in runs if r.run_id == run_id), None)
    if after_run_id is not None:
        runs = [r for r in runs if r.run_id is None or r.run_id > after_run_id]
    if not runs:
        return None
    if since is None:
        return runs[0]
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    candidates = [r for r in runs if r.start_time is not None and r.start_time >= since]
    return min(candidates, key=lambda r: r.start_time or since) if candidates else None


def _ssl_verify(verify: bool | str) -> bool | ssl.SSLContext:
    """httpx's form of ``verify``: a CA bundle path becomes an SSL context (httpx deprecates paths)."""
    if isinstance(verify, bool):
        return verify
    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    return ssl.create_default_context(cafile=verify)


def is_certificate_error(exc: BaseException) -> bool:
    """Whether a requests/httpx error comes from a server certificate that failed verification."""
    seen: BaseException | None = exc
    for _ in range(8):  # requests and httpx wrap the ssl error a few levels deep
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        reason = getattr(seen, "reason", None)  # urllib3's MaxRetryError
        inner = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = (reason if isinstance(reason, BaseException) else None) or seen.__cause__ or seen.__context__ or inner
    return False


def run_id_of(value: Any) -> int | None:
    """A run id from a start answer or history record (the docs show strings, the Go SDK ints)."""
    if isinstance(value, Mapping):
        value = value.get("runId")
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _mask(value: str) -> None:
    """Register a derived secret with Airflow's masker (no-op outside Airflow's logging)."""
    try:
        from airflow.providers.common.compat.sdk import mask_secret

        mask_secret(value)
    except Exception:  # pragma: no cover - masking must never break the call
        log.debug("could not register a derived secret for masking", exc_info=True)
