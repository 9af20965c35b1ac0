"""Export operators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import Context

from airflow_provider_pandora import lineage
from airflow_provider_pandora.operators.base import PandoraBaseOperator, PandoraCreateOperator, PandoraDeleteOperator

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage


def export_lineage(
    op: PandoraBaseOperator, repo: str, export_type: str | None, spec: Mapping[str, Any]
) -> OperatorLineage:
    """The exported repo in; its destination out, named by type (``lineage.export_dataset``)."""
    config = op.hook.config
    destination = lineage.export_dataset(config, export_type, spec) if isinstance(spec, Mapping) else None
    return lineage.operator_lineage([lineage.repo_dataset(config, repo)], [destination] if destination else [])


class PandoraCreateExportOperator(PandoraCreateOperator):
    """Create an export of ``repo`` (``if_exists="update"`` replaces its spec)."""

    resource = "export"
    template_fields: Sequence[str] = ("pandora_conn_id", "repo", "export", "export_type", "spec", "whence")

    def __init__(
        self,
        *,
        repo: str,
        export: str,
        export_type: str,
        spec: Mapping[str, Any],
        whence: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.repo = repo
        self.export = export
        self.export_type = export_type
        self.spec = spec
        self.whence = whence

    def execute(self, context: Context) -> dict[str, Any]:
        """Create (or, per ``if_exists``, update) the export; returns ``{"repo", "export", "action"}`` to XCom."""
        self.check_outlets()
        result = self.create_or_update(
            self.export,
            lambda: self.hook.create_export(
                self.repo, self.export, export_type=self.export_type, spec=self.spec, whence=self.whence
            ),
            lambda: self.hook.update_export(self.repo, self.export, spec=self.spec, export_type=self.export_type),
        )
        self._action = result["action"]
        return {"repo": self.repo, **result}

    _action: str | None = None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The repo in, the export's destination out; empty if the export already existed."""
        if self._action not in ("created", "updated"):
            return lineage.empty_lineage()
        return export_lineage(self, self.repo, self.export_type, self.spec)


class PandoraUpdateExportOperator(PandoraBaseOperator):
    """Replace an export's spec (checked locally when ``export_type`` is given)."""

    template_fields: Sequence[str] = ("pandora_conn_id", "repo", "export", "spec", "export_type")

    def __init__(
        self, *, repo: str, export: str, spec: Mapping[str, Any], export_type: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.repo = repo
        self.export = export
        self.spec = spec
        self.export_type = export_type

    def execute(self, context: Context) -> dict[str, Any]:
        """Update the export's spec; returns ``{"repo", "export", "action": "updated"}`` to XCom."""
        self.check_outlets()
        self.hook.update_export(self.repo, self.export, spec=self.spec, export_type=self.export_type)
        self.log_done(f"updated export {self.export!r} of repo {self.repo!r}")
        self._updated = True
        return {"repo": self.repo, "export": self.export, "action": "updated"}

    _updated = False

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The repo in; the destination out when ``export_type`` says how to read the spec."""
        if not self._updated:
            return lineage.empty_lineage()
        return export_lineage(self, self.repo, self.export_type, self.spec)


class PandoraDeleteExportOperator(PandoraDeleteOperator):
    """Delete an export; a missing one is fine unless ``if_missing="fail"``."""

    resource = "export"
    template_fields: Sequence[str] = ("pandora_conn_id", "repo", "export")

    def __init__(self, *, repo: str, export: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repo = repo
        self.export = export

    def execute(self, context: Context) -> dict[str, Any]:
        """Delete the export; returns ``{"repo", "export", "deleted"}`` to XCom (``deleted`` false if missing)."""
        return {"repo": self.repo, **self.delete(self.export, lambda: self.hook.delete_export(self.repo, self.export))}
