"""``KodoHook``: read Qiniu Kodo objects through Kodo's S3-compatible API with boto3.

Why S3 and not the native ``qiniu`` SDK: downloads need no bound domain or signed URL, listing has
a paginator that raises instead of returning errors, retries with back-off are built in, and moto's
S3 server stands in for Kodo in tests (``tests/moto_s3.py`` starts one on a free port). boto3 is the ``kodo``
extra and is imported only when a client is built, so the rest of the provider never needs it.

Connection ``kodo``: login = access key (AK), password = secret key (SK), host = S3 endpoint such as
``https://s3.cn-east-1.qiniucs.com``; extras ``region`` (derived from the host when it names one),
``addressing_style`` (``path`` or ``virtual``), ``timeout``, ``retry_limit``, ``verify``, ``ca_bundle``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_pandora.connection_form import form_widgets, ui_field_behaviour
from airflow_provider_pandora.exceptions import KodoError, PandoraValidationError
from airflow_provider_pandora.get_provider_info import _kodo_connection
from airflow_provider_pandora.hooks._connection import (
    connection_endpoint,
    connection_extra,
    connection_verify,
    mask_secret,
)

if TYPE_CHECKING:
    from botocore.response import StreamingBody

DEFAULT_REGION = "cn-east-1"
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRY_LIMIT = 5
ADDRESSING_STYLES = ("path", "virtual")
INSTALL_HINT = "pip install 'airflow-provider-pandora[kodo]'"

# s3.cn-east-1.qiniucs.com (current) and s3-cn-east-1.qiniucs.com (older docs and code).
_REGION_IN_HOST = re.compile(r"^s3[.-]([a-z0-9-]+)\.qiniucs\.com$")
#: S3 error codes that mean "the credentials or their rights are wrong", not "the object is missing".
_AUTH_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "403"}
)


def region_from_host(host: str) -> str | None:
    """``https://s3.cn-south-1.qiniucs.com`` -> ``cn-south-1``; ``None`` when the host names no region."""
    name = re.sub(r"^[a-z]+://", "", host.strip().lower()).split("/", 1)[0].split(":", 1)[0]
    match = _REGION_IN_HOST.match(name)
    return match.group(1) if match else None


@dataclass(frozen=True)
class KodoConnectionConfig:
    """What a ``kodo`` connection says, parsed and checked once."""

    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    region: str = DEFAULT_REGION
    addressing_style: str = "path"
    timeout: float = DEFAULT_TIMEOUT
    retry_limit: int = DEFAULT_RETRY_LIMIT
    verify: bool | str = True

    @classmethod
    def from_connection(cls, conn: Any, extra: Mapping[str, Any] | None = None) -> KodoConnectionConfig:
        """Parse a ``kodo`` connection; names what is missing."""
        extra = dict(extra if extra is not None else connection_extra(conn))
        if not conn.login or not conn.password:
            raise PandoraValidationError(
                "connection", f"{conn.conn_id!r} needs the Kodo access key as login and the secret key as password"
            )
        if not (conn.host or "").strip():
            raise PandoraValidationError(
                "connection.host", f"{conn.conn_id!r} needs the S3 endpoint, e.g. https://s3.cn-east-1.qiniucs.com"
            )
        endpoint = connection_endpoint(conn, extra, None)
        style = str(extra.get("addressing_style") or "path").strip().lower()
        if style not in ADDRESSING_STYLES:
            raise PandoraValidationError("connection.extra.addressing_style", f"{style!r} is not path or virtual")
        return cls(
            endpoint=endpoint,
            access_key=conn.login,
            secret_key=conn.password,
            region=str(extra.get("region") or region_from_host(endpoint) or DEFAULT_REGION),
            addressing_style=style,
            timeout=float(extra.get("timeout") or DEFAULT_TIMEOUT),
            retry_limit=max(1, int(extra.get("retry_limit") or DEFAULT_RETRY_LIMIT)),
            verify=connection_verify(extra),
        )


def _import_boto3() -> Any:
    try:
        import boto3
    except ImportError as err:
        from airflow.providers.common.compat.sdk import AirflowOptionalProviderFeatureException

        raise AirflowOptionalProviderFeatureException(
            f"The Kodo hook needs boto3, which is not installed: {INSTALL_HINT}"
        ) from err
    return boto3


def _botocore_config(config: KodoConnectionConfig) -> Any:
    from botocore.config import Config

    options: dict[str, Any] = {
        "signature_version": "s3v4",
        "s3": {"addressing_style": config.addressing_style},
        "retries": {"mode": "standard", "total_max_attempts": config.retry_limit},
        "connect_timeout": min(10.0, config.timeout),
        "read_timeout": config.timeout,
        "tcp_keepalive": True,
        "max_pool_connections": 16,
    }
    # botocore >= 1.36 adds CRC checksums to every call by default, which several S3-compatible
    # services reject or fail to return; ask for them only where the API requires them.
    if "request_checksum_calculation" in Config.OPTION_DEFAULTS:
        options["request_checksum_calculation"] = "when_required"
        options["response_checksum_validation"] = "when_required"
    return Config(**options)


