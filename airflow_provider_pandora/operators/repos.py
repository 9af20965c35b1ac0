"""Repo operators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.providers.common.compat.sdk import Context

from airflow_provider_pandora.operators.base import PandoraBaseOperator, PandoraCreateOperator, PandoraDeleteOperator


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
        return self.create_or_update(
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


class PandoraUpdateRepoOperator(PandoraBaseOperator):
    """Replace a repo's schema (the service only allows adding fields)."""

    template_fields: Sequence[str] = ("pandora_conn_id", "repo", "schema")

    def __init__(self, *, repo: str, schema: Sequence[Mapping[str, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repo = repo
        self.schema = schema

    def execute(self, context: Context) -> dict[str, Any]:
        """Extend the repo's schema (fields can only be added); returns ``{"repo", "action": "updated"}`` to XCom."""
        self.hook.update_repo(self.repo, schema=self.schema)
        self.log_done(f"updated schema of repo {self.repo!r}")
        return {"repo": self.repo, "action": "updated"}


class PandoraDeleteRepoOperator(PandoraDeleteOperator):
    """Delete a repo; a missing repo is fine unless ``if_missing="fail"``."""

    resource = "repo"
    template_fields: Sequence[str] = ("pandora_conn_id", "repo")

    def __init__(self, *, repo: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repo = repo

    def execute(self, context: Context) -> dict[str, Any]:
        """Delete the repo; returns ``{"repo", "deleted"}`` to XCom (``deleted`` false if it was missing)."""
        return self.delete(self.repo, lambda: self.hook.delete_repo(self.repo))
