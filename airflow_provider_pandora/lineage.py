"""Lineage: OpenLineage facets for the operators, hook-level lineage, and asset events for outlets.

Names come from :mod:`airflow_provider_pandora.assets` (``pandora://<host>/<repo>``, ``kodo://<bucket>/<key>``,
``file`` paths), so the datasets the operators report, the hook reports and the asset events Airflow records are
the same names. OpenLineage is optional (the ``openlineage`` extra): it is imported inside the functions that
build facets, which only the OpenLineage listener calls; nothing here makes a network call.

What the operators report (``get_openlineage_facets_on_complete``; the SQL on START too, as Marquez reads a job's
first context only): create/update repo, the repo with its ``schema`` (maps as nested fields) and a
``lifecycleStateChange`` (CREATE, ALTER; DROP for delete); push, the repo with ``outputStatistics``; transfers, each
file or object read (past :data:`MAX_LINEAGE_INPUTS`, their common prefix), the repo with ``outputStatistics`` and
a ``pandora_transfer`` run facet (bad lines among the counts); transforms and jobs, the repos their SQL reads
(:func:`sql_input_repos`), the destination and ``sql``, a started job's run as ``externalQuery``; exports, the repo
and the destination (:func:`export_dataset`). An operator that did nothing reports an empty ``OperatorLineage``.
To see the events: ``AIRFLOW__OPENLINEAGE__TRANSPORT='{"type": "console"}'`` (or ``file``, or ``http`` to Marquez).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_pandora import schema as rules
from airflow_provider_pandora.assets import (
    PANDORA_SCHEME,
    endpoint_authority,
    kodo_uri,
    pandora_repo_asset,
    pandora_uri,
    parse_pandora_uri,
)
from airflow_provider_pandora.exceptions import PandoraValidationError

if TYPE_CHECKING:
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_pandora.hooks._connection import PandoraConnectionConfig

__all__ = [
    "MAX_LINEAGE_INPUTS",
    "SQL_DIALECT",
    "check_outlets",
    "emit_outlet_events",
    "empty_lineage",
    "export_dataset",
    "operator_lineage",
    "record_push",
    "record_transfer",
    "repo_dataset",
    "repo_name",
    "repo_namespace",
    "schema_facet",
    "source_datasets",
    "source_uris",
    "sql_input_repos",
]

log = logging.getLogger(__name__)

MAX_LINEAGE_INPUTS = 100
"""A transfer reports each file or object it read up to this many; past it, their common directory or key prefix
(one dataset), so that a prefix of 100,000 objects does not make a lineage event of 100,000 inputs."""
SQL_DIALECT = "hive"
"""Pandora SQL is Spark SQL with ``${param}`` placeholders; openlineage-sql's hive dialect parses both."""
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")


# ---- names --------------------------------------------------------------------------------------
def repo_namespace(config: PandoraConnectionConfig) -> str:
    """The OpenLineage namespace of the connection's repos: ``pandora://<host>[:<port>]``."""
    return f"{PANDORA_SCHEME}://{endpoint_authority(config.endpoint)}"


def repo_name(config: PandoraConnectionConfig, repo: str) -> str:
    """The OpenLineage name of a repo: ``<repo>``, or ``<account>/<repo>`` when the connection names its account."""
    return f"{config.account}/{repo}" if config.account else repo


def repo_uri(config: PandoraConnectionConfig, repo: str) -> str:
    """The repo's asset URI under the connection's endpoint and account."""
    return pandora_uri(config.endpoint, repo, config.account)


# ---- OpenLineage datasets and facets ------------------------------------------------------------
def empty_lineage() -> OperatorLineage:
    """What an operator that did nothing reports."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage()


def operator_lineage(
    inputs: Sequence[Dataset] = (),
    outputs: Sequence[Dataset] = (),
    run_facets: Mapping[str, Any] | None = None,
    job_facets: Mapping[str, Any] | None = None,
) -> OperatorLineage:
    """An ``OperatorLineage`` (imported here: OpenLineage is optional)."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(
        inputs=list(inputs), outputs=list(outputs), run_facets=dict(run_facets or {}), job_facets=dict(job_facets or {})
    )


def _schema_fields(fields: Iterable[rules.Field]) -> list[Any]:
    from airflow.providers.common.compat.openlineage.facet import SchemaDatasetFacetFields

    out = []
    for f in fields:
        kind = f"array<{f.elemtype}>" if f.valtype == "array" and f.elemtype else f.valtype
        description = "required" if f.required else None
        out.append(
            SchemaDatasetFacetFields(name=f.key, type=kind, description=description, fields=_schema_fields(f.children))
        )
    return out


