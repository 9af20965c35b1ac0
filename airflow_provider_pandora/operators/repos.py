"""Repo operators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import Context

from airflow_provider_pandora import lineage
from airflow_provider_pandora.operators.base import PandoraBaseOperator, PandoraCreateOperator, PandoraDeleteOperator

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage


def _repo_output(op: PandoraBaseOperator, repo: str, schema: Any, change: str) -> Any:
    """The repo as an output dataset with its schema and the lifecycle change (CREATE, ALTER or DROP)."""
    from airflow.providers.common.compat.openlineage.facet import (
        LifecycleStateChange,
        LifecycleStateChangeDatasetFacet,
    )

    facets: dict[str, Any] = {
        "lifecycleStateChange": LifecycleStateChangeDatasetFacet(lifecycleStateChange=LifecycleStateChange[change])
    }
    if schema is not None:
        facets["schema"] = lineage.schema_facet(schema)
    return lineage.repo_dataset(op.hook.config, repo, facets=facets, output=True)


class PandoraCreateRepoOperator(PandoraCreateOperator):
    """Create a realtime repo, or a ``kodo`` repo over Kodo files (``if_exists="update"`` replaces the schema)."""

    resource = "repo"
    template_fields: Sequence[str] = (
        "pandora_conn_id",
        "repo",
        "schema",
        "region",
        "group",
        "repo_type",
        "bucket",
        "key_prefix",
        "file_type",
    )

    def __init__(
        self,
        *,
        repo: str,
        schema: Sequence[Mapping[str, Any]],
        region: str | None = None,
        group: str | None = None,
        repo_type: str | None = None,
        bucket: str | None = None,
        key_prefix: str | None = None,
        file_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.repo = repo
        self.schema = schema
        self.region = region
        self.group = group
        self.repo_type = repo_type
        self.bucket = bucket
        self.key_prefix = key_prefix
        self.file_type = file_type

    def execute(self, context: Context) -> dict[str, Any]:
        """Create (or, per ``if_exists``, extend the schema of) the repo; returns ``{"repo", "action"}`` to XCom."""
        self.check_outlets()
        self._result = self.create_or_update(
            self.repo,
            lambda: self.hook.create_repo(
                self.repo,
                schema=self.schema,
                region=self.region,
                group=self.group or None,
                repo_type=self.repo_type or None,
                bucket=self.bucket or None,
                key_prefix=self.key_prefix,
                file_type=self.file_type or None,
            ),
            lambda: self.hook.update_repo(self.repo, schema=self.schema),
        )
        self.emit_outlet_events(context, [self.repo], action=self._result["action"])
        return self._result

    _result: dict[str, Any] | None = None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The repo with its schema (CREATE or ALTER); a ``kodo`` repo reads its files. Empty if it existed."""
        action = (self._result or {}).get("action")
        if action not in ("created", "updated"):
            return lineage.empty_lineage()
        inputs = []
        if self.repo_type == "kodo" and self.bucket:
            inputs = lineage.source_datasets([f"kodo://{self.bucket}/{self.key_prefix or ''}"])
        output = _repo_output(self, self.repo, self.schema, "CREATE" if action == "created" else "ALTER")
        return lineage.operator_lineage(inputs, [output])


class PandoraUpdateRepoOperator(PandoraBaseOperator):
    """Replace a repo's schema (the service only allows adding fields)."""

    template_fields: Sequence[str] = ("pandora_conn_id", "repo", "schema")

    def __init__(self, *, repo: str, schema: Sequence[Mapping[str, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repo = repo
        self.schema = schema

    def execute(self, context: Context) -> dict[str, Any]:
        """Extend the repo's schema (fields can only be added); returns ``{"repo", "action": "updated"}`` to XCom."""
        self.check_outlets()
        self.hook.update_repo(self.repo, schema=self.schema)
        self.log_done(f"updated schema of repo {self.repo!r}")
        self._updated = True
        self.emit_outlet_events(context, [self.repo], action="updated")
        return {"repo": self.repo, "action": "updated"}

    _updated = False

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The repo with its new schema (ALTER)."""
        if not self._updated:
            return lineage.empty_lineage()
        return lineage.operator_lineage([], [_repo_output(self, self.repo, self.schema, "ALTER")])


class PandoraDeleteRepoOperator(PandoraDeleteOperator):
    """Delete a repo; a missing repo is fine unless ``if_missing="fail"``."""

    resource = "repo"
    template_fields: Sequence[str] = ("pandora_conn_id", "repo")

    def __init__(self, *, repo: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repo = repo

    def execute(self, context: Context) -> dict[str, Any]:
        """Delete the repo; returns ``{"repo", "deleted"}`` to XCom (``deleted`` false if it was missing)."""
        self._result = self.delete(self.repo, lambda: self.hook.delete_repo(self.repo))
        return self._result

    _result: dict[str, Any] | None = None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The repo, dropped (DROP); empty when there was nothing to delete."""
        if not (self._result or {}).get("deleted"):
            return lineage.empty_lineage()
        return lineage.operator_lineage([], [_repo_output(self, self.repo, None, "DROP")])
