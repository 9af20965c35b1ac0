"""Transform operators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import Context

from airflow_provider_pandora import lineage
from airflow_provider_pandora.operators.base import PandoraBaseOperator, PandoraCreateOperator, PandoraDeleteOperator

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage


def sql_lineage(op: PandoraBaseOperator, repo: str, code: str | None, dest_repo: str | None) -> OperatorLineage:
    """Inputs parsed from the SQL (``stream`` is ``repo``; ``repo`` always), ``dest_repo`` out, the SQL facet."""
    config = op.hook.config
    inputs = [lineage.repo_dataset(config, name) for name in lineage.sql_input_repos(code, repo)]
    outputs = [lineage.repo_dataset(config, dest_repo, output=True)] if dest_repo else []
    return lineage.operator_lineage(inputs, outputs, job_facets=lineage.sql_job_facets(code))


def sql_start_lineage(code: str | None) -> OperatorLineage:
    """On START the SQL facet alone (Marquez reads the job's first context only; datasets come on COMPLETE)."""
    return lineage.operator_lineage(job_facets=lineage.sql_job_facets(code))


class PandoraCreateTransformOperator(PandoraCreateOperator):
    """Create a SQL or plugin transform from ``repo`` into ``dest_repo`` (``if_exists="update"`` updates it)."""

    resource = "transform"
    template_fields: Sequence[str] = (
        "pandora_conn_id",
        "repo",
        "transform",
        "dest_repo",
        "code",
        "mode",
        "plugin",
        "interval",
        "container",
        "whence",
    )
    template_fields_renderers = {"code": "sql"}

    def __init__(
        self,
        *,
        repo: str,
        transform: str,
        dest_repo: str,
        code: str | None = None,
        mode: str | None = "sql",
        plugin: Mapping[str, Any] | None = None,
        interval: str | None = None,
        container: Mapping[str, Any] | None = None,
        whence: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.repo = repo
        self.transform = transform
        self.dest_repo = dest_repo
        self.code = code
        self.mode = mode
        self.plugin = plugin
        self.interval = interval
        self.container = container
        self.whence = whence

    def execute(self, context: Context) -> dict[str, Any]:
        """Create (or, per ``if_exists``, update) the transform.

        Returns ``{"repo", "dest_repo", "transform", "action"}`` to XCom.
        """
        self.check_outlets()
        result = self.create_or_update(
            self.transform,
            lambda: self.hook.create_transform(
                self.repo,
                self.transform,
                self.dest_repo,
                code=self.code,
                mode=self.mode,
                plugin=self.plugin,
                interval=self.interval,
                container=self.container,
                whence=self.whence,
            ),
            lambda: self.hook.update_transform(
                self.repo,
                self.transform,
                code=self.code,
                plugin=self.plugin,
                interval=self.interval,
                container=self.container,
            ),
        )
        self._action = result["action"]
        self.emit_outlet_events(
            context, [self.dest_repo], transform=self.transform, source_repo=self.repo, action=self._action
        )
        return {"repo": self.repo, "dest_repo": self.dest_repo, **result}

    _action: str | None = None

    def get_openlineage_facets_on_start(self) -> OperatorLineage:
        """The SQL, before anything runs."""
        return sql_start_lineage(self.code)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The repos the SQL reads, ``dest_repo`` written, the SQL; empty if the transform already existed."""
        if self._action not in ("created", "updated"):
            return lineage.empty_lineage()
        return sql_lineage(self, self.repo, self.code, self.dest_repo)


class PandoraUpdateTransformOperator(PandoraBaseOperator):
    """Change a transform's code/plugin, interval or container."""

    template_fields: Sequence[str] = ("pandora_conn_id", "repo", "transform", "code", "plugin", "interval", "container")
    template_fields_renderers = {"code": "sql"}

    def __init__(
        self,
        *,
        repo: str,
        transform: str,
        code: str | None = None,
        plugin: Mapping[str, Any] | None = None,
        interval: str | None = None,
        container: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.repo = repo
        self.transform = transform
        self.code = code
        self.plugin = plugin
        self.interval = interval
        self.container = container

    def execute(self, context: Context) -> dict[str, Any]:
        """Update the transform's code, plugin, interval or container; returns ``{"repo", "transform", "action"}``."""
        self.check_outlets()
        self.hook.update_transform(
            self.repo,
            self.transform,
            code=self.code,
            plugin=self.plugin,
            interval=self.interval,
            container=self.container,
        )
        self.log_done(f"updated transform {self.transform!r} of repo {self.repo!r}")
        self._updated = True
        self.emit_outlet_events(context, None, transform=self.transform, source_repo=self.repo, action="updated")
        return {"repo": self.repo, "transform": self.transform, "action": "updated"}

    _updated = False

    def get_openlineage_facets_on_start(self) -> OperatorLineage:
        """The new SQL, when it changes, before anything runs."""
        return sql_start_lineage(self.code)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The repos the new SQL reads and the SQL (the update does not name the destination, so no output)."""
        if not self._updated:
            return lineage.empty_lineage()
        return sql_lineage(self, self.repo, self.code, None)


class PandoraDeleteTransformOperator(PandoraDeleteOperator):
    """Delete a transform; a missing one is fine unless ``if_missing="fail"``."""

    resource = "transform"
    template_fields: Sequence[str] = ("pandora_conn_id", "repo", "transform")

    def __init__(self, *, repo: str, transform: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repo = repo
        self.transform = transform

    def execute(self, context: Context) -> dict[str, Any]:
        """Delete the transform; returns ``{"repo", "transform", "deleted"}`` to XCom (false if it was missing)."""
        return {
            "repo": self.repo,
            **self.delete(self.transform, lambda: self.hook.delete_transform(self.repo, self.transform)),
        }
