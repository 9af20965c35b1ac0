"""Asset (Airflow 3) and dataset (Airflow 2) URIs for Pandora repos and Kodo objects.

Naming, following OpenLineage's naming spec (namespace = ``scheme://authority``, name = the path):

``pandora://<endpoint host>[:<port>]/<repo>`` or ``pandora://<endpoint host>[:<port>]/<account>/<repo>``
    The authority is the host of the endpoint the ``pandora`` connection talks to, lower-cased, with the port only
    when it is not 80 or 443: every private deployment and data centre has its own endpoint, and the service refuses
    a region that does not match its data centre (E18212), so the endpoint also stands for the region. Repo names
    are unique within one account of one endpoint (the API addresses a repo by name alone), so the repo is the
    path. ``account`` (the connection's ``account`` extra; a Qiniu UID is a good value) is for the one case the
    endpoint does not separate: two accounts of the shared public endpoint feeding one Airflow. The access key is
    never part of the name: an account has several keys and rotates them, and a name that changed with each key
    would break every DAG scheduled on it and split its lineage history; a URI is also shown in the UI, in asset
    events and in lineage backends, wider audiences than the connection's. (Airflow 2 would drop it anyway: it
    strips user info from dataset URIs.) The scheme of the endpoint (http or https) is not part of the name
    either: it is how the repo is reached, not which repo it is.
    OpenLineage: namespace ``pandora://<host>[:<port>]``, name ``<repo>`` or ``<account>/<repo>``.

``kodo://<bucket>/<key or prefix>``
    Kodo objects are named ``kodo://``, not ``s3://``: Kodo speaks S3's API, but ``s3://exports/...`` would
    claim an AWS bucket of the same name, and lineage backends would merge the two. Kodo bucket names are unique
    across the service, so the bucket alone is the namespace, as for S3. The transfers' logs and errors already
    name objects this way. OpenLineage: namespace ``kodo://<bucket>``, name the key (``/`` for the whole bucket).

Registered in ``get_provider_info`` as ``asset-uris`` (Airflow 3) and ``dataset-uris`` (Airflow 2.11): the
normalisers refuse malformed URIs with a message saying what is wrong (Airflow 3 raises; Airflow 2.11 warns
unless ``[core] strict_dataset_uri_validation`` is on), the factories build assets for hook-level lineage and the
converters give OpenLineage the same names the operators report.

:func:`pandora_repo_asset` is what DAG authors use, the same in the producing and the consuming DAG. It never
reads a connection (DAG files are parsed often, and connection look-ups at parse time hit the metadata DB or a
secrets backend each time): the endpoint comes from the argument, else ``[pandora] asset_endpoint``, else the
public endpoint ``https://pipeline.qiniu.com``. An operator checks before it runs that its ``pandora`` outlets
name the endpoint and account its connection talks to (:mod:`airflow_provider_pandora.lineage`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from airflow.providers.common.compat.assets import Asset

if TYPE_CHECKING:
    from airflow.providers.common.compat.openlineage.facet import Dataset as OpenLineageDataset

__all__ = [
    "ACCOUNT_OPTION",
    "DEFAULT_ASSET_ENDPOINT",
    "ENDPOINT_OPTION",
    "KODO_SCHEME",
    "PANDORA_SCHEME",
    "convert_kodo_asset_to_openlineage",
    "convert_pandora_asset_to_openlineage",
    "create_kodo_asset",
    "create_pandora_asset",
    "endpoint_authority",
    "kodo_object_asset",
    "kodo_uri",
    "pandora_repo_asset",
    "pandora_uri",
    "parse_pandora_uri",
    "sanitize_kodo_uri",
    "sanitize_pandora_uri",
]

PANDORA_SCHEME = "pandora"
KODO_SCHEME = "kodo"
DEFAULT_ASSET_ENDPOINT = "https://pipeline.qiniu.com"
#: ``[pandora]`` options read by :func:`pandora_repo_asset` when its arguments are left out.
ENDPOINT_OPTION = "asset_endpoint"
ACCOUNT_OPTION = "asset_account"

_REPO_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,127}$")  # schema.NAME_RE, the service's rule for repo names
_ACCOUNT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_HOST_RE = re.compile(r"^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.?$")
_DEFAULT_PORTS = (80, 443)


# ---- pandora:// -----------------------------------------------------------------------------------
def _check_repo(repo: Any, where: str) -> str:
    if not isinstance(repo, str) or not _REPO_RE.match(repo):
        hint = (
            " (assets are fixed when the DAG is parsed, so a templated repo cannot be one: use an AssetAlias "
            "outlet, which Pandora operators fill with the repos they wrote)"
            if isinstance(repo, str) and "{{" in repo
            else ""
        )
        raise ValueError(f"{where}: repo {repo!r} is not a Pandora repo name (^[a-zA-Z_][a-zA-Z0-9_]{{0,127}}$){hint}")
    return repo


def _check_account(account: Any, where: str) -> str:
    if not isinstance(account, str) or not _ACCOUNT_RE.match(account):
        raise ValueError(
            f"{where}: account {account!r} must be 1-64 letters, digits, '_' or '-' (a Qiniu UID, or a stable label)"
        )
    return account


def endpoint_authority(endpoint: str) -> str:
    """``host[:port]`` of ``https://Host:443``, ``host:8480`` or ``host``: lower-cased, default port dropped."""
    text = str(endpoint).strip()
    if not text:
        raise ValueError("the Pandora endpoint is empty")
    parsed = urlsplit(text if "://" in text else f"//{text}")
    if parsed.username is not None or parsed.password is not None:
        raise ValueError(f"endpoint {endpoint!r}: user info has no place in an asset name; give the host alone")
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment:
        raise ValueError(f"endpoint {endpoint!r}: give scheme://host[:port] only, without a path or query")
    return _authority(parsed.netloc, f"endpoint {endpoint!r}")