def _where(bucket: str, key: str | None = None) -> str:
    return f"s3://{bucket}/{key}" if key is not None else f"bucket {bucket!r}"


def _check_bucket(bucket: str) -> None:
    if not bucket or not isinstance(bucket, str):
        raise PandoraValidationError("bucket", "must be a non-empty bucket name")


class ObjectInfo(NamedTuple):
    """One object as a listing or a HEAD request describes it: what tells one version of it from another."""

    key: str
    size: int
    etag: str
    last_modified: str
    """ISO 8601, as the server gave it."""

    def identity(self) -> dict[str, Any]:
        """What a transfer checkpoint compares to tell whether the object changed between tries."""
        return {"etag": self.etag, "size": self.size, "last_modified": self.last_modified}


def _info(key: str, size: Any, etag: Any, modified: Any) -> ObjectInfo:
    stamp = modified.isoformat() if hasattr(modified, "isoformat") else str(modified or "")
    return ObjectInfo(key, int(size or 0), str(etag or "").strip('"'), stamp)


class KodoHook(BaseHook):
    """List and stream objects of Qiniu Kodo buckets with a ``kodo`` connection (S3 API, boto3).

    :param kodo_conn_id: connection id; login = AK, password = SK, host = S3 endpoint, extras
        ``region``, ``addressing_style``, ``timeout``, ``retry_limit``, ``verify``, ``ca_bundle``.
    """

    conn_name_attr = "kodo_conn_id"
    default_conn_name = "kodo_default"
    conn_type = "kodo"
    hook_name = "Qiniu Kodo"

    def __init__(self, kodo_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kodo_conn_id = kodo_conn_id
        self._client: Any = None
        self._client_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kodo_conn_id={self.kodo_conn_id!r})"

    @cached_property
    def config(self) -> KodoConnectionConfig:
        """The connection's settings, read once (the secret key is registered for masking)."""
        config = KodoConnectionConfig.from_connection(self.get_connection(self.kodo_conn_id))
        mask_secret(config.secret_key)
        return config

    # ---- client -------------------------------------------------------------------------
    def get_client(self) -> Any:
        """The boto3 S3 client for this connection, built once per hook (boto3 clients are thread-safe)."""
        with self._client_lock:
            if self._client is None:
                boto3 = _import_boto3()
                config = self.config
                # An own session: boto3's default one is process-global and not thread-safe. The keys are
                # explicit, so the worker's AWS credential chain is never consulted for them.
                session = boto3.session.Session(
                    aws_access_key_id=config.access_key,
                    aws_secret_access_key=config.secret_key,
                    region_name=config.region,
                )
                try:
                    self._client = session.client(
                        "s3", endpoint_url=config.endpoint, verify=config.verify, config=_botocore_config(config)
                    )
                except ValueError as err:  # botocore's "Invalid endpoint: ..."
                    raise PandoraValidationError("connection.host", str(err)) from None
            return self._client

    def get_conn(self) -> Any:
        """Airflow's generic accessor; the same client as :meth:`get_client`."""
        return self.get_client()

    # ---- errors -------------------------------------------------------------------------
    def _error(self, err: Exception, action: str, bucket: str, key: str | None = None, where: str = "") -> Exception:
        """The :class:`KodoError` for a botocore error, naming the object and the likely fix."""
        from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, ParamValidationError
        from botocore.exceptions import ConnectionError as BotoConnectionError

        where = where or _where(bucket, key)
        if isinstance(err, ClientError):
            error = err.response.get("Error", {})
            status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            code = str(error.get("Code") or status or "Unknown")
            if code == "404":  # HEAD responses have no body: botocore reports the bare status as the code
                code = "NoSuchKey" if key is not None and self._bucket_exists(bucket) else "NoSuchBucket"
            if code == "NoSuchBucket":
                text = (
                    f"Kodo bucket {bucket!r} does not exist at {self.config.endpoint}. Kodo's S3 bucket name "
                    "can differ from the Kodo bucket name; the Kodo console shows it"
                )
            elif code == "NoSuchKey":
                text = f"Kodo object {where} does not exist"
            elif code in _AUTH_CODES:
                text = (
                    f"Kodo refused to {action} {where} ({code}, HTTP {status}). Check that connection "
                    f"{self.kodo_conn_id!r} has a matching access key (login) and secret key (password) with "
                    "read rights on the bucket, and that this machine's clock is right"
                )
            else:
                message = str(error.get("Message") or "").strip()
                text = f"Kodo could not {action} {where}: {code}{': ' + message if message else ''} (HTTP {status})"
            return KodoError(text, bucket=bucket, key=key, code=code, status_code=status)
        if isinstance(err, ParamValidationError):
            return PandoraValidationError("bucket" if key is None else "key", f"{where}: {err}")
        if isinstance(err, (BotoConnectionError, HTTPClientError)):
            return KodoError(
                f"Could not reach the Kodo S3 endpoint {self.config.endpoint} to {action} {where}: {err}",
                bucket=bucket,
                key=key,
                code="EndpointUnreachable",
            )
        if isinstance(err, BotoCoreError):
            return KodoError(f"Kodo could not {action} {where}: {err}", bucket=bucket, key=key, code=type(err).__name__)
        return err

    def _bucket_exists(self, bucket: str) -> bool:
        """Tell a missing key from a missing bucket after a bodiless 404; unsure counts as existing."""
        from botocore.exceptions import ClientError

        try:
            self.get_client().head_bucket(Bucket=bucket)
        except ClientError as err:
            return str(err.response.get("Error", {}).get("Code")) not in ("404", "NoSuchBucket")
        except Exception:
            return True
        return True

    def _raise(self, err: Exception, action: str, bucket: str, key: str | None = None, where: str = "") -> NoReturn:
        raise self._error(err, action, bucket, key, where) from err

    # ---- objects ------------------------------------------------------------------------
    def iter_objects(self, bucket: str, prefix: str = "", *, page_size: int | None = None) -> Iterator[tuple[str, int]]:
        """Yield ``(key, size)`` for every object under ``prefix``, across all listing pages.

        Keys ending in ``/`` (folder placeholders) are skipped. ``page_size`` (at most 1000) only
        changes how many keys each request returns.
        """
        for info in self.iter_object_info(bucket, prefix, page_size=page_size):
            yield info.key, info.size

    def iter_object_info(self, bucket: str, prefix: str = "", *, page_size: int | None = None) -> Iterator[ObjectInfo]:
        """As :meth:`iter_objects`, with each object's ETag and LastModified (what tells its versions apart)."""
        _check_bucket(bucket)
        paginator = self.get_client().get_paginator("list_objects_v2")
        pagination = {"PageSize": page_size} if page_size else {}
        try:
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig=pagination):
                for item in page.get("Contents", ()):
                    key = item["Key"]
                    if not key.endswith("/"):
                        yield _info(key, item.get("Size"), item.get("ETag"), item.get("LastModified"))
        except Exception as err:
            self._raise(err, "list", bucket, where=f"prefix {prefix!r} of bucket {bucket!r}")

    def list_keys(
        self, bucket: str, prefix: str = "", *, suffix: str | None = None, page_size: int | None = None
    ) -> list[str]:
        """Every key under ``prefix`` (optionally only those ending in ``suffix``), sorted; for ``.expand()``."""
        keys = [key for key, _ in self.iter_objects(bucket, prefix, page_size=page_size)]
        if suffix:
            keys = [key for key in keys if key.endswith(suffix)]
        return sorted(keys)

    def object_size(self, bucket: str, key: str) -> int:
        """Size of one object in bytes (a HEAD request)."""
        return self.object_info(bucket, key).size

    def object_info(self, bucket: str, key: str) -> ObjectInfo:
        """Size, ETag and LastModified of one object (a HEAD request)."""
        _check_bucket(bucket)
        try:
            response = self.get_client().head_object(Bucket=bucket, Key=key)
        except Exception as err:
            self._raise(err, "read", bucket, key)
        return _info(key, response.get("ContentLength"), response.get("ETag"), response.get("LastModified"))

    def open_object(self, bucket: str, key: str, *, start: int = 0, etag: str | None = None) -> StreamingBody:
        """A streaming body of the object from byte ``start`` on; the caller closes it.

        Nothing is buffered beyond what is read: use ``.read(n)`` or ``.iter_chunks(n)``. With
        ``start > 0`` a ``Range: bytes=start-`` request resumes a partial read; a ``start`` at or past
        the end raises :class:`KodoError` with code ``InvalidRange``. With ``etag``, the read is of that
        version only (``If-Match``): an object replaced since raises :class:`KodoError` with code
        ``PreconditionFailed`` instead of handing back bytes of another version.
        """
        _check_bucket(bucket)
        if start < 0:
            raise PandoraValidationError("start", f"must be >= 0, got {start}")
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if start:
            params["Range"] = f"bytes={start}-"
        if etag:
            params["IfMatch"] = f'"{etag}"'
        try:
            response = self.get_client().get_object(**params)
        except Exception as err:
            self._raise(err, "read", bucket, key)
        return response["Body"]

    # ---- Airflow integration ----------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        """List the buckets the key can see; never raises, and the message never holds the secret key."""
        try:
            response = self.get_client().list_buckets()
        except Exception as err:
            try:
                error = self._error(err, "list the buckets of", "", where="this account")
            except Exception as inner:  # e.g. boto3 missing: the connection test must still answer
                error = inner
            return False, error.message if isinstance(error, KodoError) else f"{type(error).__name__}: {error}"
        buckets = response.get("Buckets") or []
        return True, f"Connected to {self.config.endpoint} ({len(buckets)} buckets visible)"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Airflow 2 form (Airflow 3 reads the declarative ``conn-fields`` instead)."""
        return ui_field_behaviour(_kodo_connection())

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Airflow 2 form widgets for the extras, from the same declarative fields."""
        return form_widgets(_kodo_connection())
