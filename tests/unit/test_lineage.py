"""OpenLineage from every operator that reads or writes Pandora data, field by field; outlets; hook lineage."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from airflow.providers.common.compat.assets import Asset, AssetAlias
from airflow.providers.common.compat.openlineage.facet import (
    Dataset,
    ExternalQueryRunFacet,
    LifecycleStateChange,
    LifecycleStateChangeDatasetFacet,
    OutputDataset,
    OutputStatisticsOutputDatasetFacet,
    SchemaDatasetFacet,
    SchemaDatasetFacetFields,
    SQLJobFacet,
)
from airflow.providers.openlineage.extractors import OperatorLineage

import airflow_provider_pandora.operators as ops
from airflow_provider_pandora import lineage
from airflow_provider_pandora.assets import pandora_repo_asset
from airflow_provider_pandora.exceptions import PandoraAlreadyExistsError, PandoraNotFoundError, PandoraValidationError
from airflow_provider_pandora.hooks._connection import PandoraConnectionConfig
from airflow_provider_pandora.hooks.runs import JobRun, JobStatus, PushResult
from airflow_provider_pandora.version_compat import AIRFLOW_V_3_0_PLUS

EMULATOR = "http://127.0.0.1:8480"
NS = "pandora://127.0.0.1:8480"
CONFIG = PandoraConnectionConfig(endpoint=EMULATOR, access_key="ak", secret_key="sk")
ACME = PandoraConnectionConfig(endpoint="https://pipeline.qiniu.com", access_key="ak", secret_key="sk", account="acme")
SCHEMA: list[dict[str, Any]] = [
    {"key": "user", "valtype": "string", "required": True},
    {"key": "tags", "valtype": "array", "elemtype": "string"},
    {"key": "meta", "valtype": "map", "schema": [{"key": "zone", "valtype": "string"}]},
]
SCHEMA_FACET = SchemaDatasetFacet(
    fields=[
        SchemaDatasetFacetFields(name="user", type="string", description="required"),
        SchemaDatasetFacetFields(name="tags", type="array<string>"),
        SchemaDatasetFacetFields(
            name="meta", type="map", fields=[SchemaDatasetFacetFields(name="zone", type="string")]
        ),
    ]
)


def with_hook(op: Any, config: PandoraConnectionConfig = CONFIG) -> mock.MagicMock:
    hook = mock.MagicMock()
    hook.config = config
    op.__dict__["hook"] = hook  # the cached_property slot
    return hook


def lifecycle(change: str) -> LifecycleStateChangeDatasetFacet:
    return LifecycleStateChangeDatasetFacet(lifecycleStateChange=LifecycleStateChange[change])


def exists() -> PandoraAlreadyExistsError:
    return PandoraAlreadyExistsError("exists", status_code=409, reqid="r")  # type: ignore[call-arg]


# ---- repos --------------------------------------------------------------------------------------
def test_create_repo_reports_the_repo_with_its_nested_schema() -> None:
    op = ops.PandoraCreateRepoOperator(task_id="t", repo="clicks", schema=SCHEMA)
    with_hook(op)
    op.execute({})
    result = op.get_openlineage_facets_on_complete(None)
    assert result.inputs == []
    assert result.outputs == [
        OutputDataset(
            namespace=NS, name="clicks", facets={"schema": SCHEMA_FACET, "lifecycleStateChange": lifecycle("CREATE")}
        )
    ]
    assert result.run_facets == {}
    assert result.job_facets == {}


def test_create_repo_that_existed_reports_nothing_and_update_is_alter() -> None:
    op = ops.PandoraCreateRepoOperator(task_id="t", repo="clicks", schema=SCHEMA)
    with_hook(op).create_repo.side_effect = exists()
    op.execute({})
    assert op.get_openlineage_facets_on_complete(None) == OperatorLineage()

    updating = ops.PandoraCreateRepoOperator(task_id="u", repo="clicks", schema=SCHEMA, if_exists="update")
    with_hook(updating).create_repo.side_effect = exists()
    updating.execute({})
    (output,) = updating.get_openlineage_facets_on_complete(None).outputs
    assert output.facets["lifecycleStateChange"] == lifecycle("ALTER")


def test_a_kodo_repo_reads_its_bucket_and_prefix_and_the_account_names_it() -> None:
    op = ops.PandoraCreateRepoOperator(
        task_id="t",
        repo="archive",
        schema=SCHEMA[:1],
        repo_type="kodo",
        bucket="pandora-exports",
        key_prefix="clicks/",
        file_type="json",
    )
    with_hook(op, ACME)
    op.execute({})
    result = op.get_openlineage_facets_on_complete(None)
    assert result.inputs == [Dataset(namespace="kodo://pandora-exports", name="clicks/")]
    assert [(d.namespace, d.name) for d in result.outputs] == [("pandora://pipeline.qiniu.com", "acme/archive")]


def test_update_repo_is_alter_with_the_new_schema() -> None:
    op = ops.PandoraUpdateRepoOperator(task_id="t", repo="clicks", schema=SCHEMA)
    with_hook(op)
    assert op.get_openlineage_facets_on_complete(None) == OperatorLineage()  # not run yet
    op.execute({})
    assert op.get_openlineage_facets_on_complete(None).outputs == [
        OutputDataset(
            namespace=NS, name="clicks", facets={"schema": SCHEMA_FACET, "lifecycleStateChange": lifecycle("ALTER")}
        )
    ]


def test_delete_repo_is_drop_and_a_missing_repo_nothing() -> None:
    op = ops.PandoraDeleteRepoOperator(task_id="t", repo="clicks")
    with_hook(op)
    op.execute({})
    assert op.get_openlineage_facets_on_complete(None).outputs == [
        OutputDataset(namespace=NS, name="clicks", facets={"lifecycleStateChange": lifecycle("DROP")})
    ]
    missing = ops.PandoraDeleteRepoOperator(task_id="m", repo="clicks")
    with_hook(missing).delete_repo.side_effect = PandoraNotFoundError(  # type: ignore[call-arg]
        "missing", status_code=404, reqid="r"
    )
    missing.execute({})
    assert missing.get_openlineage_facets_on_complete(None) == OperatorLineage()


# ---- push ---------------------------------------------------------------------------------------
def test_push_reports_rows_and_bytes() -> None:
    op = ops.PandoraPushDataOperator(task_id="t", repo="clicks", points=[{"user": "ann"}])
    with_hook(op).push_data.return_value = PushResult(2, 40, 1, ("r1",))
    assert op.get_openlineage_facets_on_complete(None) == OperatorLineage()
    op.execute({})
    result = op.get_openlineage_facets_on_complete(None)
    assert result.inputs == []
    assert result.outputs == [
        OutputDataset(
            namespace=NS,
            name="clicks",
            outputFacets={"outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=2, size=40)},
        )
    ]


# ---- transforms ---------------------------------------------------------------------------------
JOIN = "select s.user, d.zone from stream s join dims d on s.user = d.user where day = '${day}'"


def test_transform_sql_on_start_and_its_repos_on_complete() -> None:
    op = ops.PandoraCreateTransformOperator(task_id="t", repo="clicks", transform="tr", dest_repo="zoned", code=JOIN)
    with_hook(op)
    assert op.get_openlineage_facets_on_start() == OperatorLineage(
        job_facets={"sql": SQLJobFacet(query=JOIN, dialect="spark")}
    )
    op.execute({})
    result = op.get_openlineage_facets_on_complete(None)
    assert result.inputs == [Dataset(namespace=NS, name="clicks"), Dataset(namespace=NS, name="dims")]
    assert result.outputs == [OutputDataset(namespace=NS, name="zoned")]
    assert result.job_facets == {"sql": SQLJobFacet(query=JOIN, dialect="spark")}
    assert result.run_facets == {}


def test_transform_that_existed_reports_nothing_and_a_plugin_transform_no_sql() -> None:
    op = ops.PandoraCreateTransformOperator(task_id="t", repo="clicks", transform="tr", dest_repo="z", code=JOIN)
    with_hook(op).create_transform.side_effect = exists()
    op.execute({})
    assert op.get_openlineage_facets_on_complete(None) == OperatorLineage()

    plugin = ops.PandoraCreateTransformOperator(
        task_id="p", repo="clicks", transform="tp", dest_repo="parsed", mode=None, plugin={"name": "com.x.P"}
    )
    with_hook(plugin)
    plugin.execute({})
    result = plugin.get_openlineage_facets_on_complete(None)
    assert result.inputs == [Dataset(namespace=NS, name="clicks")]
    assert result.outputs == [OutputDataset(namespace=NS, name="parsed")]
    assert result.job_facets == {}


def test_update_transform_reports_what_the_new_sql_reads() -> None:
    op = ops.PandoraUpdateTransformOperator(task_id="t", repo="clicks", transform="tr", code="select * from stream")
    with_hook(op)
    op.execute({})
    result = op.get_openlineage_facets_on_complete(None)
    assert result.inputs == [Dataset(namespace=NS, name="clicks")]
    assert result.outputs == []
    assert result.job_facets == {"sql": SQLJobFacet(query="select * from stream", dialect="spark")}


@pytest.mark.parametrize(
    ("code", "repos"),
    [
        ("select * from stream", ["clicks"]),
        ("select * from clicks", ["clicks"]),
        ("select a.x from stream a join dims b on a.k = b.k", ["clicks", "dims"]),
        ("select x from ${table}", ["clicks"]),  # an unresolved parameter names no repo
        ("select x from db.other", ["clicks"]),  # not a repo name
        ("this is not sql", ["clicks"]),
        (None, ["clicks"]),
    ],
)
def test_sql_input_repos(code: str | None, repos: list[str]) -> None:
    assert lineage.sql_input_repos(code, "clicks") == repos


def test_sql_input_repos_without_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "openlineage_sql", None)  # import fails
    assert lineage.sql_input_repos("select * from stream join dims", "clicks") == ["clicks"]


# ---- offline jobs -------------------------------------------------------------------------------
JOB_SQL = "select '${day}' as day, sum(amount) as revenue from stream where day = '${day}'"


def test_submit_job_sql_on_start_and_its_repos_on_complete() -> None:
    op = ops.PandoraSubmitJobOperator(
        task_id="t",
        repo="orders",
        job="daily",
        dest_repo="revenue",
        code=JOB_SQL,
        container={"type": "M16C4", "count": 1},
        scheduler={"type": "once"},
    )
    with_hook(op)
    assert op.get_openlineage_facets_on_start() == OperatorLineage(
        job_facets={"sql": SQLJobFacet(query=JOB_SQL, dialect="spark")}
    )
    op.execute({"ti": mock.MagicMock()})
    assert op.get_openlineage_facets_on_complete(None) == OperatorLineage(
        inputs=[Dataset(namespace=NS, name="orders")],
        outputs=[OutputDataset(namespace=NS, name="revenue")],
        job_facets={"sql": SQLJobFacet(query=JOB_SQL, dialect="spark")},
    )


def _start_job(**kwargs: Any) -> tuple[Any, mock.MagicMock]:
    op = ops.PandoraStartJobOperator(task_id="t", repo="orders", job="daily", poll_interval=0.01, **kwargs)
    hook = with_hook(op)
    hook.get_job_history.return_value = []
    hook.start_job.return_value = {"runId": 7}
    hook.wait_for_job_run.return_value = JobRun(JobStatus.SUCCESS, None, None, "", 7)
    hook.get_job.return_value = {"code": JOB_SQL, "to": "revenue"}
    return op, hook


def test_started_job_reports_the_run_as_external_query_and_the_job_definition() -> None:
    op, hook = _start_job()
    assert op.get_openlineage_facets_on_complete(None) == OperatorLineage()  # nothing started yet
    hook.get_job.assert_not_called()
    op.execute({"ti": mock.MagicMock(try_number=1)})
    hook.get_job.assert_not_called()  # execute makes no call for lineage
    assert op.get_openlineage_facets_on_complete(None) == OperatorLineage(
        inputs=[Dataset(namespace=NS, name="orders")],
        outputs=[OutputDataset(namespace=NS, name="revenue")],
        run_facets={"externalQuery": ExternalQueryRunFacet(externalQueryId="7", source=NS)},
        job_facets={"sql": SQLJobFacet(query=JOB_SQL, dialect="spark")},
    )


def test_started_job_whose_definition_cannot_be_read_still_names_the_run() -> None:
    op, hook = _start_job()
    hook.get_job.side_effect = PandoraNotFoundError("gone", status_code=404, reqid="r")  # type: ignore[call-arg]
    op.execute({"ti": mock.MagicMock(try_number=1)})
    assert op.get_openlineage_facets_on_complete(None) == OperatorLineage(
        inputs=[Dataset(namespace=NS, name="orders")],
        run_facets={"externalQuery": ExternalQueryRunFacet(externalQueryId="7", source=NS)},
    )


def test_started_job_events_carry_the_run() -> None:
    revenue = pandora_repo_asset("revenue", endpoint=EMULATOR)
    op, _ = _start_job(outlets=[revenue])
    events = _outlet_events()
    op.execute({"ti": mock.MagicMock(try_number=1), "outlet_events": events})
    extra = dict(events[revenue].extra)
    assert extra.pop("started_at")
    assert extra == {"job": "daily", "source_repo": "orders", "run_id": 7, "status": "Success", "reconnected": False}


def test_deferred_job_resumed_reports_the_run_of_the_event() -> None:
    op, _ = _start_job(deferrable=True)
    run = {"run_id": 9, "status": "Success", "start_time": None, "end_time": None, "message": ""}
    op.execute_complete(
        {"ti": mock.MagicMock()}, {"status": "success", "run": run}, started_at="2026-01-01T00:00:00+00:00"
    )
    result = op.get_openlineage_facets_on_complete(None)
    assert result.run_facets == {"externalQuery": ExternalQueryRunFacet(externalQueryId="9", source=NS)}


# ---- exports ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("export_type", "spec", "namespace", "name"),
    [
        (
            "http",
            {"host": "http://u:pw@collector.internal:8080", "uri": "/in"},
            "http://collector.internal:8080",
            "/in",
        ),
        (
            "tsdb",
            {"destRepoName": "metrics", "series": "clicks", "tags": {}, "fields": {}},
            "pandora-tsdb://127.0.0.1:8480",
            "metrics/clicks",
        ),
        ("logDB", {"destRepoName": "logs"}, "pandora-logdb://127.0.0.1:8480", "logs"),
        (
            "kodo",
            {
                "bucket": "exp",
                "keyPrefix": "clicks/date=$(year)-$(mon)/",
                "email": "e",
                "accessKey": "ak",
                "fields": {},
            },
            "kodo://exp",
            "clicks/date=",
        ),
        (
            "mongo",
            {"host": "mongodb://u:secret@db.internal:27017", "dbName": "app", "collName": "clicks", "mode": "UPSERT"},
            "mongodb://db.internal:27017",
            "app.clicks",
        ),
    ],
)
def test_export_destination_named_by_type(export_type: str, spec: dict[str, Any], namespace: str, name: str) -> None:
    op = ops.PandoraCreateExportOperator(task_id="t", repo="clicks", export="e", export_type=export_type, spec=spec)
    with_hook(op)
    op.execute({})
    result = op.get_openlineage_facets_on_complete(None)
    assert result.inputs == [Dataset(namespace=NS, name="clicks")]
    assert result.outputs == [Dataset(namespace=namespace, name=name)]
    assert "secret" not in repr(result)
    assert "pw@" not in repr(result)


def test_export_that_existed_reports_nothing_and_an_untyped_update_no_destination() -> None:
    op = ops.PandoraCreateExportOperator(
        task_id="t", repo="clicks", export="e", export_type="logdb", spec={"destRepoName": "l"}
    )
    with_hook(op).create_export.side_effect = exists()
    op.execute({})
    assert op.get_openlineage_facets_on_complete(None) == OperatorLineage()
    update = ops.PandoraUpdateExportOperator(task_id="u", repo="clicks", export="e", spec={"destRepoName": "l"})
    with_hook(update)
    update.execute({})
    result = update.get_openlineage_facets_on_complete(None)
    assert (result.inputs, result.outputs) == ([Dataset(namespace=NS, name="clicks")], [])


# ---- transfer sources ---------------------------------------------------------------------------
def test_transfer_sources_are_capped_to_their_common_prefix() -> None:
    files = [f"/data/in/day={d}/part-{n}.jsonl" for d in (1, 2) for n in range(3)]
    assert lineage.source_datasets(files) == [Dataset(namespace="file", name=f) for f in files]
    assert lineage.source_datasets(files, limit=5) == [Dataset(namespace="file", name="/data/in")]
    objects = [f"kodo://exp/clicks/2024-05-0{n}.jsonl" for n in range(1, 4)]
    assert lineage.source_datasets(objects) == [
        Dataset(namespace="kodo://exp", name=f"clicks/2024-05-0{n}.jsonl") for n in range(1, 4)
    ]
    assert lineage.source_datasets(objects, limit=2) == [Dataset(namespace="kodo://exp", name="clicks/2024-05-0")]
    assert lineage.MAX_LINEAGE_INPUTS == 100


def test_transfer_run_facet_counts_bad_lines() -> None:
    facet = lineage.transfer_run_facet({"points": 9, "bytes": 90, "batches": 1, "bad_lines": 2, "sources": 3})[
        "pandora_transfer"
    ]
    assert (facet.points, facet.bytes, facet.batches, facet.badLines, facet.sources, facet.possibleDuplicates) == (
        9,
        90,
        1,
        2,
        3,
        0,
    )


# ---- outlets ------------------------------------------------------------------------------------
def _outlet_events() -> Any:
    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk.execution_time.context import OutletEventAccessors

        return OutletEventAccessors()
    from airflow.utils.context import OutletEventAccessors  # type: ignore[attr-defined]

    return OutletEventAccessors()


def test_an_outlet_on_another_endpoint_is_refused_before_any_request() -> None:
    op = ops.PandoraPushDataOperator(
        task_id="t",
        repo="clicks",
        points=[{"user": "a"}],
        outlets=[pandora_repo_asset("clicks", endpoint="https://pipeline.qiniu.com")],
    )
    hook = with_hook(op)
    with pytest.raises(
        PandoraValidationError, match=r"pandora_repo_asset\('clicks', endpoint='http://127.0.0.1:8480'\)"
    ):
        op.execute({})
    hook.push_data.assert_not_called()
    wrong_account = ops.PandoraPushDataOperator(
        task_id="a",
        repo="clicks",
        points=[{"user": "a"}],
        outlets=[pandora_repo_asset("clicks", endpoint=EMULATOR, account="")],
    )
    with_hook(wrong_account, PandoraConnectionConfig(endpoint=EMULATOR, access_key="a", secret_key="s", account="acme"))
    with pytest.raises(PandoraValidationError, match="account='acme'"):
        wrong_account.execute({})


def test_asset_events_carry_what_was_written() -> None:
    clicks = pandora_repo_asset("clicks", endpoint=EMULATOR)
    other = Asset("s3://bucket/not-ours")
    op = ops.PandoraPushDataOperator(task_id="t", repo="clicks", points=[{"user": "a"}], outlets=[clicks, other])
    with_hook(op).push_data.return_value = PushResult(3, 30, 1, ())
    events = _outlet_events()
    op.execute({"outlet_events": events})
    assert events[clicks].extra == {"points": 3, "bytes": 30, "batches": 1}
    assert events[other].extra == {}


def test_alias_outlets_receive_the_repos_written() -> None:
    alias = AssetAlias("pandora-writes")
    op = ops.PandoraCreateTransformOperator(
        task_id="t", repo="clicks", transform="tr", dest_repo="zoned", code="select * from stream", outlets=[alias]
    )
    with_hook(op)
    events = _outlet_events()
    op.execute({"outlet_events": events})
    if AIRFLOW_V_3_0_PLUS:
        (added,) = events[alias].asset_alias_events
        uri, extra = added.dest_asset_key.uri, added.extra
    else:
        (added,) = events[alias].dataset_alias_events
        uri, extra = added["dest_dataset_uri"], added["extra"]
    assert (uri, extra) == (
        f"{NS}/zoned",
        {"transform": "tr", "source_repo": "clicks", "action": "created"},
    )


# ---- hook-level lineage -------------------------------------------------------------------------
@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A real collector instead of the no-op one Airflow hands out while OpenLineage is not configured."""
    import airflow.providers.common.compat.sdk as compat_sdk

    try:  # Airflow 3.2+
        from airflow.sdk.lineage import HookLineageCollector
    except ImportError:  # Airflow 3.0, 3.1 and 2.11
        from airflow.lineage.hook import HookLineageCollector  # type: ignore[no-redef]
    real = HookLineageCollector()
    monkeypatch.setattr(compat_sdk, "get_hook_lineage_collector", lambda: real, raising=False)
    from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector

    return get_hook_lineage_collector()


def test_hook_push_and_transfer_record_assets(collector: Any) -> None:
    hook = mock.MagicMock()
    hook.config = CONFIG
    lineage.record_push(hook, "clicks")
    lineage.record_transfer(hook, "zoned", ["/data/a.jsonl", "kodo://exp/k/b.jsonl"])
    collected = collector.collected_assets
    assert [i.asset.uri for i in collected.inputs] == ["file:///data/a.jsonl", "kodo://exp/k/b.jsonl"]
    assert [o.asset.uri for o in collected.outputs] == [f"{NS}/clicks", f"{NS}/zoned"]
