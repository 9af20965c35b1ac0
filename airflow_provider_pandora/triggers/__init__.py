"""Deferrable triggers (one event per wait) and the AssetWatcher trigger; primitives-only kwargs."""

from airflow_provider_pandora.triggers.events import PandoraJobRunEventTrigger
from airflow_provider_pandora.triggers.groups import PandoraGroupStatusTrigger
from airflow_provider_pandora.triggers.jobs import PandoraJobTrigger

__all__ = ["PandoraGroupStatusTrigger", "PandoraJobRunEventTrigger", "PandoraJobTrigger"]
