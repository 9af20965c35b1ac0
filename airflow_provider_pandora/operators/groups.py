"""Resource group operators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.providers.common.compat.sdk import Context

from airflow_provider_pandora.operators.base import PandoraBaseOperator, PandoraCreateOperator, PandoraDeleteOperator
from airflow_provider_pandora.params import parse_bool_param


class PandoraCreateGroupOperator(PandoraCreateOperator):
    """Create a resource group (``if_exists="update"`` resizes its container)."""

    resource = "group"
    template_fields: Sequence[str] = ("pandora_conn_id", "group", "container", "region", "allocate_on_start")

    def __init__(
        self,
        *,
        group: str,
        container: Mapping[str, Any],
        region: str | None = None,
        allocate_on_start: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.group = group
        self.container = container
        self.region = region
        self.allocate_on_start = allocate_on_start

    def execute(self, context: Context) -> dict[str, Any]:
        """Create (or, per ``if_exists``, update) the group; returns ``{"group", "action"}`` to XCom."""
        return self.create_or_update(
            self.group,
            lambda: self.hook.create_group(
                self.group,
                container=self.container,
                region=self.region,
                allocate_on_start=parse_bool_param(self.allocate_on_start, "allocate_on_start"),
            ),
            lambda: self.hook.update_group(self.group, container=self.container),
        )


class PandoraUpdateGroupOperator(PandoraBaseOperator):
    """Change a group's container (type and count)."""

    template_fields: Sequence[str] = ("pandora_conn_id", "group", "container")

    def __init__(self, *, group: str, container: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.group = group
        self.container = container

    def execute(self, context: Context) -> dict[str, Any]:
        """Change the group's container; returns ``{"group", "action": "updated"}`` to XCom."""
        self.hook.update_group(self.group, container=self.container)
        self.log_done(f"updated group {self.group!r}")
        return {"group": self.group, "action": "updated"}


class PandoraStartGroupOperator(PandoraBaseOperator):
    """Start a group (allocate its containers); use :class:`PandoraGroupStatusSensor` to wait for ``running``."""

    template_fields: Sequence[str] = ("pandora_conn_id", "group")

    def __init__(self, *, group: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.group = group

    def execute(self, context: Context) -> dict[str, Any]:
        """Start the group's containers; returns ``{"group", "action": "started"}`` to XCom."""
        self.hook.start_group(self.group)
        self.log_done(f"started group {self.group!r}")
        return {"group": self.group, "action": "started"}


class PandoraStopGroupOperator(PandoraBaseOperator):
    """Stop a group (release its containers)."""

    template_fields: Sequence[str] = ("pandora_conn_id", "group")

    def __init__(self, *, group: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.group = group

    def execute(self, context: Context) -> dict[str, Any]:
        """Stop the group's containers; returns ``{"group", "action": "stopped"}`` to XCom."""
        self.hook.stop_group(self.group)
        self.log_done(f"stopped group {self.group!r}")
        return {"group": self.group, "action": "stopped"}


class PandoraDeleteGroupOperator(PandoraDeleteOperator):
    """Delete a group; a missing group is fine unless ``if_missing="fail"``."""

    resource = "group"
    template_fields: Sequence[str] = ("pandora_conn_id", "group")

    def __init__(self, *, group: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.group = group

    def execute(self, context: Context) -> dict[str, Any]:
        """Delete the group; returns ``{"group", "deleted"}`` to XCom (``deleted`` false if it was missing)."""
        return self.delete(self.group, lambda: self.hook.delete_group(self.group))