def _authority(netloc: str, where: str) -> str:
    if "@" in netloc:
        raise ValueError(
            f"{where}: a pandora URI carries no user info (never the access key); an account goes in the path: "
            "pandora://<host>/<account>/<repo>"
        )
    parsed = urlsplit(f"//{netloc}")
    try:
        port = parsed.port
        if port == 0:
            raise ValueError
    except ValueError:
        raise ValueError(f"{where}: {netloc!r} is not host[:port] with a port between 1 and 65535") from None
    host = parsed.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    elif not _HOST_RE.match(host):
        raise ValueError(f"{where}: {netloc!r} is not a host[:port]")
    return host if port is None or port in _DEFAULT_PORTS else f"{host}:{port}"


def pandora_uri(endpoint: str, repo: str, account: str | None = None) -> str:
    """The normalised ``pandora://`` URI of ``repo`` behind ``endpoint`` (and ``account``, when given)."""
    where = "pandora asset"
    path = f"{_check_account(account, where)}/{_check_repo(repo, where)}" if account else _check_repo(repo, where)
    return f"{PANDORA_SCHEME}://{endpoint_authority(endpoint)}/{path}"


def sanitize_pandora_uri(uri: SplitResult) -> SplitResult:
    """Airflow's URI handler for ``pandora``: refuse a malformed URI, normalise the host and port."""
    text = uri.geturl()
    where = f"pandora URI {text!r}"
    if not uri.netloc:
        raise ValueError(f"{where} must name the endpoint host: pandora://<host>[:<port>]/[<account>/]<repo>")
    if uri.query or uri.fragment:
        raise ValueError(f"{where} takes no query or fragment")
    parts = uri.path.strip("/").split("/") if uri.path.strip("/") else []
    if len(parts) == 1:
        _check_repo(parts[0], where)
    elif len(parts) == 2:
        _check_account(parts[0], where)
        _check_repo(parts[1], where)
    else:
        raise ValueError(f"{where} must have the path /<repo> or /<account>/<repo>")
    return uri._replace(netloc=_authority(uri.netloc, where), path="/" + "/".join(parts))


def parse_pandora_uri(uri: str) -> tuple[str, str | None, str]:
    """``(authority, account or None, repo)`` of a ``pandora://`` URI (normalised first)."""
    parsed = sanitize_pandora_uri(urlsplit(uri))
    if parsed.scheme.lower() != PANDORA_SCHEME:
        raise ValueError(f"{uri!r} is not a pandora:// URI")
    parts = parsed.path.strip("/").split("/")
    return parsed.netloc, (parts[0] if len(parts) == 2 else None), parts[-1]