def schema_facet(schema: Any) -> Any:
    """``SchemaDatasetFacet`` of a repo schema (spec dicts or parsed fields); maps keep their nested fields."""
    from airflow.providers.common.compat.openlineage.facet import SchemaDatasetFacet

    fields = schema if all(isinstance(f, rules.Field) for f in schema) else rules.parse_schema(schema, "schema")
    return SchemaDatasetFacet(fields=_schema_fields(fields))


def repo_dataset(
    config: PandoraConnectionConfig,
    repo: str,
    *,
    facets: Mapping[str, Any] | None = None,
    rows: int | None = None,
    size: int | None = None,
    output: bool = False,
) -> Dataset:
    """A repo as an OpenLineage dataset; an output (with ``rows``/``size`` statistics when given) if ``output``."""
    from airflow.providers.common.compat.openlineage.facet import (
        Dataset,
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
    )

    namespace, name = repo_namespace(config), repo_name(config, repo)
    if not output:
        return Dataset(namespace=namespace, name=name, facets=dict(facets or {}))
    output_facets = {}
    if rows is not None or size is not None:
        output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(rowCount=rows, size=size)
    return OutputDataset(namespace=namespace, name=name, facets=dict(facets or {}), outputFacets=output_facets)


def sql_input_repos(code: str | None, source_repo: str) -> list[str]:
    """The repos a transform's or job's SQL reads: ``source_repo`` first, then the others it names.

    Parsed with openlineage-sql (the OpenLineage provider's parser); ``stream`` is the source repo, names with an
    unresolved ``${param}`` or that are not repo names are left out. Without the parser, or when the SQL does not
    parse, the source repo alone.
    """
    repos = [source_repo]
    if not code:
        return repos
    try:
        from openlineage_sql import parse
    except ImportError:
        return repos
    try:
        meta = parse([code], dialect=SQL_DIALECT)
    except Exception as exc:  # a parser failure must never fail the task
        log.debug("openlineage-sql could not parse the SQL: %s", exc)
        return repos
    if meta is None:
        return repos
    for table in meta.in_tables:
        name = source_repo if table.name == "stream" and not table.schema else table.name
        if table.schema or _PLACEHOLDER.search(name) or not rules.NAME_RE.match(name) or name in repos:
            continue
        repos.append(name)
    return repos


def sql_job_facets(code: str | None) -> dict[str, Any]:
    """``{"sql": SQLJobFacet}`` for SQL code, else nothing."""
    if not code:
        return {}
    from airflow.providers.common.compat.openlineage.facet import SQLJobFacet

    return {"sql": SQLJobFacet(query=code, dialect="spark")}


def external_query_facets(config: PandoraConnectionConfig, run_id: int | str | None) -> dict[str, Any]:
    """``{"externalQuery": ...}`` naming a Pandora job run, else nothing."""
    if run_id is None:
        return {}
    from airflow.providers.common.compat.openlineage.facet import ExternalQueryRunFacet

    return {"externalQuery": ExternalQueryRunFacet(externalQueryId=str(run_id), source=repo_namespace(config))}


def _safe_http(url: str) -> tuple[str, str]:
    """``(scheme://host[:port], path)`` of a URL, user info dropped."""
    parsed = urlsplit(url if "://" in url else f"http://{url}")
    host = parsed.hostname or ""
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme or 'http'}://{host}{port}", parsed.path


