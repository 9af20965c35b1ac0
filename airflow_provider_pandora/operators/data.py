"""Push points to a repo."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import Context

from airflow_provider_pandora import lineage
from airflow_provider_pandora.exceptions import PandoraValidationError
from airflow_provider_pandora.operators.base import PandoraBaseOperator
from airflow_provider_pandora.params import parse_json_param

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage


class PandoraPushDataOperator(PandoraBaseOperator):
    """Push a list of dicts (literal, templated, or an XCom) to a repo.

    Points are validated against the repo schema (or ``schema``) and split into < 2 MiB batches by
    the shared wire-format encoder; a bad point fails before anything is sent, naming its index and field.
    """

    template_fields: Sequence[str] = ("pandora_conn_id", "repo", "points", "schema")

    def __init__(
        self,
        *,
        repo: str,
        points: Sequence[Mapping[str, Any]] | str,
        schema: Sequence[Mapping[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.repo = repo
        self.points = points
        self.schema = schema

    def _points(self) -> list[Mapping[str, Any]]:
        points: Any = parse_json_param(self.points, "points")  # a rendered "{{ ti.xcom_pull(...) | tojson }}"
        if isinstance(points, Mapping):
            points = [points]
        if not isinstance(points, Sequence) or not all(isinstance(p, Mapping) for p in points):
            raise PandoraValidationError("points", "must be a list of dicts")
        return list(points)

    def execute(self, context: Context) -> dict[str, Any]:
        """Push the points; returns ``{"repo", "points", "bytes", "batches"}`` to XCom."""
        self.check_outlets()
        result = self.hook.push_data(self.repo, self._points(), schema=self.schema)
        self._pushed = result.to_dict()
        self.log.info(
            "pushed %d points (%d bytes, %d batches) to repo %r; reqids %s",
            result.points,
            result.bytes,
            result.batches,
            self.repo,
            ", ".join(result.reqids) or "-",
        )
        self.emit_outlet_events(context, [self.repo], **self._pushed)
        return {"repo": self.repo, **self._pushed}

    _pushed: dict[str, Any] | None = None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """The repo as the output, with the points (rows) and bytes pushed."""
        if not self._pushed:
            return lineage.empty_lineage()
        output = lineage.repo_dataset(
            self.hook.config, self.repo, rows=self._pushed["points"], size=self._pushed["bytes"], output=True
        )
        return lineage.operator_lineage([], [output])