def create_pandora_asset(
    *, endpoint: str, repo: str, account: str | None = None, extra: dict[str, Any] | None = None
) -> Asset:
    """Airflow's asset factory for ``pandora`` (hook-level lineage builds assets through it)."""
    return Asset(uri=pandora_uri(endpoint, repo, account), extra=extra or {})


def convert_pandora_asset_to_openlineage(asset: Asset, lineage_context: Any) -> OpenLineageDataset:
    """The OpenLineage dataset of a ``pandora`` asset: namespace ``pandora://<authority>``, name the path."""
    from airflow.providers.common.compat.openlineage.facet import Dataset as OpenLineageDataset

    authority, account, repo = parse_pandora_uri(asset.uri)
    return OpenLineageDataset(
        namespace=f"{PANDORA_SCHEME}://{authority}", name=f"{account}/{repo}" if account else repo
    )


def _configured(option: str) -> str | None:
    """A ``[pandora]`` option, or ``None``: read from Airflow's configuration (no DB, no secrets backend)."""
    from airflow.providers.common.compat.sdk import conf

    value = conf.get("pandora", option, fallback=None)
    return (str(value).strip() or None) if value is not None else None


def pandora_repo_asset(
    repo: str, *, endpoint: str | None = None, account: str | None = None, extra: dict[str, Any] | None = None
) -> Asset:
    """The asset of a Pandora repo, for ``outlets=[...]`` upstream and ``schedule=[...]`` downstream.

    :param repo: the repo's name (static: assets are fixed when the DAG is parsed).
    :param endpoint: the endpoint of the connection that writes the repo (``https://host[:port]``, ``host[:port]``);
        default ``[pandora] asset_endpoint``, else ``https://pipeline.qiniu.com``.
    :param account: the connection's ``account`` extra, when it has one; default ``[pandora] asset_account``.
    :param extra: the asset's static ``extra`` (not part of its identity).

    No connection is read: the operator that writes the repo checks at run time that its connection matches.
    """
    endpoint = endpoint or _configured(ENDPOINT_OPTION) or DEFAULT_ASSET_ENDPOINT
    account = account if account is not None else _configured(ACCOUNT_OPTION)
    return create_pandora_asset(endpoint=endpoint, repo=repo, account=account or None, extra=extra)


# ---- kodo:// --------------------------------------------------------------------------------------
def kodo_uri(bucket: str, key: str = "") -> str:
    """``kodo://<bucket>/<key>`` (``key`` may be a prefix, or empty for the whole bucket)."""
    if not bucket or "/" in bucket or "@" in bucket or ":" in bucket:
        raise ValueError(f"kodo asset: bucket {bucket!r} must be a bucket name")
    return f"{KODO_SCHEME}://{bucket}/{str(key).lstrip('/')}"


def sanitize_kodo_uri(uri: SplitResult) -> SplitResult:
    """Airflow's URI handler for ``kodo``: a bucket is required; no user info, port, query or fragment."""
    where = f"kodo URI {uri.geturl()!r}"
    if not uri.netloc:
        raise ValueError(f"{where} must name the bucket: kodo://<bucket>/<key>")
    if "@" in uri.netloc or ":" in uri.netloc:
        raise ValueError(f"{where}: the authority is the bucket alone (no user info, no port)")
    if uri.query or uri.fragment:
        raise ValueError(f"{where} takes no query or fragment")
    return uri


def create_kodo_asset(*, bucket: str, key: str = "", extra: dict[str, Any] | None = None) -> Asset:
    """Airflow's asset factory for ``kodo``."""
    return Asset(uri=kodo_uri(bucket, key), extra=extra or {})


def kodo_object_asset(bucket: str, key: str = "", *, extra: dict[str, Any] | None = None) -> Asset:
    """The asset of a Kodo object (or of every object under a prefix), e.g. an export's destination."""
    return create_kodo_asset(bucket=bucket, key=key, extra=extra)


def convert_kodo_asset_to_openlineage(asset: Asset, lineage_context: Any) -> OpenLineageDataset:
    """The OpenLineage dataset of a ``kodo`` asset: namespace ``kodo://<bucket>``, name the key (``/``: all)."""
    from airflow.providers.common.compat.openlineage.facet import Dataset as OpenLineageDataset

    parsed = urlsplit(asset.uri)
    return OpenLineageDataset(namespace=f"{KODO_SCHEME}://{parsed.netloc}", name=parsed.path.lstrip("/") or "/")
