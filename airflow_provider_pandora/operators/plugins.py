"""Plugin upload."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.common.compat.sdk import Context

from airflow_provider_pandora.operators.base import PandoraCreateOperator


class PandoraUploadPluginOperator(PandoraCreateOperator):
    """Upload a plugin jar from ``jar_path`` (``if_exists="update"`` replaces the stored jar)."""

    resource = "plugin"
    template_fields: Sequence[str] = ("pandora_conn_id", "plugin", "jar_path")

    def __init__(self, *, plugin: str, jar_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plugin = plugin
        self.jar_path = jar_path

    def _replace(self) -> None:
        self.hook.delete_plugin(self.plugin)
        self.hook.upload_plugin(self.plugin, self.jar_path)

    def execute(self, context: Context) -> dict[str, Any]:
        """Upload the jar (``if_exists="update"`` deletes and re-uploads); returns ``{"plugin", "action"}`` to XCom."""
        return self.create_or_update(
            self.plugin, lambda: self.hook.upload_plugin(self.plugin, self.jar_path), self._replace
        )
