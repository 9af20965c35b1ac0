"""Transform operators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.providers.common.compat.sdk import Context

from airflow_provider_pandora.operators.base import PandoraBaseOperator, PandoraCreateOperator, PandoraDeleteOperator


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
        return {"repo": self.repo, "dest_repo": self.dest_repo, **result}


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
        self.hook.update_transform(
            self.repo,
            self.transform,
            code=self.code,
            plugin=self.plugin,
            interval=self.interval,
            container=self.container,
        )
        self.log_done(f"updated transform {self.transform!r} of repo {self.repo!r}")
        return {"repo": self.repo, "transform": self.transform, "action": "updated"}


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
