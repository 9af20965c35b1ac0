"""Sensors for job runs and group status (poke, reschedule or deferrable)."""

from airflow_provider_pandora.sensors.groups import PandoraGroupStatusSensor
from airflow_provider_pandora.sensors.jobs import PandoraJobSensor

__all__ = ["PandoraGroupStatusSensor", "PandoraJobSensor"]
