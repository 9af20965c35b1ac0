"""Transfer and push lineage against the emulator: the sources read, the repo written, the counts, the events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.openlineage.facet import (
    Dataset,
    OutputDataset,
    OutputStatisticsOutputDatasetFacet,
)

from airflow_provider_pandora.assets import pandora_repo_asset
from airflow_provider_pandora.emulator.testing import PandoraEmulator
from airflow_provider_pandora.hooks.pandora import PandoraHook
from airflow_provider_pandora.transfers.local_to_pandora import LocalFilesystemToPandoraOperator
from tests.unit.test_lineage import _outlet_events, collector  # noqa: F401 - the collector fixture

SCHEMA = [{"key": "user", "valtype": "string"}, {"key": "hits", "valtype": "long"}]


def _files(folder: Path) -> list[Path]:
    paths = []
    for n in range(3):
        path = folder / f"part-{n}.jsonl"
        lines = [json.dumps({"user": f"u{n}{i}", "hits": i}) for i in range(4)]
        if n == 1:
            lines.append("{not json")
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


def test_local_transfer_reports_files_read_repo_written_and_bad_lines(
    pandora_conn: PandoraEmulator, tmp_path: Path
) -> None:
    PandoraHook().create_repo("clicks", schema=SCHEMA)
    files = _files(tmp_path)
    asset = pandora_repo_asset("clicks", endpoint=pandora_conn.url)
    op = LocalFilesystemToPandoraOperator(
        task_id="load", source_path=str(tmp_path / "*.jsonl"), repo="clicks", on_bad_line="skip", outlets=[asset]
    )
    events = _outlet_events()
    result = op.execute({"outlet_events": events})  # type: ignore[arg-type]
    namespace = f"pandora://{pandora_conn.url.removeprefix('http://')}"

    lineage = op.get_openlineage_facets_on_complete(None)
    assert lineage.inputs == [Dataset(namespace="file", name=str(path)) for path in files]
    assert lineage.outputs == [
        OutputDataset(
            namespace=namespace,
            name="clicks",
            outputFacets={"outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=12, size=result["bytes"])},
        )
    ]
    facet = lineage.run_facets["pandora_transfer"]
    assert (facet.points, facet.badLines, facet.sources, facet.batches) == (12, 1, 3, result["batches"])
    assert events[asset].extra == {
        "points": 12,
        "bytes": result["bytes"],
        "batches": result["batches"],
        "bad_lines": 1,
        "sources": 3,
        "source": f"file://{tmp_path}",
    }


def test_a_failed_transfer_reports_what_it_listed_without_counts(pandora_conn: PandoraEmulator, tmp_path: Path) -> None:
    PandoraHook().create_repo("clicks", schema=SCHEMA)
    files = _files(tmp_path)
    op = LocalFilesystemToPandoraOperator(task_id="load", source_path=str(tmp_path), repo="clicks")
    with pytest.raises(Exception, match="part-1"):  # the bad line fails the task (on_bad_line="fail")
        op.execute({})  # type: ignore[arg-type]
    lineage = op.get_openlineage_facets_on_complete(None)
    assert [d.name for d in lineage.inputs] == [str(path) for path in files]
    assert [(d.name, d.outputFacets) for d in lineage.outputs] == [("clicks", {})]
    assert lineage.run_facets == {}


def test_hook_lineage_of_a_push_and_a_transfer(pandora_conn: PandoraEmulator, tmp_path: Path, collector: Any) -> None:  # noqa: F811
    hook = PandoraHook()
    hook.create_repo("clicks", schema=SCHEMA)
    hook.push_data("clicks", [{"user": "ann", "hits": 1}])
    files = _files(tmp_path)
    LocalFilesystemToPandoraOperator(
        task_id="load", source_path=str(tmp_path), repo="clicks", on_bad_line="skip"
    ).execute({})  # type: ignore[arg-type]
    collected = collector.collected_assets
    uri = f"pandora://{pandora_conn.url.removeprefix('http://')}/clicks"
    assert [o.asset.uri for o in collected.outputs] == [uri, uri]  # the push's hook, then the transfer's
    assert [i.asset.uri for i in collected.inputs] == [f"file://{path}" for path in files]