def export_dataset(config: PandoraConnectionConfig, export_type: str | None, spec: Mapping[str, Any]) -> Dataset | None:
    """Where an export delivers, as an OpenLineage dataset (credentials never included); ``None`` if unknown.

    http: namespace ``http(s)://host[:port]`` of ``host``, name ``uri``; tsdb: ``pandora-tsdb://<endpoint>``,
    ``<destRepoName>/<series>``; logdb: ``pandora-logdb://<endpoint>``, ``<destRepoName>``; kodo: ``kodo://<bucket>``,
    the fixed part of ``keyPrefix`` (before the first ``$(...)`` variable); mongo: ``mongodb://host[:port]``,
    ``<dbName>.<collName>``. TSDB and LogDB repos live in the same account and data centre as the pipeline, so they
    take its endpoint and account.
    """
    from airflow.providers.common.compat.openlineage.facet import Dataset

    try:
        kind = rules.normalise_export_type(export_type) if export_type else None
    except PandoraValidationError:
        return None
    if kind == "http" and spec.get("host"):
        namespace, path = _safe_http(str(spec["host"]))
        return Dataset(namespace=namespace, name=(path.rstrip("/") + str(spec.get("uri") or "")) or "/")
    authority = endpoint_authority(config.endpoint)
    if kind == "tsdb" and spec.get("destRepoName"):
        name = repo_name(config, str(spec["destRepoName"]))
        series = spec.get("series")
        return Dataset(namespace=f"pandora-tsdb://{authority}", name=f"{name}/{series}" if series else name)
    if kind == "logdb" and spec.get("destRepoName"):
        return Dataset(namespace=f"pandora-logdb://{authority}", name=repo_name(config, str(spec["destRepoName"])))
    if kind == "kodo" and spec.get("bucket"):
        prefix = str(spec.get("keyPrefix") or "").split("$(", 1)[0]
        return Dataset(namespace=f"kodo://{spec['bucket']}", name=prefix or "/")
    if kind == "mongo" and spec.get("host") and spec.get("dbName") and spec.get("collName"):
        host = str(spec["host"])
        parsed = urlsplit(host if "://" in host else f"mongodb://{host}")
        netloc = (parsed.hostname or "") + (f":{parsed.port}" if parsed.port else "")
        return Dataset(namespace=f"mongodb://{netloc}", name=f"{spec['dbName']}.{spec['collName']}")
    return None


# ---- transfer sources ---------------------------------------------------------------------------
def _source_uri(name: str) -> str:
    """A transfer source's name (a path, or ``kodo://bucket/key``) as a URI."""
    if name.startswith("kodo://"):
        return name
    return "file://" + os.path.abspath(name)


def _common_uris(uris: Sequence[str]) -> list[str]:
    """The common directory of many files, or the common key prefix of many objects of one bucket."""
    files = [u.removeprefix("file://") for u in uris if u.startswith("file://")]
    roots = ["file://" + os.path.commonpath(files)] if files else []
    by_bucket: dict[str, list[str]] = {}
    for uri in uris:
        if not uri.startswith("file://"):
            parsed = urlsplit(uri)
            by_bucket.setdefault(parsed.netloc, []).append(parsed.path.lstrip("/"))
    # a key prefix is a string prefix, not a path: "clicks/2024-05-0" covers every day it matched
    roots += [kodo_uri(bucket, os.path.commonprefix(keys)) for bucket, keys in by_bucket.items()]  # noqa: RUF071
    return roots


def source_uris(names: Sequence[str], limit: int = MAX_LINEAGE_INPUTS) -> list[str]:
    """The URIs of the sources a transfer read, or past ``limit`` the one URI of their common prefix."""
    uris = [_source_uri(n) for n in names]
    return uris if len(uris) <= limit else _common_uris(uris)


def _uri_dataset(uri: str) -> Dataset:
    from airflow.providers.common.compat.openlineage.facet import Dataset

    parsed = urlsplit(uri)
    if parsed.scheme == "file":
        return Dataset(namespace="file", name=parsed.path)
    return Dataset(namespace=f"{parsed.scheme}://{parsed.netloc}", name=parsed.path.lstrip("/") or "/")


def source_datasets(names: Sequence[str], limit: int = MAX_LINEAGE_INPUTS) -> list[Dataset]:
    """The transfer's inputs as OpenLineage datasets: ``file`` + path, ``kodo://<bucket>`` + key."""
    return [_uri_dataset(uri) for uri in source_uris(names, limit)]


def transfer_run_facet(result: Mapping[str, Any]) -> dict[str, Any]:
    """``{"pandora_transfer": ...}``: what the transfer delivered and refused (bad lines), as a run facet."""
    return {"pandora_transfer": _TransferFacet.build(result)}


class _TransferFacet:
    """Builds the ``pandora_transfer`` run facet class once, on first use (OpenLineage is imported lazily)."""

    _cls: Any = None

    @classmethod
    def build(cls, result: Mapping[str, Any]) -> Any:
        if cls._cls is None:
            import attr
            from airflow.providers.common.compat.openlineage.facet import RunFacet

            @attr.define
            class PandoraTransferRunFacet(RunFacet):  # type: ignore[misc]
                """Points, bytes and batches delivered, bad lines refused, sources read, possible duplicates."""

                points: int = attr.field(default=0)
                bytes: int = attr.field(default=0)
                batches: int = attr.field(default=0)
                badLines: int = attr.field(default=0)  # OpenLineage spells facet fields in camelCase
                sources: int = attr.field(default=0)
                possibleDuplicates: int = attr.field(default=0)

            cls._cls = PandoraTransferRunFacet
        return cls._cls(
            points=int(result.get("points") or 0),
            bytes=int(result.get("bytes") or 0),
            batches=int(result.get("batches") or 0),
            badLines=int(result.get("bad_lines") or 0),
            sources=int(result.get("sources") or 0),
            possibleDuplicates=int(result.get("possible_duplicates") or 0),
        )


