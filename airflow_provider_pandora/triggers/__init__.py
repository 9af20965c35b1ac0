"""Deferrable triggers: one event per wait, primitives-only kwargs."""

from airflow_provider_pandora.triggers.groups import PandoraGroupStatusTrigger
from airflow_provider_pandora.triggers.jobs import PandoraJobTrigger

__all__ = ["PandoraGroupStatusTrigger", "PandoraJobTrigger"]
