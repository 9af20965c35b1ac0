"""Operators for every mutating Pandora call, importable from this package."""

from airflow_provider_pandora.operators.data import PandoraPushDataOperator
from airflow_provider_pandora.operators.exports import (
    PandoraCreateExportOperator,
    PandoraDeleteExportOperator,
    PandoraUpdateExportOperator,
)
from airflow_provider_pandora.operators.groups import (
    PandoraCreateGroupOperator,
    PandoraDeleteGroupOperator,
    PandoraStartGroupOperator,
    PandoraStopGroupOperator,
    PandoraUpdateGroupOperator,
)
from airflow_provider_pandora.operators.jobs import (
    PandoraStartJobOperator,
    PandoraStopJobOperator,
    PandoraSubmitJobOperator,
)
from airflow_provider_pandora.operators.plugins import PandoraUploadPluginOperator
from airflow_provider_pandora.operators.repos import (
    PandoraCreateRepoOperator,
    PandoraDeleteRepoOperator,
    PandoraUpdateRepoOperator,
)
from airflow_provider_pandora.operators.transforms import (
    PandoraCreateTransformOperator,
    PandoraDeleteTransformOperator,
    PandoraUpdateTransformOperator,
)

__all__ = [
    "PandoraCreateExportOperator",
    "PandoraCreateGroupOperator",
    "PandoraCreateRepoOperator",
    "PandoraCreateTransformOperator",
    "PandoraDeleteExportOperator",
    "PandoraDeleteGroupOperator",
    "PandoraDeleteRepoOperator",
    "PandoraDeleteTransformOperator",
    "PandoraPushDataOperator",
    "PandoraStartGroupOperator",
    "PandoraStartJobOperator",
    "PandoraStopGroupOperator",
    "PandoraStopJobOperator",
    "PandoraSubmitJobOperator",
    "PandoraUpdateExportOperator",
    "PandoraUpdateGroupOperator",
    "PandoraUpdateRepoOperator",
    "PandoraUpdateTransformOperator",
    "PandoraUploadPluginOperator",
]