# ---- hook-level lineage -------------------------------------------------------------------------
def _collector() -> Any | None:
    try:
        from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector

        return get_hook_lineage_collector()
    except Exception:  # lineage must never break a push
        log.debug("no hook lineage collector", exc_info=True)
        return None


def record_push(hook: Any, repo: str) -> None:
    """Hook-level lineage of a push: the repo as an output asset (an ``@task`` calling the hook gets lineage)."""
    collector = _collector()
    if collector is None:
        return
    try:
        collector.add_output_asset(context=hook, uri=repo_uri(hook.config, repo))
    except Exception:
        log.debug("could not record the hook lineage of a push to %r", repo, exc_info=True)


def record_transfer(hook: Any, repo: str, source_names: Sequence[str]) -> None:
    """Hook-level lineage of a transfer: each source read as an input (capped), the repo as the output."""
    collector = _collector()
    if collector is None:
        return
    try:
        for uri in source_uris(source_names):
            collector.add_input_asset(context=hook, uri=uri)
        collector.add_output_asset(context=hook, uri=repo_uri(hook.config, repo))
    except Exception:
        log.debug("could not record the hook lineage of a transfer into %r", repo, exc_info=True)


# ---- outlets: the check before running, the events after ----------------------------------------
def _is_alias(outlet: Any) -> bool:
    return type(outlet).__name__ in ("AssetAlias", "DatasetAlias")


def _pandora_outlets(outlets: Iterable[Any]) -> list[tuple[Any, str, str | None, str]]:
    """``(asset, authority, account, repo)`` of every ``pandora://`` outlet."""
    found = []
    for outlet in outlets or ():
        uri = getattr(outlet, "uri", None)
        if isinstance(uri, str) and uri.lower().startswith(f"{PANDORA_SCHEME}://"):
            found.append((outlet, *parse_pandora_uri(uri)))
    return found


def check_outlets(outlets: Iterable[Any], config_of: Any) -> None:
    """Refuse ``pandora://`` outlets that name another endpoint or account than the operator's connection.

    Run before the operator's first request: an asset event for the wrong URI would start the DAGs scheduled on
    it for data that went elsewhere. ``config_of`` is called only when there are such outlets.
    """
    pandora = _pandora_outlets(outlets)
    if not pandora:
        return
    config = config_of()
    authority = endpoint_authority(config.endpoint)
    for outlet, outlet_authority, account, repo in pandora:
        if (outlet_authority, account) != (authority, config.account):
            expected = repo_uri(config, repo)
            raise PandoraValidationError(
                "outlets",
                f"{outlet.uri} does not name the repo this task's connection writes ({expected}): pass "
                f"pandora_repo_asset({repo!r}, endpoint={config.endpoint!r}"
                + (f", account={config.account!r}" if config.account else "")
                + ") or set [pandora] asset_endpoint"
                + (" and asset_account" if config.account else "")
                + " for this deployment",
            )


def emit_outlet_events(
    context: Any, outlets: Iterable[Any], config_of: Any, repos: Sequence[str] | None, extra: Mapping[str, Any]
) -> None:
    """Put ``extra`` on the asset events of the operator's ``pandora`` outlets, and add its repos to alias outlets.

    ``repos``: the repos the operator wrote (only their outlets get ``extra``, and alias outlets get these repos);
    ``None`` when it cannot know them (a started job writes its destination): every ``pandora`` outlet gets
    ``extra``. ``config_of`` (the connection's settings) is called only for alias outlets. Works with Airflow 3's
    ``outlet_events`` and Airflow 2.11's (datasets).
    """
    outlets = list(outlets or ())
    events = context.get("outlet_events") if outlets and hasattr(context, "get") else None
    if events is None:
        return
    payload = {key: value for key, value in extra.items() if value is not None}
    for outlet, _authority, _account, repo in _pandora_outlets(outlets):
        if repos is None or repo in repos:
            events[outlet].extra.update(payload)
    aliases = [o for o in outlets if _is_alias(o)]
    if aliases and repos:
        config = config_of()
        for alias in aliases:
            for repo in repos:
                asset = pandora_repo_asset(repo, endpoint=config.endpoint, account=config.account or "")
                events[alias].add(asset, extra=payload)
